/**
 * Datadog metrics provider, using the documented v1 "query timeseries points" API:
 *
 *   GET {site}/api/v1/query?from=<epoch s>&to=<epoch s>&query=<metrics query>
 *   headers DD-API-KEY, DD-APPLICATION-KEY (app key needs the timeseries_query permission)
 *   200 → {status:"ok", res_type:"time_series", series:[{metric, scope, pointlist:[[ts_ms, v|null], …], …}], error?}
 *   400/403/429 → {"errors": ["…"]}
 *
 * The window is [now - windowMs, now] (default 5 min; the check's own `for:` window is not
 * used: Datadog rolls points up coarsely, so a short window often holds no point). Each
 * series contributes its last non-null point; several series are reduced with `aggregate`
 * (max by default, `error` refuses several). No series, or only null points → value null with
 * a note (no-data is never zero). Points outside the window are not returned by Datadog, so the
 * window is also the staleness bound.
 *
 * `site` is a URL (https://api.datadoghq.eu) or a Datadog site name (datadoghq.eu,
 * us5.datadoghq.com, app.datadoghq.com), which maps to https://api.<site>.
 */
import { z } from 'zod';
import { insecureTls, warnInsecureTls } from '../options.js';
import { BackendError, UsageError } from '../../errors.js';
import { http } from '../../util/http.js';
import { redact, registerSecret, safeUrl } from '../../util/redact.js';
import type { AdapterContext, MetricQuery, MetricsProvider, MetricsProviderFactory, RangeSeries, Reading } from '../types.js';
import { AGGREGATES, type Aggregate, mergeSeries, rangeChunks, reduceValues } from './prometheus.js';

export const options = z.strictObject({
  apiKey: z.string().min(1),
  appKey: z.string().min(1),
  /** API base URL or site name. */
  site: z.string().min(1).default('https://api.datadoghq.com'),
  /** How far back to look for the latest point, ms. */
  windowMs: z.number().int().positive().default(5 * 60_000),
  aggregate: z.enum(AGGREGATES).default('max'),
  timeoutMs: z.number().int().positive().default(10_000),
  /** Total time budget for retrying transient failures (429, 5xx, network), ms; 0 = no retries. */
  retryBudgetMs: z.number().int().nonnegative().default(15_000),
  insecureTls,
});
export type DatadogOptions = z.infer<typeof options>;

