/**
 * prometheus provider against a REAL Prometheus (from the services harness: inject('prometheusUrl')
 * and inject('exporterUrl'); Prometheus scrapes the exporter every 1 s). For development without
 * the harness, ROLLOUT_TEST_PROMETHEUS_URL / ROLLOUT_TEST_EXPORTER_URL point at your own; with
 * neither, the suite is skipped (and says so).
 */
import { createServer } from 'node:net';
import { describe, expect, inject, it } from 'vitest';
import { BackendError } from '../../src/errors.js';
import { create } from '../../src/adapters/metrics/prometheus.js';
import type { AdapterContext } from '../../src/adapters/types.js';

const provided = (key: string): string | undefined => {
  try {
    return (inject as unknown as (k: string) => string | undefined)(key);
  } catch {
    return undefined;
  }
};
const promUrl = provided('prometheusUrl') ?? process.env.ROLLOUT_TEST_PROMETHEUS_URL;
const exporterUrl = provided('exporterUrl') ?? process.env.ROLLOUT_TEST_EXPORTER_URL;
const live = Boolean(promUrl && exporterUrl);
if (!live) console.warn('metrics-prometheus: no Prometheus provided (inject prometheusUrl/exporterUrl): live tests skipped');

const ctx: AdapterContext = { baseDir: process.cwd(), cwd: process.cwd(), log: () => {}, env: process.env };
const run = `t${process.pid}_${Date.now().toString(36)}`;
const metric = (n: string) => `rollout_metrics_${run}_${n}`;

async function setGauge(name: string, value: number, labels?: Record<string, string>): Promise<void> {
  const v = Number.isFinite(value) ? value : Number.isNaN(value) ? 'NaN' : value > 0 ? '+Inf' : '-Inf';
  const res = await fetch(`${exporterUrl}/set`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, value: v, labels }),
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`exporter /set: HTTP ${res.status}: ${await res.text()}`);
}

/** Poll fn until check passes; bounded (default 10 s). Returns the last result. */
async function until<T>(fn: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (check(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe.skipIf(!live)('prometheus provider (real Prometheus)', () => {
  const prom = (extra: Record<string, unknown> = {}) => create({ url: promUrl!, retryBudgetMs: 0, ...extra }, ctx);

  it('returns a gauge value', async () => {
    const name = metric('gauge');
    await setGauge(name, 0.25);
    const p = prom();
    const s = await until(() => p.query({ query: name, now: Date.now() }), (s) => s.value === 0.25);
    expect(s.value).toBe(0.25);
    expect(s.note).toBeUndefined();
    expect(Math.abs(s.at - Date.now())).toBeLessThan(10_000);
    expect(p.name).toContain('prometheus');
  });

  it('an absent metric is no data ("empty result"), not zero', async () => {
    const s = await prom().query({ query: metric('never_set'), now: Date.now() });
    expect(s.value).toBeNull();
    expect(s.note).toMatch(/empty result/);
  });

  it('a NaN gauge is no data; PromQL division by zero too', async () => {
    const name = metric('nan');
    await setGauge(name, 1);
    const p = prom();
    await until(() => p.query({ query: name, now: Date.now() }), (s) => s.value === 1);
    await setGauge(name, NaN);
    const s = await until(() => p.query({ query: name, now: Date.now() }), (s) => s.value === null);
    expect(s.value).toBeNull();
    expect(s.note).toMatch(/NaN/);
    const inf = await p.query({ query: `${name} * 0 + 1/0`, now: Date.now() });
    expect(inf.value).toBeNull();
    expect(inf.note).toMatch(/NaN|\+Inf/);
    const div = await p.query({ query: 'scalar(vector(1)) / 0', now: Date.now() });
    expect(div).toMatchObject({ value: null, note: 'value is +Inf' });
  });

  it('reduces several series with aggregate max / sum / min / avg, and refuses them with aggregate error', async () => {
    const name = metric('multi');
    await Promise.all([setGauge(name, 1, { pod: 'a' }), setGauge(name, 5, { pod: 'b' }), setGauge(name, 3, { pod: 'c' })]);
    const max = await until(() => prom().query({ query: name, now: Date.now() }), (s) => s.value === 5 && /3 series/.test(s.note ?? ''));
    expect(max).toMatchObject({ value: 5, note: '3 series, took max' });
    expect(await prom({ aggregate: 'sum' }).query({ query: name, now: Date.now() })).toMatchObject({ value: 9, note: '3 series, took sum' });
    expect((await prom({ aggregate: 'min' }).query({ query: name, now: Date.now() })).value).toBe(1);
    expect((await prom({ aggregate: 'avg' }).query({ query: name, now: Date.now() })).value).toBe(3);
    const err = await prom({ aggregate: 'error' }).query({ query: name, now: Date.now() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).message).toMatch(/^prometheus .*3 series.*expected one/);
    expect((err as BackendError).hint).toMatch(/Aggregate in PromQL/);
    // …but one series from a PromQL aggregation is fine with aggregate: error.
    expect((await prom({ aggregate: 'error' }).query({ query: `sum(${name})`, now: Date.now() })).value).toBe(9);
  });

  it('a scalar() result comes back', async () => {
    const name = metric('scalar');
    await setGauge(name, 42);
    const s = await until(() => prom().query({ query: `scalar(${name})`, now: Date.now() }), (s) => s.value === 42);
    expect(s.value).toBe(42);
  });

  it('a bad PromQL query → BackendError with Prometheus\' own message', async () => {
    const err = await prom().query({ query: 'sum(rate(x[5m]', now: Date.now() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    const e = err as BackendError;
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/^prometheus \(http:\/\/127\.0\.0\.1:\d+\): HTTP 400: bad_data: .*parse error/);
    expect(e.hint).toMatch(/PromQL/);
  });

  it('a range-vector query → BackendError telling how to fix it', async () => {
    const err = await prom().query({ query: 'up[1m]', now: Date.now() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).hint).toMatch(/max_over_time/);
  });

  it('provider down (closed port) → BackendError naming prometheus', async () => {
    const port = await closedPort();
    const p = create({ url: `http://127.0.0.1:${port}`, retryBudgetMs: 0, timeoutMs: 2000 }, ctx);
    const err = await p.query({ query: 'up', now: Date.now() }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackendError);
    expect((err as BackendError).message).toMatch(new RegExp(`^prometheus \\(http://127\\.0\\.0\\.1:${port}\\): .*ECONNREFUSED`));
    expect((err as BackendError).hint).toMatch(/server running/);
  });

  it('window: max over the check window uses query_range (worst value seen), instant ignores it', async () => {
    const name = metric('window');
    await setGauge(name, 7);
    const p = prom();
    await until(() => p.query({ query: name, now: Date.now() }), (s) => s.value === 7);
    await setGauge(name, 2);
    await until(() => p.query({ query: name, now: Date.now() }), (s) => s.value === 2);
    const now = Date.now();
    expect((await p.query({ query: name, now, windowMs: 60_000 })).value).toBe(2); // instant: default
    const w = await prom({ window: 'max', stepMs: 1000 }).query({ query: name, now, windowMs: 60_000 });
    expect(w.value).toBe(7);
    expect(w.note).toMatch(/^max over 60 s window/);
    expect((await prom({ window: 'min', stepMs: 1000 }).query({ query: name, now, windowMs: 60_000 })).value).toBe(2);
    const series = await p.queryRange(name, now - 30_000, now, 1000);
    expect(series).toHaveLength(1);
    const values = series[0]!.points.map((pt) => pt.value);
    expect(values).toContain(7);
    expect(values[values.length - 1]).toBe(2);
  });
});
