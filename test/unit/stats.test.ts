/**
 * src/analysis/stats.ts against scipy (fixtures made by test/fixtures/stats/make.py), and the
 * properties a rollout relies on: identical control and treatment rarely fail (A/A), and a
 * real regression at a small traffic share is found within a stated number of samples.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compareSamples, describeComparison, mannWhitneyU, normalQuantile, normalSf, type CompareSpec } from '../../src/analysis/stats.js';
import { rng } from '../fixtures/stats/rng.js';

interface Case {
  name: string;
  x: number[];
  y: number[];
  alternative: 'two-sided' | 'greater' | 'less';
  method: 'auto' | 'exact' | 'asymptotic';
  continuity: boolean;
  statistic: number;
  pvalue: number;
}
const fixtureDir = new URL('../fixtures/stats/', import.meta.url);
const mwu = JSON.parse(readFileSync(new URL('mannwhitneyu.json', fixtureDir), 'utf8')) as { scipy: string; cases: Case[] };
const normal = JSON.parse(readFileSync(new URL('normal.json', fixtureDir), 'utf8')) as { sf: Array<[number, number]>; ppf: Array<[number, number]> };

const close = (got: number, want: number, rel: number, abs = 1e-300) => Math.abs(got - want) <= Math.max(abs, rel * Math.abs(want));

describe(`Mann-Whitney U matches scipy ${mwu.scipy}`, () => {
  it('has fixtures covering exact, asymptotic, ties, both alternatives and continuity off', () => {
    expect(mwu.cases.length).toBeGreaterThanOrEqual(60);
    expect(new Set(mwu.cases.map((c) => c.alternative))).toEqual(new Set(['two-sided', 'greater', 'less']));
    expect(mwu.cases.some((c) => c.method === 'exact')).toBe(true);
    expect(mwu.cases.some((c) => !c.continuity)).toBe(true);
    expect(mwu.cases.some((c) => c.name.startsWith('ties'))).toBe(true);
  });
  it.each(mwu.cases.map((c) => [`${c.name} · ${c.alternative} · ${c.method}${c.continuity ? '' : ' · no continuity'}`, c] as const))('%s', (_, c) => {
    const r = mannWhitneyU(c.x, c.y, { alternative: c.alternative, method: c.method, continuity: c.continuity });
    expect(r.u1).toBe(c.statistic);
    // Relative 1e-9 everywhere (p-values down to ~1e-40 in the large shifted case).
    expect(close(r.p, c.pvalue, 1e-9), `p ${r.p} vs scipy ${c.pvalue}`).toBe(true);
  });
  it('refuses empty samples and NaN', () => {
    expect(() => mannWhitneyU([], [1])).toThrow(/at least one/);
    expect(() => mannWhitneyU([1, NaN], [1, 2])).toThrow(/NaN/);
  });
});

describe('normal distribution matches scipy.stats.norm', () => {
  it.each(normal.sf)('sf(%d)', (z, want) => expect(close(normalSf(z), want, 1e-12)).toBe(true));
  it.each(normal.ppf)('ppf(%d)', (p, want) => expect(close(normalQuantile(p), want, 1e-9)).toBe(true));
});

const spec = (over: Partial<CompareSpec> = {}): CompareSpec => ({ test: 'mann-whitney', confidence: 0.95, tolerance: 0, direction: 'higher-is-bad', minSamples: 20, ...over });
const draw = (r: ReturnType<typeof rng>, n: number, scale = 1) => Array.from({ length: n }, () => r.lognormal(100 * scale, 0.5));

describe('compareSamples: verdicts', () => {
  const r = rng(7);
  const control = draw(r, 400);
  const same = draw(r, 400);
  const worse = draw(r, 400, 1.3);
  const better = draw(r, 400, 0.7);

  it('too few samples: inconclusive, with both counts', () => {
    const c = compareSamples(control.slice(0, 10), worse.slice(0, 5), spec());
    expect(c.verdict).toBe('inconclusive');
    expect(c.why).toMatch(/control 10, treatment 5, need 20/);
  });
  it('a 30 % regression: fail, with n, effect interval and p in the record', () => {
    const c = compareSamples(control, worse, spec({ tolerance: 0.1 }));
    expect(c.verdict).toBe('fail');
    expect(c.nControl).toBe(400);
    expect(c.nTreatment).toBe(400);
    expect(c.effect.estimate).toBeGreaterThan(0.2);
    expect(c.effect.low).toBeLessThan(c.effect.estimate);
    expect(c.effect.high).toBeGreaterThan(c.effect.estimate);
    expect(c.p).toBeLessThan(0.001);
    expect(describeComparison('p99 latency', c)).toMatch(/^p99 latency \+\d+(\.\d+)? % ± \d+(\.\d+)? % vs control \(n 400 \/ 400\), 95 % confidence: regression/);
  });
  it('the same 30 % change is fine when lower is bad, and an improvement is a pass', () => {
    expect(compareSamples(control, worse, spec({ direction: 'lower-is-bad' })).verdict).toBe('pass');
    expect(compareSamples(control, better, spec()).verdict).toBe('pass');
    expect(compareSamples(control, better, spec({ direction: 'lower-is-bad', tolerance: 0.1 })).verdict).toBe('fail');
  });
  it('a regression within the tolerance passes (real, but tolerated)', () => {
    const c = compareSamples(control, worse, spec({ tolerance: 0.6 }));
    expect(c.verdict).toBe('pass');
    expect(c.why).toMatch(/no regression beyond the 60 % tolerance/);
  });
  it('identical distributions pass', () => {
    expect(compareSamples(control, same, spec({ tolerance: 0.1 })).verdict).toBe('pass');
    expect(compareSamples(control, same, spec({ test: 'sequential', tolerance: 0.1 })).verdict).toBe('pass');
  });
  it('sequential: a 30 % regression fails with the likelihood ratio past 1/α', () => {
    const c = compareSamples(control, worse, spec({ test: 'sequential', tolerance: 0.1 }));
    expect(c.verdict).toBe('fail');
    expect(c.lambda).toBeGreaterThanOrEqual(c.bound!);
    expect(c.bound).toBeCloseTo(20);
    expect(c.p).toBeLessThan(0.05);
  });
  it('an effect that looks bad on a few samples is inconclusive, not a pass', () => {
    const c = compareSamples(control.slice(0, 25), worse.slice(0, 25), spec({ test: 'sequential', tolerance: 0.05, minSamples: 20 }));
    expect(c.verdict).toBe('inconclusive');
  });
});

describe('A/A: identical control and treatment, 1,000 seeded runs each', () => {
  const runs = 1000;
  const aa = (s: CompareSpec, seed: number) => {
    const r = rng(seed);
    let fails = 0;
    for (let i = 0; i < runs; i++) if (compareSamples(draw(r, 200), draw(r, 200), s).verdict === 'fail') fails++;
    return fails / runs;
  };
  it.each([
    ['95 % confidence, 10 % tolerance', spec({ confidence: 0.95, tolerance: 0.1 })],
    ['98 % confidence, 5 % tolerance', spec({ confidence: 0.98, tolerance: 0.05 })],
    ['98 % confidence, 25 % tolerance (Kayenta\'s defaults)', spec({ confidence: 0.98, tolerance: 0.25 })],
  ] as const)('mann-whitney, one look at 200 per side, %s: false-alarm rate ≤ 1 − confidence', (_, s) => {
    expect(aa(s, 1234)).toBeLessThanOrEqual(1 - s.confidence);
  });
  it('with no tolerance at all the U test is an exact-size test: its rate is 1 − confidence within sampling noise', () => {
    // 1,000 runs: the binomial standard deviation at 5 % is 0.69 points; allow 3 of them.
    const rate = aa(spec({ confidence: 0.95, tolerance: 0 }), 1234);
    expect(rate).toBeGreaterThan(0.03);
    expect(rate).toBeLessThanOrEqual(0.05 + 3 * Math.sqrt((0.05 * 0.95) / runs));
  });
  it('sequential, judged after every 50 samples up to 2,000 per side (40 looks): false-alarm rate ≤ 5 %', () => {
    const r = rng(99);
    const s = spec({ test: 'sequential', confidence: 0.95, tolerance: 0.05, minSamples: 50 });
    let fails = 0;
    for (let i = 0; i < runs; i++) {
      const c: number[] = [];
      const t: number[] = [];
      for (let look = 0; look < 40; look++) {
        c.push(...draw(r, 50));
        t.push(...draw(r, 50));
        if (compareSamples(c, t, s).verdict === 'fail') {
          fails++;
          break;
        }
      }
    }
    expect(fails / runs).toBeLessThanOrEqual(0.05);
  });
  it('the same 40 looks with the fixed-horizon U test would alarm far more often (why `sequential` exists)', () => {
    const r = rng(99);
    const s = spec({ confidence: 0.95, tolerance: 0, minSamples: 50 });
    let fails = 0;
    for (let i = 0; i < 200; i++) {
      const c: number[] = [];
      const t: number[] = [];
      for (let look = 0; look < 40; look++) {
        c.push(...draw(r, 50));
        t.push(...draw(r, 50));
        if (compareSamples(c, t, s).verdict === 'fail') {
          fails++;
          break;
        }
      }
    }
    expect(fails / 200).toBeGreaterThan(0.1);
  });
});

describe('a planted 20 % latency regression at 5 % traffic', () => {
  // Traffic arrives in batches of 1,000 requests, 5 % of them to the treatment; the check looks
  // after every batch at everything since the step started (sequential test, 95 % confidence,
  // 5 % tolerance). Stated bound: found by 20,000 requests (1,000 treatment samples) in every
  // one of 200 seeded runs.
  it('is detected by the sequential test within 1,000 treatment samples in 200 of 200 runs', () => {
    const r = rng(2026);
    const s = spec({ test: 'sequential', confidence: 0.95, tolerance: 0.05, minSamples: 30 });
    const needed: number[] = [];
    for (let run = 0; run < 200; run++) {
      const c: number[] = [];
      const t: number[] = [];
      let found = -1;
      for (let batch = 0; batch < 20; batch++) {
        for (let k = 0; k < 1000; k++) {
          if (r.uniform() < 0.05) t.push(r.lognormal(120, 0.5));
          else c.push(r.lognormal(100, 0.5));
        }
        if (found < 0 && compareSamples(c, t, s).verdict === 'fail') {
          found = t.length;
          break;
        }
      }
      needed.push(found);
    }
    expect(needed.every((n) => n > 0 && n <= 1000)).toBe(true);
  });
});