/** "datadoghq.eu" → "https://api.datadoghq.eu"; URLs are kept (trailing slash dropped). */
export function siteUrl(site: string): string {
  const s = site.trim().replace(/\/+$/, '');
  if (/^https?:\/\//i.test(s)) return s;
  const host = s.replace(/^app\./i, '');
  return `https://${/^api\./i.test(host) ? host : `api.${host}`}`;
}

interface DdSeries {
  metric?: string;
  scope?: string;
  expression?: string;
  tag_set?: string[];
  pointlist?: unknown;
}
interface DdResponse {
  status?: string;
  error?: string | null;
  errors?: unknown;
  series?: DdSeries[];
}

const seriesLabel = (s: DdSeries) => `${s.metric ?? s.expression ?? '?'}{${s.scope ?? (s.tag_set ?? []).join(',')}}`;

class Datadog implements MetricsProvider {
  readonly name: string;
  private readonly base: string;

  constructor(
    private readonly opts: DatadogOptions,
    ctx: AdapterContext,
  ) {
    registerSecret(opts.apiKey);
    registerSecret(opts.appKey);
    this.base = siteUrl(opts.site);
    this.name = `datadog (${safeUrl(this.base)})`;
    warnInsecureTls(ctx, this.name, opts.insecureTls);
  }

  /** GET /api/v1/query over [from, to] (epoch seconds): the series, or a BackendError. */
  private async fetchSeries(query: string, from: number, to: number): Promise<DdSeries[]> {
    const params = new URLSearchParams({ from: String(from), to: String(to), query });
    const res = await http({
      backend: this.name,
      method: 'GET',
      url: `${this.base}/api/v1/query?${params.toString()}`,
      headers: { 'DD-API-KEY': this.opts.apiKey, 'DD-APPLICATION-KEY': this.opts.appKey },
      timeoutMs: this.opts.timeoutMs,
      retryBudgetMs: this.opts.retryBudgetMs,
      insecure: this.opts.insecureTls,
      // Client errors carry {"errors": [...]}: turn them into a readable message ourselves.
      okStatuses: [400, 401, 403, 404],
    });
    let body: DdResponse | undefined;
    try {
      body = JSON.parse(res.text) as DdResponse;
    } catch {
      if (res.status < 400) {
        throw new BackendError(this.name, `response is not JSON: ${redact(res.text.slice(0, 200)) || '(empty)'}`, {
          status: res.status,
          hint: 'Is site the Datadog API URL (e.g. https://api.datadoghq.com)?',
        });
      }
    }
    if (res.status >= 400) {
      const errs = Array.isArray(body?.errors) ? body.errors.map(String).join('; ') : body?.error || res.text.trim().slice(0, 200);
      const auth = res.status === 401 || res.status === 403;
      throw new BackendError(this.name, redact(auth ? `authentication failed (${errs || 'Forbidden'}): the API key or application key was refused` : errs || '(no message)'), {
        status: res.status,
        hint: auth
          ? `Check apiKey (DD-API-KEY) and appKey (DD-APPLICATION-KEY): both must be valid for this site (${this.base}), and the application key needs the timeseries_query permission.`
          : res.status === 400
            ? 'Check the metrics query (try it in the Datadog Metrics Explorer).'
            : 'Check the site URL.',
      });
    }
    if (!body || typeof body !== 'object' || body.status !== 'ok') {
      const msg = body && typeof body === 'object' && body.error ? body.error : `unexpected response: ${res.text.slice(0, 200)}`;
      throw new BackendError(this.name, redact(`query failed (status ${JSON.stringify(body?.status ?? null)}): ${msg}`));
    }
    return Array.isArray(body.series) ? body.series : [];
  }

  /**
   * Every series' points over [startMs, endMs], one call per day of range (Datadog rolls points
   * up to fit its own per-call limit, so a day per call keeps the finest points its retention
   * has). Labels come from the series' tag_set / scope ("variant:control").
   */
  async querySeries(query: string, startMs: number, endMs: number, _stepMs: number): Promise<RangeSeries[]> {
    const parts: RangeSeries[][] = [];
    for (const [s, e] of rangeChunks(startMs, endMs, 60_000, 24 * 60 + 1)) {
      const series = await this.fetchSeries(query, Math.floor(s / 1000), Math.floor(e / 1000));
      parts.push(
        series.map((x) => ({
          labels: Object.fromEntries(
            (x.tag_set?.length ? x.tag_set : (x.scope ?? '').split(','))
              .map((t) => t.trim())
              .filter((t) => t.includes(':'))
              .map((t) => [t.slice(0, t.indexOf(':')), t.slice(t.indexOf(':') + 1)]),
          ),
          points: (Array.isArray(x.pointlist) ? (x.pointlist as unknown[]) : [])
            .filter((p): p is [number, number | null] => Array.isArray(p) && typeof p[0] === 'number')
            .map(([at, v]) => ({ at, value: typeof v === 'number' && Number.isFinite(v) ? v : null })),
        })),
      );
    }
    return mergeSeries(parts);
  }


  async query(q: MetricQuery): Promise<Reading> {
    if (!q.query.trim()) {
      throw new UsageError(`${this.name}: the check has no query`, { hint: 'Give the check a Datadog metrics query, e.g. avg:trace.http.request.errors{service:checkout}.' });
    }
    const series = await this.fetchSeries(q.query, Math.floor((q.now - this.opts.windowMs) / 1000), Math.floor(q.now / 1000));
    const win = `${Math.round(this.opts.windowMs / 1000)} s`;
    if (series.length === 0) return { value: null, at: q.now, note: `empty result (no series in the last ${win})` };
    if (series.length > 1 && this.opts.aggregate === 'error') {
      throw new BackendError(this.name, `query returned ${series.length} series (${series.slice(0, 3).map(seriesLabel).join(', ')}${series.length > 3 ? ', …' : ''}); expected one`, {
        hint: 'Aggregate in the query (e.g. sum:metric{*} without "by {…}"), or set the provider option aggregate: max|min|sum|avg.',
      });
    }

    const good: Array<{ value: number; at: number }> = [];
    const empty: string[] = [];
    for (const s of series) {
      const points = Array.isArray(s.pointlist) ? (s.pointlist as unknown[]) : [];
      // The newest non-null point (pointlists are in time order; do not rely on it).
      let last: { value: number; at: number } | undefined;
      for (const p of points) {
        if (Array.isArray(p) && typeof p[0] === 'number' && typeof p[1] === 'number' && Number.isFinite(p[1]) && (!last || p[0] >= last.at)) {
          last = { at: p[0], value: p[1] };
        }
      }
      if (last) good.push(last);
      else empty.push(seriesLabel(s));
    }
    if (good.length === 0) {
      return { value: null, at: q.now, note: `no non-null points in the last ${win}${series.length > 1 ? ` (${series.length} series)` : ''}` };
    }
    const at = Math.max(...good.map((g) => g.at));
    if (series.length === 1) return { value: good[0]!.value, at };
    const how = this.opts.aggregate as Exclude<Aggregate, 'error'>;
    return {
      value: reduceValues(good.map((g) => g.value), how),
      at,
      note: `${series.length} series, took ${how}${empty.length ? ` of ${good.length} (no points: ${empty.join(', ')})` : ''}`,
    };
  }
}

export const create: MetricsProviderFactory = (raw, ctx) => new Datadog(options.parse(raw), ctx);
