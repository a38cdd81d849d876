/**
 * prometheus provider: response parsing edge cases against a local fake HTTP server on
 * 127.0.0.1 that answers canned Prometheus API bodies (the real-Prometheus tests are in
 * metrics-prometheus.test.ts).
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BackendError } from '../../src/errors.js';
import { create, options, parseSampleValue, reduceValues } from '../../src/adapters/metrics/prometheus.js';
import type { AdapterContext } from '../../src/adapters/types.js';
import { redact } from '../../src/util/redact.js';

interface Seen {
  path: string;
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
}
let server: Server;
let base: string;
let seen: Seen[] = [];
let reply: (s: Seen) => { status?: number; body: unknown } = () => ({ body: {} });

beforeAll(async () => {
  server = createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    const s: Seen = { path: u.pathname, params: Object.fromEntries(u.searchParams), headers: req.headers };
    seen.push(s);
    const r = reply(s);
    const text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    res.writeHead(r.status ?? 200, { 'content-type': 'application/json' });
    res.end(text);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  seen = [];
});

const logs: string[] = [];
const ctx: AdapterContext = { baseDir: process.cwd(), cwd: process.cwd(), log: (m) => logs.push(m), env: process.env };
const NOW = 1_700_000_000_000;
const vector = (...items: Array<[Record<string, string>, string, number?]>) => ({
  status: 'success',
  data: { resultType: 'vector', result: items.map(([metric, v, t]) => ({ metric, value: [(t ?? NOW) / 1000, v] })) },
});
const prom = (extra: Record<string, unknown> = {}) => create({ url: base, retryBudgetMs: 0, ...extra }, ctx);
const fail = (p: Promise<unknown>) => p.then(() => expect.fail('expected a BackendError'), (e: unknown) => e as BackendError);

describe('prometheus response parsing', () => {
  it('sends GET /api/v1/query with query and time = now/1000, keeping a path prefix', async () => {
    reply = () => ({ body: vector([{ __name__: 'x' }, '0.5']) });
    const s = await create({ url: `${base}/prom/`, retryBudgetMs: 0 }, ctx).query({ query: 'sum(rate(x[5m]))', now: NOW + 123 });
    expect(s).toEqual({ value: 0.5, at: NOW });
    expect(seen[0]).toMatchObject({ path: '/prom/api/v1/query', params: { query: 'sum(rate(x[5m]))', time: String((NOW + 123) / 1000) } });
  });

  it('scalar result', async () => {
    reply = () => ({ body: { status: 'success', data: { resultType: 'scalar', result: [NOW / 1000, '3.5'] } } });
    expect(await prom().query({ query: 'scalar(x)', now: NOW })).toEqual({ value: 3.5, at: NOW });
  });

  it.each([
    ['NaN', 'value is NaN'],
    ['+Inf', 'value is +Inf'],
    ['-Inf', 'value is -Inf'],
  ])('%s → null with a note', async (raw, note) => {
    reply = () => ({ body: vector([{ __name__: 'x' }, raw]) });
    expect(await prom().query({ query: 'x', now: NOW })).toEqual({ value: null, at: NOW, note });
    reply = () => ({ body: { status: 'success', data: { resultType: 'scalar', result: [NOW / 1000, raw] } } });
    expect((await prom().query({ query: 'x', now: NOW })).note).toBe(note);
  });

  it('empty vector → null "empty result", never 0', async () => {
    reply = () => ({ body: vector() });
    expect(await prom().query({ query: 'x', now: NOW })).toEqual({ value: null, at: NOW, note: 'empty result (no series matched)' });
  });

  it('a sample older than now - stalenessMs is stale: null', async () => {
    reply = () => ({ body: vector([{ __name__: 'x' }, '1', NOW - 10 * 60_000]) });
    const s = await prom().query({ query: 'x', now: NOW });
    expect(s.value).toBeNull();
    expect(s.note).toMatch(/^stale: sample is 600 s old/);
    // Within a larger staleness bound it counts.
    expect((await prom({ stalenessMs: 15 * 60_000 }).query({ query: 'x', now: NOW })).value).toBe(1);
  });

  it('several series: NaN/stale ones are left out of the reduction and named in the note', async () => {
    reply = () => ({
      body: vector([{ __name__: 'x', pod: 'a' }, '2'], [{ __name__: 'x', pod: 'b' }, 'NaN'], [{ __name__: 'x', pod: 'c' }, '4'], [{ __name__: 'x', pod: 'd' }, '100', NOW - 3_600_000]),
    });
    const s = await prom({ aggregate: 'avg' }).query({ query: 'x', now: NOW });
    expect(s.value).toBe(3);
    expect(s.note).toBe('4 series, took avg of 2 (no data: x{pod="b"}: value is NaN; x{pod="d"}: stale: sample is 3600 s old (stalenessMs 300000))');
    reply = () => ({ body: vector([{ __name__: 'x', pod: 'a' }, 'NaN'], [{ __name__: 'x', pod: 'b' }, '+Inf']) });
    const none = await prom().query({ query: 'x', now: NOW });
    expect(none.value).toBeNull();
    expect(none.note).toBe('x{pod="a"}: value is NaN; x{pod="b"}: value is +Inf');
  });

  it('aggregate: error with several series names some of them', async () => {
    reply = () => ({ body: vector([{ __name__: 'x', pod: 'a' }, '1'], [{ __name__: 'x', pod: 'b' }, '2']) });
    const e = await fail(prom({ aggregate: 'error' }).query({ query: 'x', now: NOW }));
    expect(e).toBeInstanceOf(BackendError);
    expect(e.message).toContain('query returned 2 series (x{pod="a"}, x{pod="b"}); expected one');
  });

  it('warnings are kept in the note', async () => {
    reply = () => ({ body: { ...vector([{}, '1']), warnings: ['PromQL info: metric might not be a counter'] } });
    expect((await prom().query({ query: 'x', now: NOW })).note).toBe('warnings: PromQL info: metric might not be a counter');
  });

  it('status "error" (400 bad_data, 422 execution) → BackendError with errorType and error', async () => {
    reply = () => ({ status: 400, body: { status: 'error', errorType: 'bad_data', error: '1:9: parse error: unclosed left parenthesis' } });
    let e = await fail(prom().query({ query: 'sum(rate(', now: NOW }));
    expect(e).toBeInstanceOf(BackendError);
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/^prometheus \(http:\/\/127\.0\.0\.1:\d+\): HTTP 400: bad_data: 1:9: parse error: unclosed left parenthesis$/);
    reply = () => ({ status: 422, body: { status: 'error', errorType: 'execution', error: 'query processing would load too many samples' } });
    e = await fail(prom().query({ query: 'x', now: NOW }));
    expect(e.message).toMatch(/HTTP 422: execution: query processing would load too many samples/);
    // status "error" on a 200 (a proxy or compatible API) is still an error.
    reply = () => ({ body: { status: 'error', errorType: 'timeout', error: 'query timed out' } });
    e = await fail(prom().query({ query: 'x', now: NOW }));
    expect(e.message).toMatch(/: timeout: query timed out$/);
  });

  it('5xx, garbage and odd result types → BackendError', async () => {
    reply = () => ({ status: 503, body: 'overloaded' });
    let e = await fail(prom().query({ query: 'x', now: NOW }));
    expect(e.status).toBe(503);
    expect(e.message).toContain('overloaded');
    reply = () => ({ body: '<html>login</html>' });
    e = await fail(prom().query({ query: 'x', now: NOW }));
    expect(e.message).toMatch(/response is not Prometheus API JSON: <html>login<\/html>/);
    reply = () => ({ body: { status: 'success', data: { resultType: 'string', result: [NOW / 1000, 'hello'] } } });
    e = await fail(prom().query({ query: '"hello"', now: NOW }));
    expect(e.message).toMatch(/query returned a string, not a number/);
    reply = () => ({ body: { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: 'oops' }] } } });
    e = await fail(prom().query({ query: 'x', now: NOW }));
    expect(e.message).toMatch(/malformed/);
    reply = () => ({ body: { status: 'success' } });
    e = await fail(prom().query({ query: 'x', now: NOW }));
    expect(e.message).toMatch(/no data/);
  });

  it('5xx is retried within retryBudgetMs', async () => {
    let n = 0;
    reply = () => (++n < 3 ? { status: 503, body: { status: 'error', errorType: 'unavailable', error: 'busy' } } : { body: vector([{}, '8']) });
    expect((await prom({ retryBudgetMs: 5000 }).query({ query: 'x', now: NOW })).value).toBe(8);
    expect(n).toBe(3);
  });

  it('headers are sent, and their values never appear in errors', async () => {
    const token = 'Bearer s3cr3t-prom-token-xyz';
    reply = (s) => ({ status: 400, body: { status: 'error', errorType: 'bad_data', error: `echo ${String(s.headers.authorization)}` } });
    const e = await fail(prom({ headers: { Authorization: token } }).query({ query: 'x', now: NOW }));
    expect(seen[0]!.headers.authorization).toBe(token);
    expect(e.message).not.toContain('s3cr3t');
    expect(e.message).toContain('***');
    expect(redact(token)).toBe('***');
  });

  it('window mode: query_range over [now-window, now], reduced per step then over time', async () => {
    const matrix = {
      status: 'success',
      data: {
        resultType: 'matrix',
        result: [
          { metric: { pod: 'a' }, values: [[(NOW - 20_000) / 1000, '1'], [(NOW - 10_000) / 1000, '6'], [NOW / 1000, '2']] },
          { metric: { pod: 'b' }, values: [[(NOW - 20_000) / 1000, '3'], [(NOW - 10_000) / 1000, 'NaN'], [NOW / 1000, '2']] },
        ],
      },
    };
    reply = () => ({ body: matrix });
    const s = await prom({ window: 'max', aggregate: 'sum' }).query({ query: 'x', now: NOW, windowMs: 30_000 });
    expect(seen[0]).toMatchObject({ path: '/api/v1/query_range', params: { query: 'x', start: String((NOW - 30_000) / 1000), end: String(NOW / 1000), step: '1' } });
    // sums per step: 4, 6 (NaN skipped), 4 → max 6
    expect(s).toEqual({ value: 6, at: NOW, note: 'max over 30 s window (3 steps of 1000 ms, 2 series, sum per step)' });
    expect((await prom({ window: 'avg', aggregate: 'max' }).query({ query: 'x', now: NOW, windowMs: 30_000 })).value).toBeCloseTo((3 + 6 + 2) / 3);
    // No window on the check → instant query even in window mode.
    reply = () => ({ body: vector([{}, '5']) });
    seen = [];
    expect((await prom({ window: 'max' }).query({ query: 'x', now: NOW })).value).toBe(5);
    expect(seen[0]!.path).toBe('/api/v1/query');
    // Default step: window/60, at least 1 s.
    reply = () => ({ body: matrix });
    seen = [];
    await prom({ window: 'max' }).query({ query: 'x', now: NOW, windowMs: 600_000 });
    expect(seen[0]!.params.step).toBe('10');
  });

  it('window mode: empty / all-NaN / stale → null', async () => {
    reply = () => ({ body: { status: 'success', data: { resultType: 'matrix', result: [] } } });
    expect((await prom({ window: 'max' }).query({ query: 'x', now: NOW, windowMs: 60_000 })).note).toMatch(/^empty result/);
    reply = () => ({ body: { status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [[NOW / 1000, 'NaN']] }] } } });
    expect((await prom({ window: 'max' }).query({ query: 'x', now: NOW, windowMs: 60_000 })).note).toMatch(/no finite values/);
    reply = () => ({ body: { status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [[(NOW - 3_600_000) / 1000, '1']] }] } } });
    const s = await prom({ window: 'max' }).query({ query: 'x', now: NOW, windowMs: 7_200_000 });
    expect(s.value).toBeNull();
    expect(s.note).toMatch(/^stale/);
  });

  it('queryRange returns series with ms timestamps and null for NaN', async () => {
    reply = () => ({ body: { status: 'success', data: { resultType: 'matrix', result: [{ metric: { job: 'j' }, values: [[1.5, '1'], [2.5, '+Inf']] }] } } });
    expect(await prom().queryRange('x', 1000, 3000, 1000)).toEqual([{ labels: { job: 'j' }, points: [{ at: 1500, value: 1 }, { at: 2500, value: null }] }]);
  });
});

describe('prometheus options and helpers', () => {
  it('options: strict, with defaults', () => {
    expect(options.parse({ url: 'http://p:9090' })).toEqual({
      url: 'http://p:9090',
      timeoutMs: 10_000,
      retryBudgetMs: 15_000,
      insecureTls: false,
      stalenessMs: 300_000,
      aggregate: 'max',
      window: 'instant',
    });
    expect(options.safeParse({ url: 'http://p:9090', bogus: 1 }).success).toBe(false);
    expect(options.safeParse({ url: 'ftp://p' }).success).toBe(false);
    expect(options.safeParse({ url: 'http://p', aggregate: 'median' }).success).toBe(false);
  });

  it('insecureTls logs a warning', () => {
    logs.length = 0;
    create({ url: 'https://p:9090', insecureTls: true }, ctx);
    expect(logs.join('\n')).toMatch(/TLS certificate verification is off/i);
  });

  it('parseSampleValue / reduceValues', () => {
    expect(parseSampleValue('1e-3')).toEqual({ value: 0.001 });
    expect(parseSampleValue('')).toHaveProperty('reason');
    expect(parseSampleValue('abc')).toHaveProperty('reason');
    expect(reduceValues([1, 2, 6], 'avg')).toBe(3);
    expect(reduceValues([1, 2, 6], 'sum')).toBe(9);
    expect(reduceValues([1, 2, 6], 'min')).toBe(1);
  });
});
