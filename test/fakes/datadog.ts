/**
 * FAKE Datadog metrics API for tests — NOT Datadog.
 *
 * Built from Datadog's published API reference for "Query timeseries points" (v1); no Datadog
 * server can run here. It implements only that endpoint, strictly, so the adapter cannot pass by
 * accident:
 *
 *   GET /api/v1/query?from=<epoch s>&to=<epoch s>&query=<metrics query>
 *     headers DD-API-KEY and DD-APPLICATION-KEY (both required and checked)
 *     200 {status:"ok", res_type:"time_series", resp_version:1, query, message:"", error:null,
 *          from_date, to_date (ms), group_by:[], series:[{metric, display_name, expression,
 *          scope, tag_set, aggr, interval, length, start, end, query_index, unit,
 *          pointlist:[[ts_ms, value|null], …]}]}
 *     Only points with from*1000 <= ts <= to*1000 are returned; a query nobody defined → series [].
 *   Errors use the documented body {"errors": ["…"]}:
 *     403 ["Forbidden"]                     missing or wrong API key or application key
 *     400 ["Missing query parameter: …"]    missing/invalid query, from or to; from > to
 *     400 ["Error parsing query: …"]        unbalanced braces/parentheses in the query
 *     404 ["Not found"]                     any other path or method
 *   failNext(status, body?) answers the next request with that (e.g. 429, 500) once;
 *   failNextRaw(status, text) the same with a body that is not JSON (a proxy's HTML page).
 *
 *   const dd = await startFakeDatadog({ apiKey, appKey });
 *   dd.define('avg:errors{svc:checkout}', [{ scope: 'svc:checkout', points: [[Date.now(), 0.1]] }]);
 *   dd.url → "http://127.0.0.1:PORT"; dd.requests → [{ path, params, headers }]; await dd.close();
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeDdSeries {
  /** Metric name; default: taken from the query ("avg:foo.bar{*}" → "foo.bar"). */
  metric?: string;
  /** Comma-separated tags, e.g. "host:a,env:prod". Default "*". */
  scope?: string;
  /** [ts_ms, value|null] points; filtered to the requested window. */
  points: Array<[number, number | null]>;
}

export interface FakeDatadog {
  url: string;
  requests: Array<{ method: string; path: string; params: Record<string, string>; headers: IncomingHttpHeaders }>;
  /** Data the fake returns for an exact query string. */
  define(query: string, series: FakeDdSeries[]): void;
  /** Answer the next request with this status and body (default {"errors":[<reason>]}), once. */
  failNext(status: number, body?: unknown, headers?: Record<string, string>): void;
  /** Answer the next request with this status and this exact text (not JSON-encoded), once. */
  failNextRaw(status: number, text: string): void;
  close(): Promise<void>;
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 403: 'Forbidden', 404: 'Not found', 429: 'Too many requests', 500: 'Internal Server Error', 503: 'Service Unavailable' };

function balanced(q: string): boolean {
  const stack: string[] = [];
  const pairs: Record<string, string> = { ')': '(', '}': '{', ']': '[' };
  for (const ch of q) {
    if (ch === '(' || ch === '{' || ch === '[') stack.push(ch);
    else if (ch in pairs && stack.pop() !== pairs[ch]) return false;
  }
  return stack.length === 0;
}

const metricOf = (query: string) => /^(?:\w+:)?([\w.]+)/.exec(query)?.[1] ?? query;

export async function startFakeDatadog(keys: { apiKey: string; appKey: string }): Promise<FakeDatadog> {
  const data = new Map<string, FakeDdSeries[]>();
  const requests: FakeDatadog['requests'] = [];
  const failures: Array<{ status: number; body: unknown; raw?: string; headers: Record<string, string> }> = [];

  const server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://fake');
    const params = Object.fromEntries(u.searchParams);
    requests.push({ method: req.method ?? '', path: u.pathname, params, headers: req.headers });
    const send = (status: number, body: unknown, headers: Record<string, string> = {}, raw?: string) => {
      const text = raw ?? JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
      res.end(text);
    };
    const err = (status: number, msg = REASONS[status] ?? 'Error') => send(status, { errors: [msg] });

    req.resume();
    const f = failures.shift();
    if (f) return send(f.status, f.body, f.headers, f.raw);
    if (req.method !== 'GET' || u.pathname !== '/api/v1/query') return err(404);
    // Authentication first, as the real API does: both keys must be valid.
    if (req.headers['dd-api-key'] !== keys.apiKey || req.headers['dd-application-key'] !== keys.appKey) return err(403);

    const query = params.query;
    if (!query || !query.trim()) return err(400, 'Missing query parameter: query');
    for (const p of ['from', 'to'] as const) {
      if (params[p] === undefined) return err(400, `Missing query parameter: ${p}`);
      if (!/^\d+$/.test(params[p]!)) return err(400, `Invalid value for parameter ${p}: must be an integer (seconds since the Unix epoch)`);
    }
    const from = Number(params.from);
    const to = Number(params.to);
    if (from > to) return err(400, 'from must be before to');
    if (!balanced(query)) return err(400, `Error parsing query: unbalanced brackets in ${JSON.stringify(query)}`);

    const fromMs = from * 1000;
    const toMs = to * 1000;
    const series = (data.get(query) ?? []).map((s, i) => {
      const pointlist = s.points.filter(([t]) => t >= fromMs && t <= toMs);
      const metric = s.metric ?? metricOf(query);
      const scope = s.scope ?? '*';
      return {
        metric,
        display_name: metric,
        expression: query,
        scope,
        tag_set: scope === '*' ? [] : scope.split(','),
        aggr: /^(avg|sum|min|max):/.exec(query)?.[1] ?? 'avg',
        interval: 20,
        length: pointlist.length,
        start: pointlist[0]?.[0] ?? fromMs,
        end: pointlist[pointlist.length - 1]?.[0] ?? toMs,
        query_index: 0,
        unit: null,
        pointlist,
        _i: i,
      };
    });
    send(200, {
      status: 'ok',
      res_type: 'time_series',
      resp_version: 1,
      query,
      message: '',
      error: null,
      from_date: fromMs,
      to_date: toMs,
      group_by: [],
      // Series with no points at all in the window are left out (null points are kept), as a
      // query without data answers series: [] (our reading of the docs; not verified live).
      series: series.filter((s) => s.length > 0).map(({ _i, ...s }) => s),
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    define: (query, series) => void data.set(query, series),
    failNext: (status, body, headers = {}) => void failures.push({ status, body: body ?? { errors: [REASONS[status] ?? 'Error'] }, headers }),
    failNextRaw: (status, text) => void failures.push({ status, body: undefined, raw: text, headers: { 'content-type': 'text/html' } }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
