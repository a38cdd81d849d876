/**
 * Check judging (src/analysis/judge.ts): thresholds, relative-to-baseline, `for:` sustained
 * windows and no-data tracking, table-driven. The policies that act on a judgement (noData
 * hold/pause/rollback/pass, tier → action) live in the engine; the last block drives the pure
 * engine `tick` with judged observations to pin them down end to end. Time is plain numbers.
 */
import { describe, expect, it } from 'vitest';
import { describeThreshold, judge, type CheckRecord, type CheckReading } from '../../src/analysis/judge.js';
import { createRun, tick } from '../../src/engine/engine.js';
import type { RunState } from '../../src/engine/types.js';
import type { Check, Plan } from '../../src/plan/model.js';
import { parsePlanText } from '../../src/plan/load.js';

const T0 = 1_700_000_000_000;
const S = 1000;
const M = 60 * S;

const check = (over: Partial<Check> = {}): Check => ({
  name: 'errors',
  provider: 'p',
  query: 'q',
  forMs: 0,
  noData: 'hold',
  noDataTimeoutMs: 15 * M,
  tier: 'critical',
  action: 'rollback',
  freeze: false,
  unit: '',
  ...over,
});

describe('judge: one observation against thresholds', () => {
  it.each<[string, Partial<Check>, CheckReading, CheckRecord['verdict'], RegExp]>([
    ['below max', { max: 5 }, { value: 4.9 }, 'pass', /4\.9 ok \(≤ 5\)/],
    ['at max (inclusive)', { max: 5 }, { value: 5 }, 'pass', /ok/],
    ['above max', { max: 5, unit: '%' }, { value: 5.01 }, 'fail', /^5\.01% > max 5%$/],
    ['zero is a value', { max: 0 }, { value: 0 }, 'pass', /0 ok/],
    ['above min', { min: 99 }, { value: 99.5 }, 'pass', /ok \(≥ 99\)/],
    ['at min (inclusive)', { min: 99 }, { value: 99 }, 'pass', /ok/],
    ['below min', { min: 99 }, { value: 98 }, 'fail', /^98 < min 99$/],
    ['inside a max+min band', { min: 1, max: 2 }, { value: 1.5 }, 'pass', /ok \(≤ 2, ≥ 1\)/],
    ['negative values', { min: -10 }, { value: -11 }, 'fail', /-11 < min -10/],
    ['relative: within +10%', { relative: { baseline: 'b', maxIncrease: 0.1 } }, { value: 109, baseline: 100 }, 'pass', /ok \(≤ baseline \+10%\)/],
    ['relative: exactly +10% passes', { relative: { baseline: 'b', maxIncrease: 0.1 } }, { value: 110, baseline: 100 }, 'pass', /ok/],
    ['relative: +11% fails', { relative: { baseline: 'b', maxIncrease: 0.1 }, unit: 'ms' }, { value: 111, baseline: 100 }, 'fail', /^111ms is more than 10% above baseline 100ms$/],
    ['relative: a drop passes maxIncrease', { relative: { baseline: 'b', maxIncrease: 0.1 } }, { value: 50, baseline: 100 }, 'pass', /ok/],
    ['relative: maxDecrease 20%: -15% passes', { relative: { baseline: 'b', maxDecrease: 0.2 } }, { value: 85, baseline: 100 }, 'pass', /ok \(≥ baseline −20%\)/],
    ['relative: maxDecrease 20%: -25% fails', { relative: { baseline: 'b', maxDecrease: 0.2 } }, { value: 75, baseline: 100 }, 'fail', /more than 20% below baseline 100/],
    ['relative: maxIncrease 0.5 = +50%', { relative: { baseline: 'b', maxIncrease: 0.5 } }, { value: 0.149, baseline: 0.1 }, 'pass', /\+50%/],
    ['relative: maxIncrease 1 = +100%', { relative: { baseline: 'b', maxIncrease: 1 } }, { value: 201, baseline: 100 }, 'fail', /more than 100% above/],
    ['relative: zero baseline, zero value', { relative: { baseline: 'b', maxIncrease: 0.1 } }, { value: 0, baseline: 0 }, 'pass', /ok/],
    ['relative: zero baseline, any increase fails', { relative: { baseline: 'b', maxIncrease: 0.1 } }, { value: 0.001, baseline: 0 }, 'fail', /above baseline 0/],
    ['relative: negative baseline, within +10%', { relative: { baseline: 'b', maxIncrease: 0.1 } }, { value: -9.5, baseline: -10 }, 'pass', /ok/],
    ['relative: negative baseline, beyond +10%', { relative: { baseline: 'b', maxIncrease: 0.1 } }, { value: -8.9, baseline: -10 }, 'fail', /above baseline -10/],
    ['relative: negative baseline, within −10%', { relative: { baseline: 'b', maxDecrease: 0.1 } }, { value: -10.5, baseline: -10 }, 'pass', /ok/],
    ['relative: negative baseline, beyond −10%', { relative: { baseline: 'b', maxDecrease: 0.1 } }, { value: -11.5, baseline: -10 }, 'fail', /below baseline -10/],
    ['max and relative: max checked first', { max: 5, relative: { baseline: 'b', maxIncrease: 0.1 } }, { value: 6, baseline: 1 }, 'fail', /> max 5/],
    ['max and relative: relative fails under max', { max: 5, relative: { baseline: 'b', maxIncrease: 0.1 } }, { value: 3, baseline: 1 }, 'fail', /above baseline 1/],
    ['no data (null) is never zero', { max: 5 }, { value: null }, 'no-data', /^no data$/],
    ['no data keeps the provider note', { min: 1 }, { value: null, note: 'empty result (no series matched)' }, 'no-data', /^empty result/],
    ['NaN is no data', { max: 5 }, { value: Number.NaN }, 'no-data', /no data/],
    ['Infinity is no data', { max: 5 }, { value: Number.POSITIVE_INFINITY }, 'no-data', /no data/],
    ['provider error is no data with the reason', { max: 5 }, { value: null, error: 'prometheus: HTTP 503: down' }, 'no-data', /^provider error: prometheus: HTTP 503: down$/],
    ['relative without a baseline is no data', { relative: { baseline: 'b', maxIncrease: 0.1 } }, { value: 1, baseline: null }, 'no-data', /^baseline has no data$/],
    ['relative with a NaN baseline is no data', { relative: { baseline: 'b', maxIncrease: 0.1 } }, { value: 1, baseline: Number.NaN }, 'no-data', /baseline has no data/],
    ['relative with no baseline key is no data', { relative: { baseline: 'b', maxDecrease: 0.1 } }, { value: 1 }, 'no-data', /baseline has no data/],
  ])('%s', (_name, over, obs, verdict, reason) => {
    const r = judge(check(over), obs, undefined, T0);
    expect(r.verdict).toBe(verdict);
    expect(r.reason).toMatch(reason);
    expect(r.at).toBe(T0);
    // Without `for:`, a failure is a breach at once; nothing else is.
    expect(r.breached).toBe(verdict === 'fail');
    if (verdict === 'no-data') expect(r.value).toBeNull();
    else expect(r.value).toBe(obs.value);
  });

  it('not measured at all (no observation) is no data', () => {
    expect(judge(check({ max: 1 }), undefined, undefined, T0)).toMatchObject({ verdict: 'no-data', breached: false, reason: 'not measured', noDataSince: T0 });
  });

  it('the baseline is kept on the record', () => {
    expect(judge(check({ relative: { baseline: 'b', maxIncrease: 0.1 } }), { value: 1, baseline: 1 }, undefined, T0).baseline).toBe(1);
  });
});

