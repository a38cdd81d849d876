/**
 * Statistical checks (`compare:`) end to end in pure code: plan validation, the judge's
 * verdicts (inconclusive recorded as no-data so it never advances), every verdict's inputs in
 * the event log, the engine acting on a regression, the reader grouping series by a label,
 * and `simulate` running a plan with such checks.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { judge } from '../../src/analysis/judge.js';
import { createRun, tick } from '../../src/engine/engine.js';
import type { RangeSeries, MetricsProvider } from '../../src/adapters/types.js';
import { parsePlanText } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/model.js';
import { readCompare } from '../../src/runner/services.js';
import { scenarioSchema, simulatePlan } from '../../src/runner/simulate.js';
import { rng } from '../fixtures/stats/rng.js';

const T0 = Date.parse('2026-03-02T09:00:00Z');
const M = 60_000;

const planText = (check: string, extra = '') => `
name: ab
backend: { type: local, path: flags.json }
metrics: { prom: { type: prometheus, url: "http://127.0.0.1:9" } }
checks:
  - ${check}
phases:
  - { name: experiment, flags: [state_persistence], steps: [100], hold: 1h, variants: { control: 50, treatment: 50 } ${extra}}
`;
const load = async (check: string): Promise<Plan> => (await parsePlanText(planText(check), join('/tmp', 'ab.yaml'), 'ab.yaml')).plan;
const P99 = `{ name: p99, provider: prom, query: 'latency_p99', compare: { splitBy: variant, test: mann-whitney, confidence: 0.98, tolerance: 0.1, minSamples: 30 }, noData: pause, tier: critical }`;

const r = rng(42);
const draw = (n: number, median: number) => Array.from({ length: n }, () => r.lognormal(median, 0.3));

describe('compare checks: validation', () => {
  it('accepts a split-by-label check and fills the defaults', async () => {
    const plan = await load(P99);
    expect(plan.phases[0]!.checks[0]!.compare).toEqual({ splitBy: 'variant', controlValue: 'control', test: 'mann-whitney', confidence: 0.98, tolerance: 0.1, direction: 'higher-is-bad', minSamples: 30, windowMs: 30 * M, stepMs: M });
  });
  it.each([
    [`{ name: x, provider: prom, query: q, compare: { test: sequential } }`, /compare needs either control \(a query\) or splitBy \(a label\), not neither/],
    [`{ name: x, provider: prom, query: q, max: 5, compare: { splitBy: variant } }`, /compare is a check of its own/],
    [`{ name: x, provider: prom, query: q, compare: { splitBy: variant, tolerance: 0 } }`, /tolerance/],
    [`{ name: x, provider: prom, query: q, compare: { control: c, requests: { query: r, min: 10000 } } }`, /requests needs a control query too/],
  ])('%s is refused', async (check, msg) => {
    const err = await load(check).catch((e: unknown) => e);
    expect(JSON.stringify(err) + String(err)).toMatch(msg);
  });
});

describe('compare checks: the judge', () => {
  const at = T0;
  it('a regression fails with every input recorded and the effect in words', async () => {
    const c = (await load(P99)).phases[0]!.checks[0]!;
    const rec = judge(c, { value: null, groups: { control: draw(60, 100), treatment: draw(60, 140) }, control: 'control' }, undefined, at);
    expect(rec.verdict).toBe('fail');
    expect(rec.breached).toBe(true);
    expect(rec.stats).toHaveLength(1);
    const s = rec.stats![0]!;
    expect(s).toMatchObject({ variant: 'treatment', verdict: 'fail', test: 'mann-whitney', nControl: 60, nTreatment: 60, confidence: 0.98, tolerance: 0.1 });
    expect(s.effect.estimate!).toBeGreaterThan(0.25);
    expect(s.effect.low!).toBeLessThan(s.effect.estimate!);
    expect(s.p!).toBeLessThan(0.02);
    expect(rec.value).toBeCloseTo(s.effect.estimate! * 100, 1);
    expect(rec.reason).toMatch(/^p99 \+\d+(\.\d+)? % ± \d+(\.\d+)? % vs control \(n 60 \/ 60\), 98 % confidence: regression/);
  });
  it('too few samples is inconclusive: recorded as no-data (never advances), with the counts', async () => {
    const c = (await load(P99)).phases[0]!.checks[0]!;
    const rec = judge(c, { value: null, groups: { control: draw(10, 100), treatment: draw(8, 100) }, control: 'control' }, undefined, at);
    expect(rec.verdict).toBe('no-data');
    expect(rec.inconclusive).toBe(true);
    expect(rec.noDataSince).toBe(at);
    expect(rec.reason).toMatch(/inconclusive — not enough samples: control 10, treatment 8, need 30 each/);
  });
  it('no control samples is plain no data', async () => {
    const c = (await load(P99)).phases[0]!.checks[0]!;
    const rec = judge(c, { value: null, groups: { treatment: draw(40, 100) }, control: 'control' }, undefined, at);
    expect(rec.verdict).toBe('no-data');
    expect(rec.inconclusive).toBeUndefined();
    expect(rec.reason).toMatch(/no samples for the control \(control\)/);
  });
  it('several variants: each against control, the worst counts', async () => {
    const c = (await load(P99)).phases[0]!.checks[0]!;
    const rec = judge(c, { value: null, groups: { control: draw(60, 100), auto: draw(60, 100), manual: draw(60, 150) }, control: 'control' }, undefined, at);
    expect(rec.verdict).toBe('fail');
    expect(rec.stats!.map((s) => [s.variant, s.verdict])).toEqual([
      ['auto', 'pass'],
      ['manual', 'fail'],
    ]);
    expect(rec.reason).toMatch(/p99 auto .*: ok .*; p99 manual .*: regression/);
  });
  it('too few requests (the requests query) is inconclusive even with enough samples', async () => {
    const c = (await load(`{ name: p99, provider: prom, query: 'latency_p99', compare: { splitBy: variant, minSamples: 30, requests: { query: reqs, min: 10000 } } }`)).phases[0]!.checks[0]!;
    const rec = judge(c, { value: null, groups: { control: draw(40, 100), treatment: draw(40, 100) }, control: 'control', counts: { control: 12000, treatment: 900 } }, undefined, at);
    expect(rec.inconclusive).toBe(true);
    expect(rec.stats![0]!.requests).toEqual({ control: 12000, treatment: 900, min: 10000 });
    expect(rec.reason).toMatch(/not enough requests: control 12000, treatment 900, need 10000 each/);
  });
});

describe('compare checks: the engine', () => {
  it('a regression rolls back, and the breach and verdict events carry the inputs', async () => {
    const plan = await load(P99);
    let d = createRun(plan, 'r1', T0);
    d = tick(plan, d.state, { checks: { p99: { value: null, groups: { control: draw(60, 100), treatment: draw(60, 150) }, control: 'control' } } }, T0 + M);
    const changed = d.events.find((e) => e.type === 'check.changed')!;
    expect(changed.data).toMatchObject({ check: 'p99', verdict: 'fail', stats: [{ variant: 'treatment', nControl: 60, nTreatment: 60 }] });
    const breach = d.events.find((e) => e.type === 'breach.detected')!;
    expect((breach.data as { stats: unknown[] }).stats).toHaveLength(1);
    expect(d.state.status).toBe('rolling-back');
  });
  it('inconclusive follows noData: pause here, and never advances', async () => {
    const plan = await load(P99);
    let d = createRun(plan, 'r1', T0);
    d = tick(plan, d.state, { checks: { p99: { value: null, groups: { control: draw(5, 100), treatment: draw(5, 100) }, control: 'control' } } }, T0 + M);
    expect(d.state.status).toBe('paused');
    expect(d.state.reason).toMatch(/check "p99" is inconclusive/);
    expect(d.state.pending.filter((a) => a.kind === 'apply-flags')).toEqual([]);
  });
});

describe('compare checks: sampling', () => {
  const series = (labels: Record<string, string>, values: Array<number | null>): RangeSeries => ({ labels, points: values.map((value, i) => ({ at: T0 + i * M, value })) });
  const provider = (answers: Record<string, RangeSeries[]>): MetricsProvider & { calls: Array<[string, number, number, number]> } => {
    const calls: Array<[string, number, number, number]> = [];
    return {
      name: 'fake',
      calls,
      query: async () => ({ value: null, at: 0 }),
      querySeries: async (q, s, e, step) => {
        calls.push([q, s, e, step]);
        return answers[q] ?? [];
      },
    };
  };
  it('splits one query by a label over the window; NaN points are dropped; requests are the newest value per group', async () => {
    const c = (await load(`{ name: p99, provider: prom, query: lat, compare: { splitBy: variant, window: 10m, step: 30s, requests: { query: reqs, min: 5 } } }`)).phases[0]!.checks[0]!;
    const p = provider({
      lat: [series({ variant: 'control' }, [1, 2, null, 3]), series({ variant: 'treatment' }, [4, 5]), series({ other: 'x' }, [9])],
      reqs: [series({ variant: 'control' }, [10, 20]), series({ variant: 'treatment' }, [3, 7])],
    });
    const obs = await readCompare(p, c, T0 + 10 * M);
    expect(obs).toEqual({ value: null, groups: { control: [1, 2, 3], treatment: [4, 5] }, control: 'control', counts: { control: 20, treatment: 7 } });
    expect(p.calls[0]).toEqual(['lat', T0, T0 + 10 * M, 30_000]);
  });
  it('two queries: treatment and control', async () => {
    const c = (await load(`{ name: p99, provider: prom, query: t, compare: { control: c } }`)).phases[0]!.checks[0]!;
    const obs = await readCompare(provider({ t: [series({}, [5, 6])], c: [series({}, [1])] }), c, T0);
    expect(obs.groups).toEqual({ control: [1], treatment: [5, 6] });
  });
  it('a provider without series is an error naming the ones that can', async () => {
    const c = (await load(P99)).phases[0]!.checks[0]!;
    const obs = await readCompare({ name: 'cmd', query: async () => ({ value: 1, at: 0 }) }, c, T0);
    expect(obs.error).toMatch(/cmd cannot give samples over a window \(compare needs prometheus or datadog\)/);
  });
});

describe('compare checks: simulate', () => {
  it('healthy: the experiment completes; a 40 % regression in the scenario rolls back', async () => {
    const plan = await load(P99);
    const ok = await simulatePlan(plan, { start: T0 });
    expect(ok.state.status).toBe('completed');
    const bad = await simulatePlan(plan, { start: T0, scenario: scenarioSchema.parse({ checks: { p99: 40 } }) });
    expect(bad.state.status).toBe('rolled-back');
    expect(bad.events.find((e) => e.type === 'breach.detected')!.msg).toMatch(/p99 \+40 % .* regression/);
  });
});
