/**
 * simulated metrics provider: scripted values over virtual time (the query's `now`), no I/O,
 * no real waiting.
 */
import { describe, expect, it } from 'vitest';
import { BackendError } from '../../src/errors.js';
import { create, options } from '../../src/adapters/metrics/simulated.js';
import type { AdapterContext } from '../../src/adapters/types.js';

const ctx: AdapterContext = { baseDir: process.cwd(), cwd: process.cwd(), log: () => {}, env: {} };
const T0 = 1_700_000_000_000;
const S = 1000;
const sim = (o: Record<string, unknown>) => create(o, ctx);

describe('simulated provider', () => {
  const script = {
    origin: T0,
    series: {
      error_rate_percent: [
        { after: '0s', value: 0.4 },
        { after: '9s', value: 0.9 },
        { after: '12s', value: 7.2 },
        { after: '1m', value: null },
        { after: '2m', error: 'HTTP 503: overloaded' },
        { after: '3m', value: 0 },
      ],
      p95_latency_ms: 180,
      gone: null,
    },
  };

  it.each([
    [0, 0.4],
    [8.999, 0.4],
    [9, 0.9],
    [11, 0.9],
    [12, 7.2],
    [59, 7.2],
    [180, 0],
    [3600, 0],
  ])('error_rate_percent at +%ss → %s', async (sec, value) => {
    expect(await sim(script).query({ query: 'error_rate_percent', now: T0 + sec * S })).toEqual({ value, at: T0 + sec * S });
  });

  it('a null point is scripted no data (never zero)', async () => {
    expect(await sim(script).query({ query: 'error_rate_percent', now: T0 + 90 * S })).toEqual({ value: null, at: T0 + 90 * S, note: 'scripted no-data' });
  });

  it('an error point makes the provider fail with a BackendError', async () => {
    const e = await sim(script)
      .query({ query: 'error_rate_percent', now: T0 + 150 * S })
      .then(() => expect.fail('expected an error'), (err: unknown) => err as BackendError);
    expect(e).toBeInstanceOf(BackendError);
    expect(e.message).toBe('simulated: HTTP 503: overloaded');
  });

  it('constants and null constants', async () => {
    const p = sim(script);
    expect((await p.query({ query: 'p95_latency_ms', now: T0 })).value).toBe(180);
    expect((await p.query({ query: ' p95_latency_ms ', now: T0 + 86_400 * S })).value).toBe(180);
    expect(await p.query({ query: 'gone', now: T0 })).toEqual({ value: null, at: T0, note: 'scripted no-data' });
  });

  it('unknown queries: no data, or `default` when given', async () => {
    expect(await sim(script).query({ query: 'nope', now: T0 })).toEqual({ value: null, at: T0, note: 'no series "nope"' });
    expect(await sim({ ...script, default: 0 }).query({ query: 'nope', now: T0 })).toEqual({ value: 0, at: T0 });
    expect((await sim({ ...script, default: null }).query({ query: 'nope', now: T0 })).value).toBeNull();
  });

  it('before the first point there is no data', async () => {
    const p = sim({ origin: T0, series: { late: [{ after: '30s', value: 1 }] } });
    expect(await p.query({ query: 'late', now: T0 + 10 * S })).toEqual({ value: null, at: T0 + 10 * S, note: 'no scripted value yet (first at 30s)' });
    expect((await p.query({ query: 'late', now: T0 + 30 * S })).value).toBe(1);
  });

  it('points may be given out of order; equal `after`s: the later one wins', async () => {
    const p = sim({ origin: T0, series: { x: [{ after: '10s', value: 2 }, { after: '0s', value: 1 }, { after: '10s', value: 3 }] } });
    expect((await p.query({ query: 'x', now: T0 + 5 * S })).value).toBe(1);
    expect((await p.query({ query: 'x', now: T0 + 10 * S })).value).toBe(3);
  });

  it('without an origin, the first query starts the timeline (time still advances)', async () => {
    const p = sim({ series: { x: [{ after: '0s', value: 1 }, { after: '1m', value: 2 }] } });
    expect((await p.query({ query: 'x', now: T0 + 500 * S })).value).toBe(1);
    expect((await p.query({ query: 'x', now: T0 + 530 * S })).value).toBe(1);
    expect((await p.query({ query: 'x', now: T0 + 560 * S })).value).toBe(2);
  });

  it('"0" is accepted as a time; other unitless or bad durations are refused', () => {
    expect(options.safeParse({ series: { x: [{ after: '0', value: 1 }] } }).success).toBe(true);
    expect(options.safeParse({ series: { x: [{ after: '1h30m', value: 1 }] } }).success).toBe(true);
    expect(options.safeParse({ series: { x: [{ after: '30', value: 1 }] } }).success).toBe(false);
    expect(options.safeParse({ series: { x: [{ after: 'soon', value: 1 }] } }).success).toBe(false);
  });

  it('options are strict', () => {
    expect(options.safeParse({}).success).toBe(true);
    expect(options.safeParse({ bogus: 1 }).success).toBe(false);
    expect(options.safeParse({ series: { x: [{ after: '0s', value: 1, extra: 2 }] } }).success).toBe(false);
    expect(options.safeParse({ series: { x: [{ after: '0s' }] } }).success).toBe(false);
    expect(options.safeParse({ series: { x: [{ after: '0s', error: '' }] } }).success).toBe(false);
    expect(options.safeParse({ series: { x: '0.5' } }).success).toBe(false);
    expect(() => create({ series: { x: [{ after: 'later', value: 1 }] } }, ctx)).toThrow();
  });

  it('its name is "simulated"', () => {
    expect(sim({}).name).toBe('simulated');
  });
});