/** Feed observations through judge() in order, carrying the previous record like the engine does. */
function run(c: Check, seq: Array<[number, number | null | CheckReading]>): CheckRecord[] {
  let prev: CheckRecord | undefined;
  return seq.map(([t, v]) => {
    const obs: CheckReading = v !== null && typeof v === 'object' ? v : { value: v };
    prev = judge(c, obs, prev, T0 + t);
    return prev;
  });
}
const verdicts = (rs: CheckRecord[]) => rs.map((r) => (r.breached ? 'BREACH' : r.verdict));

describe('judge: `for:` — a breach only when the failure is sustained', () => {
  const c = check({ max: 5, forMs: 5 * M });
  it.each<[string, Array<[number, number | null]>, string[]]>([
    ['one bad sample is not a breach', [[0, 9]], ['fail']],
    ['failing for 4m59s is not a breach', [[0, 9], [2 * M, 9], [4 * M + 59 * S, 9]], ['fail', 'fail', 'fail']],
    ['failing for exactly 5m is a breach', [[0, 9], [M, 9], [5 * M, 9]], ['fail', 'fail', 'BREACH']],
    ['stays breached while failing', [[0, 9], [5 * M, 9], [6 * M, 7]], ['fail', 'BREACH', 'BREACH']],
    ['a pass resets the streak', [[0, 9], [4 * M, 1], [5 * M, 9], [9 * M, 9], [10 * M, 9]], ['fail', 'pass', 'fail', 'fail', 'BREACH']],
    ['no data resets the streak (as Prometheus alerts do)', [[0, 9], [3 * M, null], [4 * M, 9], [6 * M, 9], [9 * M, 9]], ['fail', 'no-data', 'fail', 'fail', 'BREACH']],
    ['recovery after a breach ends it', [[0, 9], [5 * M, 9], [6 * M, 4]], ['fail', 'BREACH', 'pass']],
    ['flapping never breaches', [[0, 9], [M, 1], [2 * M, 9], [3 * M, 1], [4 * M, 9], [5 * M, 1], [6 * M, 9]], ['fail', 'pass', 'fail', 'pass', 'fail', 'pass', 'fail']],
  ])('%s', (_name, seq, want) => {
    expect(verdicts(run(c, seq))).toEqual(want);
  });

  it('failingSince marks the start of the streak and the reason says how long', () => {
    const rs = run(c, [[0, 9], [2 * M, 9], [5 * M + 30 * S, 9]]);
    expect(rs.map((r) => r.failingSince)).toEqual([T0, T0, T0]);
    expect(rs[1]!.reason).toBe('9 > max 5 (breach if sustained 5m; failing for 2m)');
    expect(rs[2]!.reason).toBe('9 > max 5 for 5m30s');
  });

  it('relative checks are sustained the same way', () => {
    const rc = check({ relative: { baseline: 'b', maxIncrease: 0.1 }, forMs: 2 * M });
    const rs = run(rc, [
      [0, { value: 120, baseline: 100 }],
      [M, { value: 125, baseline: 100 }],
      [2 * M, { value: 130, baseline: 100 }],
    ]);
    expect(verdicts(rs)).toEqual(['fail', 'fail', 'BREACH']);
  });
});

