/**
 * Backtest in pure code (a fake provider), on Datadog's timeseries query (the fake Datadog on
 * loopback, through the CLI), and the splitting of long Prometheus ranges.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MetricsProvider, RangeSeries } from '../../src/adapters/types.js';
import { mergeSeries, rangeChunks } from '../../src/adapters/metrics/prometheus.js';
import { parseTime } from '../../src/commands/backtest.js';
import { parsePlanText } from '../../src/plan/load.js';
import { backtest, valueAt } from '../../src/runner/backtest.js';
import { startFakeDatadog, type FakeDatadog } from '../fakes/datadog.js';
import { cli, tempDir, write } from '../cli/helpers.js';

const M = 60_000;
const H = 60 * M;
const T0 = Date.parse('2026-11-20T00:00:00Z');

const planOf = async (checks: string, metrics = '{ prom: { type: prometheus, url: "http://127.0.0.1:9" } }') =>
  (
    await parsePlanText(
      `
name: h
backend: { type: local, path: flags.json }
metrics: ${metrics}
defaults: { interval: 1m }
checks:
${checks}
phases: [{ name: c, flags: [f], steps: [1, 5] }]
`,
      '/tmp/h.yaml',
      'h.yaml',
    )
  ).plan;

const fake = (series: Record<string, RangeSeries[]>): MetricsProvider & { calls: string[] } => {
  const calls: string[] = [];
  return { name: 'fake', calls, query: async () => ({ value: null, at: 0 }), querySeries: async (q) => (calls.push(q), series[q] ?? []) };
};
const line = (from: number, to: number, step: number, f: (t: number) => number | null): RangeSeries => {
  const points: RangeSeries['points'] = [];
  for (let t = from; t <= to; t += step) {
    const v = f(t);
    if (v !== null) points.push({ at: t, value: v });
  }
  return { labels: {}, points };
};

describe('range splitting at 11,000 points per series', () => {
  it('splits on the step grid with no overlap and no gap', () => {
    expect(rangeChunks(0, 10_999 * 15, 15)).toEqual([[0, 10_999 * 15]]);
    const c = rangeChunks(0, 11_520 * 15_000, 15_000);
    expect(c).toEqual([
      [0, 10_999 * 15_000],
      [11_000 * 15_000, 11_520 * 15_000],
    ]);
    const points = c.reduce((n, [s, e]) => n + (e - s) / 15_000 + 1, 0);
    expect(points).toBe(11_521);
  });
  it('merges the chunks of each series by labels', () => {
    const a = { labels: { v: 'a' }, points: [{ at: 1, value: 1 }] };
    const b = { labels: { v: 'b' }, points: [{ at: 1, value: 2 }] };
    expect(mergeSeries([[a, b], [{ labels: { v: 'a' }, points: [{ at: 2, value: 3 }] }]])).toEqual([
      { labels: { v: 'a' }, points: [{ at: 1, value: 1 }, { at: 2, value: 3 }] },
      b,
    ]);
  });
});

describe('backtest (pure, fake history)', () => {
  it('a relative check: breach and recovery times, closest approach, suggested maxIncrease', async () => {
    const plan = await planOf(`  - { name: lat, provider: prom, query: new, relative: { baseline: old, maxIncrease: 0.2 }, for: 2m, tier: warning }`);
    const p = fake({
      new: [line(T0, T0 + 6 * H, M, (t) => (t >= T0 + 3 * H && t < T0 + 3 * H + 10 * M ? 150 : 100 + ((t / M) % 10)))],
      old: [line(T0, T0 + 6 * H, M, () => 100)],
    });
    const r = await backtest(plan, { prom: p }, { from: T0, to: T0 + 6 * H });
    expect(p.calls).toEqual(['new', 'old']);
    const c = r.checks[0]!;
    expect(c.judged).toBe(361);
    expect(c.breaches).toEqual([{ failingFrom: T0 + 3 * H, actedAt: T0 + 3 * H + 2 * M, until: T0 + 3 * H + 10 * M, action: 'pause', worst: 150, reason: expect.stringMatching(/more than 20% above baseline/) }]);
    expect(c.closest[0]!.value).toBe(109);
    expect(c.suggested!.maxIncrease).toBeCloseTo(0.14, 5);
    expect(r.decisions.map((d) => [d.kind, d.at])).toEqual([
      ['breach', T0 + 3 * H + 2 * M],
      ['pause', T0 + 3 * H + 2 * M],
    ]);
  });
  it('a statistical check replays over its window of samples (A/A history: no breach)', async () => {
    const plan = await planOf(`  - { name: ab, provider: prom, query: lat, compare: { splitBy: variant, test: sequential, tolerance: 0.1, minSamples: 20, window: 30m } }`);
    const jitter = (t: number) => 100 + (((t / M) * 7919) % 13);
    const p = fake({ lat: [{ ...line(T0 - H, T0 + 3 * H, M, jitter), labels: { variant: 'control' } }, { ...line(T0 - H, T0 + 3 * H, M, jitter), labels: { variant: 'treatment' } }] });
    const r = await backtest(plan, { prom: p }, { from: T0, to: T0 + 3 * H });
    expect(r.checks[0]!.breaches).toEqual([]);
    expect(r.checks[0]!.noData.windows).toBe(0);
  });
  it('refuses a provider without history', async () => {
    const plan = await planOf(`  - { name: x, provider: prom, query: q, max: 1 }`);
    await expect(backtest(plan, { prom: { name: 'cmd', query: async () => ({ value: 1, at: 0 }) } }, { from: T0, to: T0 + H })).rejects.toThrow(/cannot return history; backtest needs prometheus or datadog/);
  });
  it('valueAt: the newest point within staleness, several series reduced', () => {
    const h = { series: [line(0, 10 * M, M, (t) => t / M), line(0, 5 * M, M, () => 100)] };
    expect(valueAt(h, 3 * M, 0, 'max')).toBe(100);
    expect(valueAt(h, 8 * M, 0, 'max')).toBe(8);
    expect(valueAt(h, 8.5 * M, 0, 'max')).toBe(null);
    expect(valueAt(h, 8.5 * M, M, 'min')).toBe(8);
  });
  it('--from / --to: a duration before --to, or a date (never a date read as a duration)', () => {
    const to = Date.parse('2026-12-02T10:00:00Z');
    expect(parseTime('7d', '--from', to)).toBe(to - 7 * 24 * H);
    expect(parseTime('1h30m', '--from', to)).toBe(to - 90 * M);
    expect(parseTime('2026-11-25T10:00:00Z', '--from', to)).toBe(Date.parse('2026-11-25T10:00:00Z'));
    expect(() => parseTime('last week', '--from', to)).toThrow(/neither a duration nor a time/);
  });
});

describe('backtest on Datadog (the fake of its v1 timeseries query), through the CLI', () => {
  let dd: FakeDatadog;
  let dir: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    dd = await startFakeDatadog({ apiKey: 'k', appKey: 'a' });
    dir = await tempDir();
  });
  afterAll(async () => {
    await dd?.close();
    await dir?.cleanup();
  });
  it('one call per day of range; finds the incident; read-only', { timeout: 60_000 }, async () => {
    const to = T0 + 2 * 24 * H;
    const points: Array<[number, number | null]> = [];
    for (let t = T0 - H; t <= to; t += M) points.push([t, t >= T0 + 30 * H && t < T0 + 30 * H + 15 * M ? 9 : 1]);
    dd.define('avg:checkout.errors{env:prod}', [{ scope: 'env:prod', points }]);
    const f = await write(
      dir.dir,
      'dd.yaml',
      `
name: dd
backend: { type: local, path: flags.json }
metrics: { dd: { type: datadog, site: "${dd.url}", apiKey: k, appKey: a, retryBudgetMs: 0 } }
defaults: { interval: 1m }
checks:
  - { name: errors, provider: dd, query: 'avg:checkout.errors{env:prod}', max: 5, for: 5m, unit: '%' }
rollback: { commands: [[touch, RAN]] }
phases: [{ name: c, flags: [f], steps: [1] }]
`,
    );
    const r = await cli(['backtest', f, '--from', '2d', '--to', new Date(to).toISOString(), '--json', '--report', 'bt.html'], { cwd: dir.dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { checks: Array<{ breaches: Array<{ failingFrom: number; actedAt: number; until: number }> }> };
    expect(j.checks[0]!.breaches.map((b) => [b.failingFrom, b.actedAt, b.until])).toEqual([[T0 + 30 * H, T0 + 30 * H + 5 * M, T0 + 30 * H + 15 * M]]);
    expect(dd.requests.filter((q) => q.path === '/api/v1/query')).toHaveLength(2);
    expect(existsSync(join(dir.dir, 'RAN'))).toBe(false);
    // --report: the same self-contained HTML report as a live run, of the replay.
    const html = readFileSync(join(dir.dir, 'bt.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('backtest');
    expect(html).toContain("cannot show the feature's effect");
    expect(existsSync(join(dir.dir, 'flags.json'))).toBe(false);
  });
});
