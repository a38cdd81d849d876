/**
 * The live view (output/live.ts) and human times (output/time.ts): exact strings with a fixed
 * clock, zone and width. Colour is off here (no TTY), so what is compared is what is read.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { RunState } from '../../src/engine/types.js';
import { fit, renderRun, waitingWords, wrap } from '../../src/output/live.js';
import { clock, humanizeTimes, relative } from '../../src/output/time.js';
import type { Plan } from '../../src/plan/model.js';
import { parsePlanText } from '../../src/plan/load.js';

const T = Date.parse('2026-12-02T13:00:00Z');
let plan: Plan;
beforeAll(async () => {
  ({ plan } = await parsePlanText(
    `name: shop
backend: { type: local }
metrics: { sim: { type: simulated, series: { e: 0.1 } } }
defaults: { hold: 1h, maxJump: 100 }
checks:
  - { name: errors, provider: sim, query: e, max: 1, for: 5m, unit: '%' }
  - { name: p95, provider: sim, query: e, max: 300, unit: ms, tier: warning }
phases:
  - name: canary
    flags: [new-cart]
    steps: [1, 10, { percent: 50, hold: 1d }, { percent: 100, approval: { message: "Go for 100%?" } }]
  - name: cleanup
    flags: [old-cart-off]
    requires: [new-cart]
    steps: [100]
`,
    '/p/shop.yaml',
    'plans/shop.yaml',
    { adapters: false, env: {} },
  ));
});

const run = (over: Partial<RunState> = {}): RunState => ({
  schema: 1,
  id: 'shop-20261202-1300-ab12',
  plan: { name: 'shop', file: 'plans/shop.yaml', hash: 'h' },
  status: 'running',
  waitingFor: 'hold until 2026-12-02T13:45:30.000Z',
  phase: 0,
  step: 1,
  holdUntil: T + 45 * 60_000 + 30_000,
  approved: [],
  flags: { 'new-cart': { enabled: true, percentage: 10 } },
  checks: {
    errors: { verdict: 'fail', breached: false, value: 1.4, reason: '1.4 > 1', at: T, failingSince: T - 90_000 },
    p95: { verdict: 'no-data', breached: false, value: null, reason: 'no data', at: T, noDataSince: T - 300_000 },
  },
  pending: [],
  startedAt: T - 3 * 3600_000,
  updatedAt: T,
  seq: 1,
  nextActionId: 1,
  ...over,
});

describe('renderRun', () => {
  it('a holding run: header, ladder with countdown, checks against thresholds, what it waits for', () => {
    expect(renderRun(plan, run(), { now: T, width: 100, timeZone: 'Europe/Berlin', driver: { pid: 4242, host: 'ci-7' } })).toBe(
      [
        'Plan         shop (plans/shop.yaml)',
        'Run          shop-20261202-1300-ab12',
        'Status       ◌ running',
        'Phase        canary (1/2)',
        'Step         2/5 (10%)',
        'Flags        new-cart: 10%',
        'Started      11:00:00 CET (3h ago)',
        'Driven by    pid 4242 on ci-7',
        'Waiting for  the hold: next step 50% in 45m30s (14:45:30 CET), if the checks keep passing',
        '',
        'Steps',
        '  ▸ canary phase 1 of 2',
        '      ✔ 1%    hold 1h',
        '      ● 10%   holding, 45m30s left',
        '      ○ 50%   hold 1d',
        '      ○ 100%  hold 1h  gate "Go for 100%?"',
        '  ○ cleanup 1 step (100%)  after new-cart',
        '',
        'Checks',
        '  ! errors  1.4%  failing for 1m30s           ≤ 1% (breach after sustained 5m)',
        '  ? p95     —     no data since 13:55:00 CET  ≤ 300ms',
      ].join('\n'),
    );
  });

  it('fits a narrow terminal: long lines cut with …, what it waits for wrapped', () => {
    const out = renderRun(plan, run({ status: 'awaiting-approval', step: 2, holdUntil: undefined, approval: { key: 'k', phase: 0, step: 3, requestedAt: T, deadline: T + 25 * 3600_000, message: 'Go for 100%?' } }), {
      now: T,
      width: 50,
      timeZone: 'UTC',
    });
    for (const l of out.split('\n')) expect([...l].length, l).toBeLessThanOrEqual(50);
    expect(out).toContain('Status       ? awaiting-approval');
    expect(out).toContain('Waiting for  approval "Go for 100%?": `rollout\n             approve shop-20261202-1300-ab12` or\n');
    expect(out.replace(/\n\s+/g, ' ')).toContain('decide by Thu 3 Dec 14:00:00 UTC (in 1d1h)');
    expect(out).toContain('      ○ 100%  hold 1h  gate "Go for 100%?"  ← awa…');
  });

  it('paused, rolled back and completed runs say so, and no "failing for 0ms"', () => {
    const paused = renderRun(plan, run({ status: 'paused', reason: 'check "p95" breached', checks: { errors: { verdict: 'fail', breached: false, value: 2, reason: 'x', at: T, failingSince: T } } }), { now: T, width: 0, timeZone: 'UTC' });
    expect(paused).toContain('Status       ॥ paused — check "p95" breached');
    expect(paused).toContain('Waiting for  a person: `rollout resume shop-20261202-1300-ab12` (or rollback / abort) — paused: check "p95" breached');
    expect(paused).toContain('      ● 10%   paused here');
    expect(paused).toContain('  ! errors  2%  failing  ≤ 1%');
    expect(paused).not.toMatch(/0ms/);
    const frozen = renderRun(plan, run({ status: 'paused', frozen: ['new-cart'] }), { now: T, width: 0, timeZone: 'UTC' });
    expect(frozen).toContain('Flags        new-cart: 10% — frozen');
    const done = renderRun(plan, run({ status: 'completed', phase: 1, step: 0, holdUntil: undefined, finishedAt: T, checks: {} }), { now: T, width: 0, timeZone: 'UTC' });
    expect(done).toContain('Status       ✔ completed');
    expect(done).toContain('  ✔ canary 4 steps done (1% → 100%)');
    expect(done).toContain('  ✔ cleanup 1 step done (100%)');
    expect(done).toContain('Started      10:00:00 UTC (3h ago, took 3h)');
  });

  it('a long phase keeps the current step in view and summarizes the rest', async () => {
    const { plan: long } = await parsePlanText(
      `name: long\nbackend: { type: local }\ndefaults: { maxJump: 100 }\nphases:\n  - name: p\n    flags: [f]\n    steps: [${Array.from({ length: 30 }, (_, i) => i + 1).join(', ')}]\n`,
      '/p/l.yaml',
      'l.yaml',
      { adapters: false, env: {} },
    );
    const out = renderRun(long, run({ plan: { name: 'long', file: 'l.yaml', hash: 'h' }, step: 20, checks: {} }), { now: T, width: 80, timeZone: 'UTC', maxSteps: 6 });
    expect(out).toContain('\n      ✔ 18 earlier steps\n      ✔ 19%  hold 1h\n      ✔ 20%  hold 1h\n      ● 21%  holding, 45m30s left\n      ○ 22%  hold 1h\n');
    expect(out).toContain('\n      ○ 6 more steps to 30%');
  });
});

describe('times for people', () => {
  it('local time with the zone, the day only when it is another day, countdowns in whole seconds', () => {
    expect(clock(T, { now: T, timeZone: 'Europe/Berlin' })).toBe('14:00:00 CET');
    expect(clock(T, { now: T, timeZone: 'America/New_York' })).toBe('08:00:00 EST');
    expect(clock(T + 86400_000, { now: T, timeZone: 'UTC' })).toBe('Thu 3 Dec 13:00:00 UTC');
    expect(relative(T + 4 * 60_000 + 12_000, T)).toBe('in 4m12s');
    expect(relative(T - 86400_000, T)).toBe('1d ago');
    expect(relative(T + 400, T)).toBe('now');
    expect(humanizeTimes('hold until 2026-12-02T13:45:30.000Z', { now: T, timeZone: 'UTC' })).toBe('hold until 13:45:30 UTC (in 45m30s)');
  });

  it('waiting words never show an ISO timestamp', () => {
    const w = waitingWords(plan, run({ waitingFor: 'window: next step waits until 2026-12-03T08:00:00.000Z', holdUntil: undefined }), { now: T, timeZone: 'UTC' });
    expect(w).toBe('window: next step waits until Thu 3 Dec 08:00:00 UTC (in 19h)');
  });

  it('fit and wrap count visible columns, not colour codes', () => {
    expect(fit('\x1b[31mabcdef\x1b[39m', 4)).toBe('\x1b[31mabc…\x1b[0m');
    expect(fit('abc', 4)).toBe('abc');
    expect(wrap('one two three four', 9)).toEqual(['one two', 'three', 'four']);
  });
});

describe('a run nothing drives', () => {
  it('says so on the status line itself (issue 9 item 8)', async () => {
    const { renderRun } = await import('../../src/output/live.js');
    const { mkState } = await import('../adapters/state-contract.js');
    const s = mkState('r', { status: 'running' });
    const lines = renderRun(undefined, s, { now: s.startedAt, width: 100, driver: null }).split('\n');
    expect(lines.find((l: string) => l.startsWith('Status'))).toMatch(/running — nothing drives it/);
    const driven = renderRun(undefined, s, { now: s.startedAt, width: 100, driver: { pid: 1, host: "h" } });
    expect(driven).not.toMatch(/nothing drives it/);
  });
});