describe('judge: no-data streaks (for noDataTimeout)', () => {
  it('noDataSince marks the start of the streak and survives changing reasons', () => {
    const rs = run(check({ max: 5 }), [
      [0, null],
      [M, { value: null, error: 'down' }],
      [2 * M, { value: null, note: 'empty result' }],
    ]);
    expect(rs.map((r) => r.noDataSince)).toEqual([T0, T0, T0]);
    expect(rs.map((r) => r.reason)).toEqual(['no data', 'provider error: down', 'empty result']);
  });

  it('data ends the streak; the next gap starts a new one', () => {
    const rs = run(check({ max: 5 }), [
      [0, null],
      [M, 1],
      [2 * M, null],
    ]);
    expect(rs[1]!.noDataSince).toBeUndefined();
    expect(rs[2]!.noDataSince).toBe(T0 + 2 * M);
  });

  it('no data is never a breach, whatever came before', () => {
    const rs = run(check({ max: 5 }), [
      [0, 9],
      [M, null],
    ]);
    expect(rs[0]!.breached).toBe(true);
    expect(rs[1]).toMatchObject({ verdict: 'no-data', breached: false, value: null });
  });
});

describe('describeThreshold', () => {
  it.each<[Partial<Check>, string]>([
    [{ max: 5, unit: '%' }, '≤ 5%'],
    [{ min: 99.9 }, '≥ 99.9'],
    [{ max: 2, min: 1, unit: 'ms' }, '≤ 2ms, ≥ 1ms'],
    [{ relative: { baseline: 'b', maxIncrease: 0.1 } }, '≤ baseline +10%'],
    [{ relative: { baseline: 'b', maxIncrease: 0.1, maxDecrease: 0.05 } }, '≤ baseline +10%, ≥ baseline −5%'],
    [{ max: 5, forMs: 5 * M }, '≤ 5 (breach after sustained 5m)'],
    [{ max: 5, forMs: 30 * S }, '≤ 5 (breach after sustained 30s)'],
    [{ max: 5, forMs: 45 * S }, '≤ 5 (breach after sustained 45s)'],
    [{ max: 5, forMs: 90 * S }, '≤ 5 (breach after sustained 1m30s)'],
    [{ max: 5, forMs: 2 * 3600 * S }, '≤ 5 (breach after sustained 2h)'],
  ])('%j → %s', (over, text) => expect(describeThreshold(check(over))).toBe(text));
});

// ——— the policies, through the pure engine ———

async function planWith(checkYaml: string): Promise<Plan> {
  const text = `name: judged
backend: { type: local }
metrics:
  m: { type: simulated }
defaults: { hold: 10m, interval: 1m }
notify:
  targets:
    log: { type: log }
checks:
  - ${checkYaml}
phases:
  - name: main
    flags: [f]
    steps: [10, 50, 100]
`;
  return (await parsePlanText(text, '/tmp/judged.yaml', 'judged.yaml', { adapters: false })).plan;
}

