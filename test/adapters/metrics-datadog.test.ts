/**
 * datadog metrics provider against the fake v1 "Query timeseries points" API
 * (test/fakes/datadog.ts, built from Datadog's documented request/response shapes: from/to in
 * epoch seconds, DD-API-KEY + DD-APPLICATION-KEY headers, pointlist [[ts_ms, value|null]],
 * errors as {"errors": [...]}). Times are a fixed virtual `now`: the fake filters points by
 * the from/to the provider sends, so no test waits for real time.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BackendError, UsageError } from '../../src/errors.js';
import { create, options, siteUrl } from '../../src/adapters/metrics/datadog.js';
import type { AdapterContext } from '../../src/adapters/types.js';
import { redact } from '../../src/util/redact.js';
import { startFakeDatadog, type FakeDatadog } from '../fakes/datadog.js';

const apiKey = 'dd-api-key-3f2a9c1b7e';
const appKey = 'dd-app-key-8d7c6b5a4f';
let dd: FakeDatadog;
beforeAll(async () => {
  dd = await startFakeDatadog({ apiKey, appKey });
});
afterAll(() => dd.close());
beforeEach(() => {
  dd.requests.length = 0;
});

const logs: string[] = [];
const ctx: AdapterContext = { baseDir: process.cwd(), cwd: process.cwd(), log: (m) => logs.push(m), env: process.env };
const NOW = 1_700_000_000_000; // a whole second
const S = 1000;
const provider = (extra: Record<string, unknown> = {}) => create({ apiKey, appKey, site: dd.url, retryBudgetMs: 0, ...extra }, ctx);
const fail = (p: Promise<unknown>) => p.then(() => expect.fail('expected an error'), (e: unknown) => e as BackendError);

describe('siteUrl', () => {
  it.each([
    ['datadoghq.com', 'https://api.datadoghq.com'],
    ['app.datadoghq.com', 'https://api.datadoghq.com'],
    ['datadoghq.eu', 'https://api.datadoghq.eu'],
    ['app.datadoghq.eu', 'https://api.datadoghq.eu'],
    ['us3.datadoghq.com', 'https://api.us3.datadoghq.com'],
    ['us5.datadoghq.com', 'https://api.us5.datadoghq.com'],
    ['ap1.datadoghq.com', 'https://api.ap1.datadoghq.com'],
    ['ddog-gov.com', 'https://api.ddog-gov.com'],
    ['api.datadoghq.com', 'https://api.datadoghq.com'],
    ['https://api.datadoghq.eu/', 'https://api.datadoghq.eu'],
    ['http://127.0.0.1:8126', 'http://127.0.0.1:8126'],
  ])('%s → %s', (site, url) => expect(siteUrl(site)).toBe(url));

  it('the provider name shows the API host (no keys)', () => {
    const p = create({ apiKey, appKey, site: 'datadoghq.eu' }, ctx);
    expect(p.name).toBe('datadog (https://api.datadoghq.eu)');
    expect(create({ apiKey, appKey }, ctx).name).toBe('datadog (https://api.datadoghq.com)');
  });
});

describe('datadog provider', () => {
  it('GET /api/v1/query with from/to in seconds over windowMs, both key headers; the last point is the value', async () => {
    const query = 'avg:trace.http.request.errors{service:checkout}';
    dd.define(query, [{ scope: 'service:checkout', points: [[NOW - 120 * S, 0.5], [NOW - 60 * S, 0.25], [NOW - 20 * S, 0.125]] }]);
    const s = await provider().query({ query, now: NOW + 400 }); // sub-second now: floored
    expect(s).toEqual({ value: 0.125, at: NOW - 20 * S });
    const r = dd.requests[0]!;
    expect(r.method).toBe('GET');
    expect(r.path).toBe('/api/v1/query');
    expect(r.params).toEqual({ from: String((NOW - 300 * S) / 1000), to: String(NOW / 1000), query });
    expect(r.headers['dd-api-key']).toBe(apiKey);
    expect(r.headers['dd-application-key']).toBe(appKey);
  });

  it('zero is a value', async () => {
    dd.define('sum:errors{*}', [{ points: [[NOW - 10 * S, 0]] }]);
    expect((await provider().query({ query: 'sum:errors{*}', now: NOW })).value).toBe(0);
  });

  it('the last NON-null point counts: trailing nulls (an unfinished rollup) are skipped', async () => {
    dd.define('avg:lat{*}', [{ points: [[NOW - 90 * S, 210], [NOW - 60 * S, 230], [NOW - 30 * S, null], [NOW - 5 * S, null]] }]);
    expect(await provider().query({ query: 'avg:lat{*}', now: NOW })).toEqual({ value: 230, at: NOW - 60 * S });
  });

  it('empty series → no data, never zero', async () => {
    const s = await provider().query({ query: 'avg:nobody.defined.this{*}', now: NOW });
    expect(s).toEqual({ value: null, at: NOW, note: 'empty result (no series in the last 300 s)' });
  });

  it('only null points → no data', async () => {
    dd.define('avg:gaps{*}', [{ points: [[NOW - 60 * S, null], [NOW - 30 * S, null]] }]);
    const s = await provider().query({ query: 'avg:gaps{*}', now: NOW });
    expect(s.value).toBeNull();
    expect(s.note).toMatch(/no non-null points in the last 300 s/);
  });

  it('points older than windowMs are not seen (the window is the staleness bound)', async () => {
    dd.define('avg:old{*}', [{ points: [[NOW - 10 * 60 * S, 0.9]] }]);
    expect((await provider().query({ query: 'avg:old{*}', now: NOW })).value).toBeNull();
    expect((await provider({ windowMs: 15 * 60 * S }).query({ query: 'avg:old{*}', now: NOW })).value).toBe(0.9);
    expect(dd.requests[1]!.params.from).toBe(String((NOW - 15 * 60 * S) / 1000));
  });

  describe('several series', () => {
    const query = 'avg:errors{*} by {host}';
    beforeAll(() => {
      dd.define(query, [
        { scope: 'host:a', points: [[NOW - 30 * S, 1], [NOW - 10 * S, 2]] },
        { scope: 'host:b', points: [[NOW - 20 * S, 6]] },
        { scope: 'host:c', points: [[NOW - 20 * S, null]] },
      ]);
    });
    it.each([
      ['max', 6],
      ['min', 2],
      ['sum', 8],
      ['avg', 4],
    ])('aggregate %s of the last points → %d', async (aggregate, value) => {
      const s = await provider({ aggregate }).query({ query, now: NOW });
      expect(s.value).toBe(value);
      expect(s.at).toBe(NOW - 10 * S);
      expect(s.note).toBe(`3 series, took ${aggregate} of 2 (no points: errors{host:c})`);
    });
    it('aggregate: error refuses several series', async () => {
      const e = await fail(provider({ aggregate: 'error' }).query({ query, now: NOW }));
      expect(e).toBeInstanceOf(BackendError);
      expect(e.message).toMatch(/returned 3 series .*expected one/);
    });
  });

  it.each([
    ['a wrong API key', { apiKey: 'dd-api-key-WRONG-0000' }],
    ['a wrong application key', { appKey: 'dd-app-key-WRONG-0000' }],
  ])('403 (%s) → a clear authentication error, keys not shown', async (_what, keys) => {
    const e = await fail(provider(keys).query({ query: 'avg:x{*}', now: NOW }));
    expect(e).toBeInstanceOf(BackendError);
    expect(e.status).toBe(403);
    expect(e.message).toMatch(/^datadog \(http:\/\/127\.0\.0\.1:\d+\): HTTP 403: authentication failed \(Forbidden\)/);
    expect(e.hint).toMatch(/apiKey \(DD-API-KEY\) and appKey \(DD-APPLICATION-KEY\).*timeseries_query/);
    expect(e.retryable).toBe(false);
    for (const k of [apiKey, appKey, ...Object.values(keys)]) expect(`${e.message} ${e.hint}`).not.toContain(k);
  });

  it('403 with a non-JSON body (a proxy page) is still an authentication error', async () => {
    dd.failNextRaw(403, '<html>denied</html>');
    const e = await fail(provider().query({ query: 'avg:x{*}', now: NOW }));
    expect(e.status).toBe(403);
    expect(e.message).toMatch(/authentication failed/);
  });

  it('400 for a bad query → its message and a query hint', async () => {
    const e = await fail(provider().query({ query: 'avg:x{service:checkout', now: NOW }));
    expect(e.status).toBe(400);
    expect(e.message).toMatch(/Error parsing query/);
    expect(e.hint).toMatch(/Metrics Explorer/);
  });

  it('an empty query is a usage error, and nothing is sent', async () => {
    await expect(provider().query({ query: '  ', now: NOW })).rejects.toBeInstanceOf(UsageError);
    expect(dd.requests).toHaveLength(0);
  });

  it('429 is retried within retryBudgetMs (Retry-After honoured)', async () => {
    dd.define('avg:r{*}', [{ points: [[NOW - 10 * S, 3]] }]);
    dd.failNext(429, undefined, { 'retry-after': '0' });
    expect((await provider({ retryBudgetMs: 5000 }).query({ query: 'avg:r{*}', now: NOW })).value).toBe(3);
    expect(dd.requests).toHaveLength(2);
  });

  it('429 / 5xx without a retry budget → BackendError with the status', async () => {
    dd.failNext(429);
    let e = await fail(provider().query({ query: 'avg:r{*}', now: NOW }));
    expect(e.status).toBe(429);
    expect(e.message).toMatch(/Too many requests/);
    dd.failNext(500);
    e = await fail(provider().query({ query: 'avg:r{*}', now: NOW }));
    expect(e.status).toBe(500);
  });

  it('200 with status "error" → BackendError with its message', async () => {
    dd.failNext(200, { status: 'error', res_type: 'time_series', series: [], error: 'Rate limit of 300 requests in 3600 seconds reached' });
    const e = await fail(provider().query({ query: 'avg:r{*}', now: NOW }));
    expect(e.message).toMatch(/query failed \(status "error"\): Rate limit/);
  });

  it('a 200 that is not JSON → BackendError pointing at the site', async () => {
    dd.failNextRaw(200, 'not json at all');
    const e = await fail(provider().query({ query: 'avg:r{*}', now: NOW }));
    expect(e.message).toMatch(/response is not JSON/);
    expect(e.hint).toMatch(/site/);
  });

  it('the keys are registered as secrets', () => {
    provider();
    expect(redact(`x ${apiKey} y ${appKey}`)).toBe('x *** y ***');
  });

  it('options are strict; both keys required', () => {
    expect(options.safeParse({ apiKey, appKey }).success).toBe(true);
    expect(options.safeParse({ apiKey }).success).toBe(false);
    expect(options.safeParse({ appKey }).success).toBe(false);
    expect(options.safeParse({ apiKey, appKey, bogus: 1 }).success).toBe(false);
    expect(options.safeParse({ apiKey, appKey, aggregate: 'median' }).success).toBe(false);
    expect(options.parse({ apiKey, appKey })).toMatchObject({ site: 'https://api.datadoghq.com', windowMs: 300_000, aggregate: 'max' });
  });

  it('insecureTls logs a warning', () => {
    logs.length = 0;
    provider({ insecureTls: true });
    expect(logs.join('\n')).toMatch(/WARNING: datadog .*TLS certificate verification is off/i);
  });
});
