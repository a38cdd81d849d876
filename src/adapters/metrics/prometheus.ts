/**
 * Prometheus metrics provider: runs a PromQL query over the HTTP API and returns one number.
 *
 * Default behaviour is an instant query at the check's `now`:
 *   GET {url}/api/v1/query?query=<PromQL>&time=<now/1000>
 * resultType `vector` or `scalar` → a number. No data is `value: null` with the reason in `note`:
 * an empty vector, NaN, ±Inf, or a sample older than `now - stalenessMs`. (Prometheus itself also
 * drops series not scraped within its lookback delta, 5 min by default.)
 *
 * Several series are reduced with `aggregate` (max by default). `aggregate: error` refuses
 * several series instead, so a query that should return one number cannot silently pick one.
 *
 * Windows: with `window: max|min|avg` and a check that has a `for:` window (`windowMs`), the
 * provider runs a range query over [now - windowMs, now] (step `stepMs`, default windowMs/60,
 * at least 1 s), reduces the series at each step with `aggregate`, then reduces the steps with
 * `window` (max = worst value seen over the window for "lower is better" metrics). The default
 * `window: instant` ignores windowMs. `queryRange()` is exported on the provider for callers
 * that want the raw series.
 *
 * Failures (down, refused, 4xx/5xx, garbage, status "error") throw BackendError via util/http.
 */
import { z } from 'zod';
import { httpUrl, insecureTls, warnInsecureTls } from '../options.js';
import { BackendError } from '../../errors.js';
import { http } from '../../util/http.js';
import { redact, registerSecret, safeUrl } from '../../util/redact.js';
import type { AdapterContext, MetricQuery, MetricsProvider, MetricsProviderFactory, RangeSeries, Reading } from '../types.js';

export const AGGREGATES = ['max', 'min', 'sum', 'avg', 'error'] as const;
export type Aggregate = (typeof AGGREGATES)[number];

export const options = z.strictObject({
  /** Base URL of Prometheus (or a compatible API), e.g. http://prometheus:9090 or …/prometheus. */
  url: httpUrl(),
  /** Extra request headers, e.g. { Authorization: "Bearer …" }. Values are treated as secrets. */
  headers: z.record(z.string(), z.string()).optional(),
  /** Per-attempt timeout, ms. */
  timeoutMs: z.number().int().positive().default(10_000),
  /** Total time budget for retrying transient failures, ms (0 = no retries). */
  retryBudgetMs: z.number().int().nonnegative().default(15_000),
  /** Skip TLS certificate verification (opt-in; a warning is logged). */
  insecureTls,
  /** A sample older than now - stalenessMs counts as no data. */
  stalenessMs: z.number().int().positive().default(5 * 60_000),
  /** How to reduce several series into one number; `error` refuses several series. */
  aggregate: z.enum(AGGREGATES).default('max'),
  /** instant (default): ignore the check's window. max|min|avg: range query over the window. */
  window: z.enum(['instant', 'max', 'min', 'avg']).default('instant'),
  /** Step for range queries, ms (default: windowMs / 60, at least 1000). */
  stepMs: z.number().int().positive().optional(),
});
export type PrometheusOptions = z.infer<typeof options>;

export type { RangeSeries };

/** Prometheus refuses a range query of more than 11,000 points per series. */
export const MAX_POINTS_PER_SERIES = 11_000;

/** Split [start, end] at `step` into ranges of at most `max` points each (inclusive ends, on the step grid). */
export function rangeChunks(startMs: number, endMs: number, stepMs: number, max = MAX_POINTS_PER_SERIES): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const span = (max - 1) * stepMs;
  for (let s = startMs; s <= endMs; s += span + stepMs) out.push([s, Math.min(endMs, s + span)]);
  return out;
}

