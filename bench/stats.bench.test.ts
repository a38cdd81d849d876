/**
 * Figures for issue 14: statistical check evaluation (10,000 samples per side, goal < 10 ms),
 * A/A false-alarm rates and samples to detect a planted regression, and a backtest of 7 days ×
 * 5 checks at a 1-minute step against a real Prometheus holding that history (goal < 3 s).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { create } from '../src/adapters/metrics/prometheus.js';
import { judge } from '../src/analysis/judge.js';
import { compareSamples, type CompareSpec } from '../src/analysis/stats.js';
import { parsePlanText } from '../src/plan/load.js';
import { backtest } from '../src/runner/backtest.js';
import { rng } from '../test/fixtures/stats/rng.js';
import { startPrometheusWithHistory, type GaugeSeries } from '../test/services/history.js';
import type { Prometheus } from '../test/services/prometheus.js';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const M = 60_000;
const H = 60 * M;
const TO = Math.floor(Date.now() / H) * H - H;
const FROM = TO - 7 * 24 * H;

it('statistical evaluation: 10,000 samples per side', () => {
  const r = rng(1);
  const control = Array.from({ length: 10_000 }, () => r.lognormal(100, 0.5));
  const treatment = Array.from({ length: 10_000 }, () => r.lognormal(103, 0.5));
  const spec: CompareSpec = { test: 'mann-whitney', confidence: 0.95, tolerance: 0.1, direction: 'higher-is-bad', minSamples: 20 };
  const timeIt = (f: () => void) => {
    for (let i = 0; i < 5; i++) f();
    const xs: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      f();
      xs.push(performance.now() - t0);
    }
    return median(xs);
  };
  const mw = timeIt(() => compareSamples(control, treatment, spec));
  const seq = timeIt(() => compareSamples(control, treatment, { ...spec, test: 'sequential' }));
  const check = { name: 'p99', provider: 'p', query: 'q', forMs: 0, noData: 'hold' as const, noDataTimeoutMs: 0, tier: 'critical' as const, action: 'rollback' as const, freeze: false, unit: 'ms', compare: { splitBy: 'variant', controlValue: 'control', ...spec, windowMs: 0, stepMs: 0 } };
  const full = timeIt(() => judge(check, { value: null, groups: { control, treatment }, control: 'control' }, undefined, 0));
  console.log('statistical check, 10,000 samples per side (median of 50; goal < 10 ms)');
  console.log('  Mann-Whitney U verdict      %s ms', mw.toFixed(2));
  console.log('  sequential (mSPRT) verdict  %s ms', seq.toFixed(2));
  console.log('  judge() incl. record        %s ms', full.toFixed(2));
  expect(mw).toBeGreaterThan(0);
});

it('A/A false alarms and a planted 20 % regression at 5 % traffic', () => {
  const aa = (spec: CompareSpec, runs = 1000) => {
    const r = rng(1234);
    let fails = 0;
    for (let i = 0; i < runs; i++) {
      const c = Array.from({ length: 200 }, () => r.lognormal(100, 0.5));
      const t = Array.from({ length: 200 }, () => r.lognormal(100, 0.5));
      if (compareSamples(c, t, spec).verdict === 'fail') fails++;
    }
    return fails / runs;
  };
  const base: CompareSpec = { test: 'mann-whitney', confidence: 0.95, tolerance: 0.1, direction: 'higher-is-bad', minSamples: 20 };
  console.log('A/A, 1,000 runs of 200 vs 200 (false-alarm rate; must be ≤ 1 − confidence)');
  console.log('  U test, 95 %%, tolerance 0     %s', aa({ ...base, tolerance: 0 }).toFixed(3));
  console.log('  U test, 95 %%, tolerance 10 %%  %s', aa(base).toFixed(3));
  console.log('  U test, 98 %%, tolerance 5 %%   %s', aa({ ...base, confidence: 0.98, tolerance: 0.05 }).toFixed(3));
  // Continuous monitoring: 40 looks of +50 per side.
  const looks = (spec: CompareSpec) => {
    const r = rng(99);
    let fails = 0;
    for (let i = 0; i < 1000; i++) {
      const c: number[] = [];
      const t: number[] = [];
      for (let k = 0; k < 40; k++) {
        for (let j = 0; j < 50; j++) (c.push(r.lognormal(100, 0.5)), t.push(r.lognormal(100, 0.5)));
        if (compareSamples(c, t, spec).verdict === 'fail') {
          fails++;
          break;
        }
      }
    }
    return fails / 1000;
  };
  console.log('  40 looks, U test, tolerance 0   %s   (why the sequential test exists)', looks({ ...base, tolerance: 0, minSamples: 50 }).toFixed(3));
  console.log('  40 looks, sequential, 5 %%       %s', looks({ ...base, test: 'sequential', tolerance: 0.05, minSamples: 50 }).toFixed(3));
  const r = rng(2026);
  const needed: number[] = [];
  for (let run = 0; run < 200; run++) {
    const c: number[] = [];
    const t: number[] = [];
    for (let batch = 0; batch < 40; batch++) {
      for (let k = 0; k < 1000; k++) (r.uniform() < 0.05 ? t.push(r.lognormal(120, 0.5)) : c.push(r.lognormal(100, 0.5)));
      if (compareSamples(c, t, { ...base, test: 'sequential', tolerance: 0.05, minSamples: 30 }).verdict === 'fail') break;
    }
    needed.push(t.length);
  }
  needed.sort((a, b) => a - b);
  console.log('planted +20 %% latency at 5 %% traffic, sequential (95 %%, tolerance 5 %%), looks every 1,000 requests, 200 runs');
  console.log('  treatment samples to detection: median %d, p95 %d, max %d', needed[100], needed[190], needed[199]);
});

let prom: Prometheus;
beforeAll(async () => {
  const series: GaugeSeries[] = [];
  for (let k = 0; k < 5; k++) {
    const points: Array<[number, number]> = [];
    for (let t = FROM - 30 * M, i = 0; t <= TO; t += M, i++) points.push([t, 10 * (k + 1) + ((i * (31 + k)) % 17)]);
    series.push({ name: `bench_metric_${k}`, labels: { service: 'bench' }, points });
  }
  prom = await startPrometheusWithHistory(series);
}, 180_000);
afterAll(() => prom?.stop());

it('backtest: 7 days × 5 checks at a 1-minute step against a real Prometheus', async () => {
  const { plan } = await parsePlanText(
    `
name: bench
backend: { type: local }
metrics: { prom: { type: prometheus, url: "${prom.url}" } }
defaults: { interval: 1m }
checks:
${[0, 1, 2, 3, 4].map((k) => `  - { name: c${k}, provider: prom, query: 'max(bench_metric_${k})', max: ${10 * (k + 1) + 15}, for: 2m }`).join('\n')}
phases: [{ name: p, flags: [f], steps: [1, 5] }]
`,
    '/tmp/bench.yaml',
    'bench.yaml',
  );
  const xs: number[] = [];
  let judged = 0;
  for (let i = 0; i < 3; i++) {
    const providers = { prom: create({ url: prom.url }, { baseDir: '/tmp', cwd: '/tmp', log: () => undefined, env: {} }) };
    const t0 = performance.now();
    const r = await backtest(plan, providers, { from: FROM, to: TO });
    xs.push(performance.now() - t0);
    judged = r.checks.reduce((n, c) => n + c.judged, 0);
  }
  console.log('backtest, 7 d × 5 checks at 1 m (%d judgments, 5 range queries of 10,081 points) against real Prometheus: median %s ms of 3 (goal < 3,000 ms)', judged, median(xs).toFixed(0));
  expect(judged).toBe(5 * 10_081);
});
