/**
 * http-json metrics provider against a local JSON metrics server (test/fakes/metrics-server.ts)
 * on 127.0.0.1 with fault injection: paths (JSONPath and jq-style), no-data cases, HTTP errors,
 * secrets (headers via ${VAR}, URL credentials and query tokens) and timeouts.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BackendError, UsageError } from '../../src/errors.js';
import { create, options, toJsonPath, toNumber } from '../../src/adapters/metrics/http-json.js';
import type { AdapterContext } from '../../src/adapters/types.js';
import { interpolate } from '../../src/plan/interpolate.js';
import { redact } from '../../src/util/redact.js';
import { startMetricsServer, type MetricsServer } from '../fakes/metrics-server.js';
import { selfSigned, startHttpsServer } from '../fakes/tls.js';

let m: MetricsServer;
beforeAll(async () => {
  m = await startMetricsServer();
});
afterAll(() => m.close());
beforeEach(() => {
  m.requests.length = 0;
  m.set({});
});

const logs: string[] = [];
const ctx: AdapterContext = { baseDir: process.cwd(), cwd: process.cwd(), log: (x) => logs.push(x), env: process.env };
const NOW = 1_700_000_000_000;
const provider = (extra: Record<string, unknown> = {}) => create({ url: m.url, retryBudgetMs: 0, ...extra }, ctx);
const fail = (p: Promise<unknown>) => p.then(() => expect.fail('expected an error'), (e: unknown) => e as BackendError);

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('toJsonPath (jq-style → JSONPath)', () => {
  it.each([
    ['.domain_adapter_errors', '$.domain_adapter_errors'],
    ['domain_adapter_errors', '$.domain_adapter_errors'],
    ['.', '$'],
    ['', '$'],
    ['.a.b[0]', '$.a.b[0]'],
    ['.[2]', '$[2]'],
    ['."a-b".c', '$["a-b"].c'],
    ['.a?.b', '$.a.b'],
    ['$.a.b', '$.a.b'],
    ["$['x-y']", "$['x-y']"],
  ])('%j → %j', (jq, jp) => expect(toJsonPath(jq)).toBe(jp));

  it.each(['.a | length', 'length(.a)', '.a | .b'])('refuses jq pipes/functions: %j', (p) => {
    expect(() => toJsonPath(p)).toThrow(UsageError);
  });
});

describe('toNumber', () => {
  it.each([
    [3, 3],
    [0, 0],
    [-1.5, -1.5],
    ['0.25', 0.25],
    [' 1e3 ', 1000],
    ['-2', -2],
  ])('%j → %j', (v, n) => expect(toNumber(v)).toEqual({ value: n }));

  it.each([
    [null, /null/],
    [true, /boolean/],
    ['NaN', /NaN/],
    ['+Inf', /Inf/],
    ['1,000', /not a number/],
    ['', /not a number/],
    [{}, /object/],
    [[1], /array/],
  ])('%j → no data (%s)', (v, re) => {
    const r = toNumber(v);
    expect('reason' in r && r.reason).toMatch(re);
  });
});

describe('http-json provider', () => {
  it('the seed: curl …/metrics | jq .domain_adapter_errors', async () => {
    m.set({ domain_adapter_errors: 3, domain_adapter_usage: 1200 });
    const p = provider();
    expect(await p.query({ query: '.domain_adapter_errors', now: NOW })).toEqual({ value: 3, at: NOW });
    expect(await p.query({ query: '$.domain_adapter_usage', now: NOW })).toEqual({ value: 1200, at: NOW });
    expect(m.requests[0]).toMatchObject({ method: 'GET', path: '/metrics' });
    expect(m.requests[0]!.headers.accept).toBe('application/json');
    expect(p.name).toBe(`http-json (${m.url})`);
  });

  it('options.path is used when the check query is empty; a non-empty query overrides it', async () => {
    m.set({ a: { b: [7, 8] }, c: 1 });
    const p = provider({ path: '.a.b[1]' });
    expect((await p.query({ query: '', now: NOW })).value).toBe(8);
    expect((await p.query({ query: '  ', now: NOW })).value).toBe(8);
    expect((await p.query({ query: '.c', now: NOW })).value).toBe(1);
  });

  it('zero is a value, not no data (also a bare 0 body with path $)', async () => {
    m.set({ errors: 0 });
    expect(await provider().query({ query: '.errors', now: NOW })).toEqual({ value: 0, at: NOW });
    m.set(0);
    expect(await provider().query({ query: '', now: NOW })).toEqual({ value: 0, at: NOW });
    m.set(0.5);
    expect(await provider().query({ query: '.', now: NOW })).toEqual({ value: 0.5, at: NOW });
  });

  it('numeric strings count', async () => {
    m.set({ rate: '0.012' });
    expect((await provider().query({ query: '.rate', now: NOW })).value).toBe(0.012);
  });

  it.each([
    [{ a: 1 }, '.missing', /\$\.missing not found/],
    [{ a: { b: 1 } }, '.a.x.y', /not found/],
    [{ a: null }, '.a', /value is null/],
    [{ a: 'NaN' }, '.a', /value is NaN/],
    [{ a: 'n/a' }, '.a', /string that is not a number/],
    [{ a: true }, '.a', /boolean/],
    [{ a: { b: 1 } }, '.a', /object/],
    [{ a: [1, 2] }, '.a', /array/],
    [null, '.', /value is null/],
    [false, '$', /boolean/],
  ])('%j at %j → value null with a note', async (doc, q, note) => {
    m.set(doc);
    const s = await provider().query({ query: q, now: NOW });
    expect(s.value).toBeNull();
    expect(s.at).toBe(NOW);
    expect(s.note).toMatch(note);
  });

  it('a path matching several values is an error, not a guess', async () => {
    m.set({ a: { x: 1 }, b: { x: 2 } });
    const e = await fail(provider().query({ query: '$..x', now: NOW }));
    expect(e).toBeInstanceOf(BackendError);
    expect(e.message).toMatch(/matched 2 values/);
  });

  it('JSONPath filters work (safe eval)', async () => {
    m.set({ services: [{ name: 'checkout', errors: 4 }, { name: 'cart', errors: 9 }] });
    expect((await provider().query({ query: '$.services[?(@.name=="cart")].errors', now: NOW })).value).toBe(9);
  });

  it('HTTP 5xx → BackendError with provider name, status and the server message', async () => {
    m.fail({ status: 503, body: { error: 'overloaded, try later' } });
    const e = await fail(provider().query({ query: '.a', now: NOW }));
    expect(e).toBeInstanceOf(BackendError);
    expect(e.status).toBe(503);
    expect(e.backend).toBe(`http-json (${m.url})`);
    expect(e.message).toBe(`http-json (${m.url}): HTTP 503: overloaded, try later`);
  });

  it('HTTP 404 → BackendError, not retried', async () => {
    const p = create({ url: `${m.base}/nope`, retryBudgetMs: 5000 }, ctx);
    const e = await fail(p.query({ query: '.a', now: NOW }));
    expect(e.status).toBe(404);
    expect(e.message).toMatch(/not found/);
    expect(m.requests).toHaveLength(1);
  });

  it('a transient 5xx is retried within retryBudgetMs', async () => {
    m.set({ a: 2 });
    m.fail({ status: 502, headers: { 'retry-after': '0' } });
    const s = await create({ url: m.url, retryBudgetMs: 5000 }, ctx).query({ query: '.a', now: NOW });
    expect(s.value).toBe(2);
    expect(m.requests).toHaveLength(2);
  });

  it('a body that is not JSON → BackendError', async () => {
    m.fail({ raw: '<html>metrics moved</html>' });
    const e = await fail(provider().query({ query: '.a', now: NOW }));
    expect(e).toBeInstanceOf(BackendError);
    expect(e.message).toMatch(/not valid JSON/);
  });

  it('a redirect is reported with its location, not followed', async () => {
    m.fail({ redirect: 'http://127.0.0.1:1/new-metrics' });
    const e = await fail(provider().query({ query: '.a', now: NOW }));
    expect(e.status).toBe(302);
    expect(e.message).toMatch(/redirected to http:\/\/127\.0\.0\.1:1\/new-metrics/);
  });

  it('POST with a JSON body', async () => {
    m.set({ v: 1 });
    await create({ url: m.url, method: 'POST', body: { q: 'errors' }, retryBudgetMs: 0 }, ctx).query({ query: '.v', now: NOW });
    expect(m.requests[0]).toMatchObject({ method: 'POST', body: '{"q":"errors"}' });
    expect(m.requests[0]!.headers['content-type']).toBe('application/json');
  });

  it('timeoutMs bounds a hung server', async () => {
    m.fail({ hang: true });
    const t0 = Date.now();
    const e = await fail(provider({ timeoutMs: 150 }).query({ query: '.a', now: NOW }));
    expect(e).toBeInstanceOf(BackendError);
    // util/http reports "timed out after 150 ms" once it recognises undici's TimeoutError
    // (DOMException code 23); until then the message says "aborted due to timeout".
    expect(e.message).toMatch(/timed out after 150 ms|aborted due to timeout/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('server down → BackendError with a hint', async () => {
    const port = await closedPort();
    const e = await fail(create({ url: `http://127.0.0.1:${port}/metrics`, retryBudgetMs: 0 }, ctx).query({ query: '.a', now: NOW }));
    expect(e).toBeInstanceOf(BackendError);
    expect(e.message).toMatch(/ECONNREFUSED/);
    expect(e.hint).toMatch(/server running/);
  });

  it('a dropped connection → BackendError', async () => {
    m.fail({ destroy: true });
    const e = await fail(provider().query({ query: '.a', now: NOW }));
    expect(e).toBeInstanceOf(BackendError);
  });
});

describe('http-json secrets', () => {
  it('auth header from ${VAR}: sent, and never shown in errors', async () => {
    const token = 'hj-token-0e5c1f9a';
    const opts = interpolate({ url: m.url, headers: { Authorization: 'Bearer ${METRICS_TOKEN}' }, retryBudgetMs: 0 }, { METRICS_TOKEN: token }, []) as Record<string, unknown>;
    m.requireHeader('authorization', `Bearer ${token}`);
    m.set({ a: 1 });
    try {
      expect((await create(opts, ctx).query({ query: '.a', now: NOW })).value).toBe(1);
      expect(m.requests[0]!.headers.authorization).toBe(`Bearer ${token}`);
      // The server echoes the header back in an error: it must come out redacted.
      m.fail({ status: 500, body: { error: `bad auth header Bearer ${token}` } });
      const e = await fail(create(opts, ctx).query({ query: '.a', now: NOW }));
      expect(e.message).not.toContain(token);
      expect(e.message).toContain('***');
    } finally {
      m.requireHeader();
    }
  });

  it('wrong credentials → 401 BackendError with a token hint', async () => {
    m.requireHeader('x-api-key', 'right-key-123456');
    try {
      const e = await fail(provider({ headers: { 'X-Api-Key': 'wrong-key-654321' } }).query({ query: '.a', now: NOW }));
      expect(e.status).toBe(401);
      expect(e.hint).toMatch(/token/);
    } finally {
      m.requireHeader();
    }
  });

  it('URL credentials become Basic auth and are redacted', async () => {
    const url = m.url.replace('http://', 'http://metrics-user:pw-9f8e7d6c@');
    const p = create({ url, retryBudgetMs: 0 }, ctx);
    expect(p.name).not.toContain('pw-9f8e7d6c');
    m.set({ a: 5 });
    expect((await p.query({ query: '.a', now: NOW })).value).toBe(5);
    expect(m.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from('metrics-user:pw-9f8e7d6c').toString('base64')}`);
    expect(redact(`failed: ${url}`)).not.toContain('pw-9f8e7d6c');
  });

  it('a token in the query string never appears in errors or the name', async () => {
    const secret = 'qs-secret-77aa88bb';
    const port = await closedPort();
    const p = create({ url: `http://127.0.0.1:${port}/metrics?access-token=${secret}&service=checkout`, retryBudgetMs: 0 }, ctx);
    expect(p.name).not.toContain(secret);
    const e = await fail(p.query({ query: '.a', now: NOW }));
    expect(e.message).not.toContain(secret);
    // Sent as given when the server is there.
    const q = create({ url: `${m.url}?token=${secret}`, retryBudgetMs: 0 }, ctx);
    m.set({ a: 1 });
    await q.query({ query: '.a', now: NOW });
    expect(m.requests[0]!.query.token).toBe(secret);
  });
});

describe('http-json options', () => {
  it('are strict and validated', () => {
    expect(options.safeParse({ url: m.url }).success).toBe(true);
    expect(options.safeParse({ url: m.url, bogus: 1 }).success).toBe(false);
    expect(options.safeParse({ url: 'ftp://x/metrics' }).success).toBe(false);
    expect(options.safeParse({ url: 'not a url' }).success).toBe(false);
    expect(options.safeParse({ url: m.url, timeoutMs: 0 }).success).toBe(false);
    expect(options.parse({ url: m.url })).toMatchObject({ method: 'GET', timeoutMs: 10_000, insecureTls: false });
  });

  it('a jq pipe in options.path fails at create time', () => {
    expect(() => create({ url: m.url, path: '.a | length' }, ctx)).toThrow(UsageError);
  });

  it('insecureTls logs a warning', () => {
    logs.length = 0;
    create({ url: m.url, insecureTls: true }, ctx);
    expect(logs.join('\n')).toMatch(/WARNING: .*TLS certificate verification is off/i);
  });
});

const tls = selfSigned();
if (!tls) console.warn('metrics-httpjson: openssl not available: TLS tests skipped');

describe.skipIf(!tls)('http-json over HTTPS with a self-signed certificate', () => {
  let srv: Awaited<ReturnType<typeof startHttpsServer>>;
  let url: string;
  beforeAll(async () => {
    srv = await startHttpsServer(tls!, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: 2 }));
    });
    url = `${srv.url}/metrics`;
  });
  afterAll(() => srv.close());

  it('is refused by default (certificate verification is on)', async () => {
    const e = await fail(create({ url, retryBudgetMs: 0 }, ctx).query({ query: '.errors', now: NOW }));
    expect(e).toBeInstanceOf(BackendError);
    expect(e.message).toMatch(/self[- ]signed|certificate/i);
  });

  it('insecureTls: true reads it (and warned at create time)', async () => {
    logs.length = 0;
    const p = create({ url, insecureTls: true, retryBudgetMs: 0 }, ctx);
    expect(logs.some((l) => /TLS certificate verification is off/i.test(l))).toBe(true);
    expect(await p.query({ query: '.errors', now: NOW })).toEqual({ value: 2, at: NOW });
  });
});