/** Join the chunks of a split range query: series by their labels, points in time order. */
export function mergeSeries(parts: RangeSeries[][]): RangeSeries[] {
  const by = new Map<string, RangeSeries>();
  for (const part of parts) {
    for (const s of part) {
      const key = JSON.stringify(Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
      const have = by.get(key);
      if (have) have.points.push(...s.points);
      else by.set(key, { labels: s.labels, points: [...s.points] });
    }
  }
  return [...by.values()];
}

export interface PrometheusProvider extends MetricsProvider {
  /** Run a range query and return every series' points (times in epoch ms). */
  queryRange(query: string, startMs: number, endMs: number, stepMs: number): Promise<RangeSeries[]>;
}

/** Reduce several numbers (at least one) the way `aggregate` says. */
export function reduceValues(values: number[], how: Exclude<Aggregate, 'error'>): number {
  switch (how) {
    case 'max':
      return Math.max(...values);
    case 'min':
      return Math.min(...values);
    case 'sum':
      return values.reduce((a, b) => a + b, 0);
    case 'avg':
      return values.reduce((a, b) => a + b, 0) / values.length;
  }
}

/** Parse a Prometheus sample value ("1.5", "NaN", "+Inf", "-Inf"). Returns a number or the reason it is no data. */
export function parseSampleValue(raw: unknown): { value: number } | { reason: string } {
  if (typeof raw !== 'string' && typeof raw !== 'number') return { reason: `value ${JSON.stringify(raw)} is not a number` };
  const s = String(raw).trim();
  if (/^nan$/i.test(s)) return { reason: 'value is NaN' };
  if (/^[+]?inf$/i.test(s)) return { reason: 'value is +Inf' };
  if (/^-inf$/i.test(s)) return { reason: 'value is -Inf' };
  const n = Number(s);
  if (s === '' || !Number.isFinite(n)) return { reason: `value ${JSON.stringify(raw)} is not a number` };
  return { value: n };
}

interface PromResponse {
  status?: string;
  errorType?: string;
  error?: string;
  warnings?: string[];
  data?: { resultType?: string; result?: unknown };
}

type PromSample = [number, string];

const describeLabels = (m: Record<string, string> | undefined): string => {
  if (!m) return '{}';
  const { __name__: name, ...rest } = m;
  const inner = Object.entries(rest)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  return `${name ?? ''}{${inner}}`;
};

function isSample(x: unknown): x is PromSample {
  return Array.isArray(x) && x.length === 2 && typeof x[0] === 'number';
}

class Prometheus implements PrometheusProvider {
  readonly name: string;
  private readonly base: string;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly opts: PrometheusOptions,
    ctx: AdapterContext,
  ) {
    this.base = opts.url.replace(/\/+$/, '');
    this.name = `prometheus (${safeUrl(opts.url)})`;
    this.headers = { ...opts.headers };
    for (const v of Object.values(this.headers)) registerSecret(v);
    warnInsecureTls(ctx, this.name, opts.insecureTls);
  }

  /** GET an API path; Prometheus' own errors (400/422 with status "error") become a BackendError with its message. */
  private async get(path: string, params: Record<string, string>): Promise<PromResponse['data'] & { warnings?: string[] }> {
    const url = `${this.base}${path}?${new URLSearchParams(params).toString()}`;
    const res = await http({
      backend: this.name,
      method: 'GET',
      url,
      headers: this.headers,
      timeoutMs: this.opts.timeoutMs,
      retryBudgetMs: this.opts.retryBudgetMs,
      insecure: this.opts.insecureTls,
      // Prometheus answers a bad query with 400/422 and a JSON body: read it ourselves.
      okStatuses: [400, 422],
    });
    let body: PromResponse;
    try {
      body = JSON.parse(res.text) as PromResponse;
    } catch {
      throw new BackendError(this.name, `response is not Prometheus API JSON: ${redact(res.text.slice(0, 200)) || '(empty)'}`, {
        status: res.status,
        hint: 'Is the url the Prometheus server (it should answer /api/v1/query)?',
      });
    }
    if (body === null || typeof body !== 'object' || body.status !== 'success') {
      const what = body && typeof body === 'object' && body.status === 'error' ? `${body.errorType ?? 'error'}: ${body.error ?? '(no message)'}` : `unexpected response: ${res.text.slice(0, 200)}`;
      throw new BackendError(this.name, redact(what), {
        status: res.status >= 400 ? res.status : undefined,
        hint: body?.errorType === 'bad_data' ? 'Check the PromQL query (try it in the Prometheus UI).' : undefined,
      });
    }
    if (!body.data || typeof body.data !== 'object') throw new BackendError(this.name, `response has no data: ${redact(res.text.slice(0, 200))}`);
    return { ...body.data, warnings: body.warnings };
  }

  async queryRange(query: string, startMs: number, endMs: number, stepMs: number): Promise<RangeSeries[]> {
    const chunks = rangeChunks(startMs, endMs, Math.max(stepMs, 1));
    if (chunks.length === 1) return this.queryRangeOnce(query, startMs, endMs, stepMs);
    const parts: RangeSeries[][] = [];
    for (const [s, e] of chunks) parts.push(await this.queryRangeOnce(query, s, e, stepMs));
    return mergeSeries(parts);
  }

  querySeries(query: string, startMs: number, endMs: number, stepMs: number): Promise<RangeSeries[]> {
    return this.queryRange(query, startMs, endMs, stepMs);
  }

  private async queryRangeOnce(query: string, startMs: number, endMs: number, stepMs: number): Promise<RangeSeries[]> {
    const data = await this.get('/api/v1/query_range', {
      query,
      start: String(startMs / 1000),
      end: String(endMs / 1000),
      step: String(Math.max(stepMs, 1) / 1000),
    });
    if (data.resultType !== 'matrix' || !Array.isArray(data.result)) {
      throw new BackendError(this.name, `range query returned ${data.resultType ?? 'no result type'}, expected matrix`);
    }
    return (data.result as Array<{ metric?: Record<string, string>; values?: unknown[] }>).map((s) => ({
      labels: s.metric ?? {},
      points: (Array.isArray(s.values) ? s.values : []).filter(isSample).map(([t, v]) => {
        const p = parseSampleValue(v);
        return { at: Math.round(t * 1000), value: 'value' in p ? p.value : null };
      }),
    }));
  }

  async query(q: MetricQuery): Promise<Reading> {
    if (this.opts.window !== 'instant' && q.windowMs && q.windowMs > 0) return this.windowed(q, this.opts.window, q.windowMs);
    const data = await this.get('/api/v1/query', { query: q.query, time: String(q.now / 1000) });
    const warn = data.warnings?.length ? `; warnings: ${data.warnings.join('; ')}` : '';
    const withWarn = (s: Reading): Reading => (warn ? { ...s, note: `${s.note ?? ''}${warn}`.replace(/^; /, '') } : s);

    let samples: Array<{ labels: string; sample: PromSample }>;
    switch (data.resultType) {
      case 'scalar':
        if (!isSample(data.result)) throw new BackendError(this.name, 'scalar result is malformed');
        samples = [{ labels: 'scalar', sample: data.result }];
        break;
      case 'vector':
        if (!Array.isArray(data.result)) throw new BackendError(this.name, 'vector result is malformed');
        samples = (data.result as Array<{ metric?: Record<string, string>; value?: unknown }>).map((r) => {
          if (!isSample(r.value)) throw new BackendError(this.name, 'vector result is malformed');
          return { labels: describeLabels(r.metric), sample: r.value };
        });
        break;
      case 'matrix':
        throw new BackendError(this.name, 'query returned a range vector (matrix), not a number', {
          hint: 'Wrap the range selector in a function, e.g. max_over_time(x[5m]) or rate(x[5m]).',
        });
      default:
        throw new BackendError(this.name, `query returned a ${data.resultType ?? 'result of unknown type'}, not a number`);
    }

    if (samples.length === 0) return withWarn({ value: null, at: q.now, note: 'empty result (no series matched)' });
    if (samples.length > 1 && this.opts.aggregate === 'error') {
      throw new BackendError(this.name, `query returned ${samples.length} series (${samples.slice(0, 3).map((s) => s.labels).join(', ')}${samples.length > 3 ? ', …' : ''}); expected one`, {
        hint: 'Aggregate in PromQL (e.g. sum(...), max(...)), or set the provider option aggregate: max|min|sum|avg.',
      });
    }

    const staleBefore = q.now - this.opts.stalenessMs;
    const good: Array<{ value: number; at: number }> = [];
    const bad: string[] = [];
    for (const { labels, sample } of samples) {
      const at = Math.round(sample[0] * 1000);
      const p = parseSampleValue(sample[1]);
      if (!('value' in p)) bad.push(samples.length > 1 ? `${labels}: ${p.reason}` : p.reason);
      else if (at < staleBefore) bad.push(`${samples.length > 1 ? `${labels}: ` : ''}stale: sample is ${Math.round((q.now - at) / 1000)} s old (stalenessMs ${this.opts.stalenessMs})`);
      else good.push({ value: p.value, at });
    }
    if (good.length === 0) {
      return withWarn({ value: null, at: Math.max(...samples.map((s) => Math.round(s.sample[0] * 1000))), note: bad.join('; ') });
    }
    const at = Math.max(...good.map((g) => g.at));
    if (samples.length === 1) return withWarn({ value: good[0]!.value, at });
    const how = this.opts.aggregate as Exclude<Aggregate, 'error'>;
    const value = reduceValues(good.map((g) => g.value), how);
    const note = `${samples.length} series, took ${how}${bad.length ? ` of ${good.length} (no data: ${bad.join('; ')})` : ''}`;
    return withWarn({ value, at, note });
  }

  /** Range query over the check's window, reduced across series per step, then over time. */
  private async windowed(q: MetricQuery, over: 'max' | 'min' | 'avg', windowMs: number): Promise<Reading> {
    const step = this.opts.stepMs ?? Math.max(1000, Math.round(windowMs / 60));
    const series = await this.queryRange(q.query, q.now - windowMs, q.now, step);
    const span = `${Math.round(windowMs / 1000)} s window`;
    if (series.length === 0) return { value: null, at: q.now, note: `empty result (no series matched in the ${span})` };
    if (series.length > 1 && this.opts.aggregate === 'error') {
      throw new BackendError(this.name, `query returned ${series.length} series (${series.slice(0, 3).map((s) => describeLabels(s.labels)).join(', ')}${series.length > 3 ? ', …' : ''}); expected one`, {
        hint: 'Aggregate in PromQL (e.g. sum(...), max(...)), or set the provider option aggregate: max|min|sum|avg.',
      });
    }
    const how = this.opts.aggregate as Exclude<Aggregate, 'error'>;
    const byTime = new Map<number, number[]>();
    for (const s of series) {
      for (const p of s.points) {
        if (p.value === null) continue;
        const list = byTime.get(p.at) ?? [];
        list.push(p.value);
        byTime.set(p.at, list);
      }
    }
    if (byTime.size === 0) return { value: null, at: q.now, note: `no finite values in the ${span} (NaN/±Inf only)` };
    const times = [...byTime.keys()].sort((a, b) => a - b);
    const last = times[times.length - 1]!;
    if (last < q.now - this.opts.stalenessMs) {
      return { value: null, at: last, note: `stale: newest sample is ${Math.round((q.now - last) / 1000)} s old (stalenessMs ${this.opts.stalenessMs})` };
    }
    const perStep = times.map((t) => reduceValues(byTime.get(t)!, how));
    const value = reduceValues(perStep, over);
    return {
      value,
      at: last,
      note: `${over} over ${span} (${perStep.length} steps of ${step} ms${series.length > 1 ? `, ${series.length} series, ${how} per step` : ''})`,
    };
  }
}

export const create = (raw: Record<string, unknown>, ctx: AdapterContext): PrometheusProvider => new Prometheus(options.parse(raw), ctx);
create satisfies MetricsProviderFactory;