/** A fresh running run with nothing pending, and a tick helper that carries state. */
async function harness(checkYaml: string) {
  const plan = await planWith(checkYaml);
  let state: RunState = { ...createRun(plan, 'r1', T0).state, pending: [] };
  return {
    plan,
    get state() {
      return state;
    },
    tick(at: number, obs: CheckReading) {
      const d = tick(plan, state, { checks: { c: obs } }, T0 + at);
      state = { ...d.state };
      const events = d.events.map((e) => e.type);
      const pending = state.pending.map((a) => (a.kind === 'notify' ? `notify:${a.event}` : a.kind === 'apply-flags' ? `apply:${a.purpose}` : a.kind));
      state.pending = []; // as if the runner performed them
      return { status: d.state.status, events, pending, record: d.state.checks.c! };
    },
  };
}

describe('no-data policies (engine + judge)', () => {
  it('hold (default): blocks the next step, pauses after noDataTimeout', async () => {
    const h = await harness('{ name: c, provider: m, query: q, max: 5, noDataTimeout: 10m }');
    let r = h.tick(0, { value: null });
    expect(r.status).toBe('running');
    expect(r.pending).not.toContain('apply:step');
    expect(h.state.waitingFor).toMatch(/^checks: c: no data/);
    r = h.tick(9 * M + 59 * S, { value: null });
    expect(r.status).toBe('running');
    r = h.tick(10 * M, { value: null, error: 'HTTP 503' });
    expect(r.status).toBe('paused');
    expect(h.state.reason).toMatch(/check "c" has no data .*for 10m/);
  });

  it('hold: data before the timeout lets the run go on', async () => {
    const h = await harness('{ name: c, provider: m, query: q, max: 5, noDataTimeout: 10m }');
    h.tick(0, { value: null });
    const r = h.tick(5 * M, { value: 1 });
    expect(r.status).toBe('running');
    expect(r.pending).toContain('apply:step');
  });

  it('pause: pauses at once', async () => {
    const h = await harness('{ name: c, provider: m, query: q, max: 5, noData: pause }');
    const r = h.tick(0, { value: null });
    expect(r.status).toBe('paused');
    expect(r.pending).toContain('notify:run.paused');
  });

  it('rollback: rolls back at once', async () => {
    const h = await harness('{ name: c, provider: m, query: q, max: 5, noData: rollback }');
    const r = h.tick(0, { value: null, note: 'empty result' });
    expect(r.status).toBe('rolling-back');
    expect(h.state.rollback?.trigger).toBe('no-data');
    expect(h.state.reason).toMatch(/no data \(empty result\); its noData policy is rollback/);
  });

  it('pass: no data does not block the step', async () => {
    const h = await harness('{ name: c, provider: m, query: q, max: 5, noData: pass }');
    const r = h.tick(0, { value: null });
    expect(r.status).toBe('running');
    expect(r.pending).toContain('apply:step');
    expect(r.record.verdict).toBe('no-data');
  });
});

describe('tier and action on a sustained breach (engine + judge)', () => {
  it.each<[string, string, string, string | undefined]>([
    ['critical (default action rollback)', 'tier: critical', 'rolling-back', undefined],
    ['warning (default action pause)', 'tier: warning', 'paused', 'notify:run.paused'],
    ['warning with action notify', 'tier: warning, action: notify', 'running', 'notify:breach.detected'],
    ['critical with action pause', 'tier: critical, action: pause', 'paused', 'notify:run.paused'],
  ])('%s', async (_name, extra, status, pending) => {
    const h = await harness(`{ name: c, provider: m, query: q, max: 5, for: 2m, ${extra} }`);
    // Failing but not yet sustained: nothing happens, the step is blocked.
    expect(h.tick(0, { value: 9 })).toMatchObject({ status: 'running', pending: [] });
    expect(h.tick(M, { value: 9 }).status).toBe('running');
    const r = h.tick(2 * M, { value: 9 });
    expect(r.record.breached).toBe(true);
    expect(r.events).toContain('breach.detected');
    expect(r.status).toBe(status);
    if (pending) expect(r.pending).toContain(pending);
    if (status === 'rolling-back') expect(h.state.rollback?.trigger).toBe('check');
    // A breach is acted on once, not on every tick while it lasts.
    if (status === 'running') expect(h.tick(3 * M, { value: 9 }).events).not.toContain('breach.detected');
  });

  it('a failure that recovers before `for:` never triggers the action', async () => {
    const h = await harness('{ name: c, provider: m, query: q, max: 5, for: 2m, tier: critical }');
    h.tick(0, { value: 9 });
    h.tick(M, { value: 9 });
    const r = h.tick(M + 30 * S, { value: 1 });
    expect(r.status).toBe('running');
    expect(r.events).not.toContain('breach.detected');
    expect(r.pending).toContain('apply:step');
  });
});
