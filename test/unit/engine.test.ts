/**
 * The pure engine on a fake clock (test/unit/helpers.ts drives tick/complete/control the way the
 * runner does). Every state transition and rule of a rollout: steps and holds, checks before
 * every step and while holding, sustained breaches, tiers and actions, no-data policies,
 * relative checks, approvals and their decision windows, requires:, windows, promote,
 * pause/resume, abort, rollbacks (immediate, gradual, failing), step write failures, multi-flag
 * and ring steps — and the scheduling invariants (nextWake never in the past, no spinning).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { complete, control, createRun, nextWake, stepChanges, stepLabel, tick } from '../../src/engine/engine.js';
import type { Action, RunState } from '../../src/engine/types.js';
import { noticeVarsOf } from '../../src/output/notice.js';
import type { Plan } from '../../src/plan/model.js';
import { D, drive, flagOn, H, M, mkPlan, observer, S, stepPercents, stepTimes, T0, writes, type Script } from './helpers.js';

const NOTIFY = `notify:
  targets: { log: { type: log } }
`;

/** One phase on flag f, 1h holds, 1m interval, one critical error-rate check (max 5). */
const basic = (extra = '', checks = `  - { name: err, provider: sim, query: e, max: 5 }\n`, steps = '[10, 25, 50]') =>
  mkPlan(`defaults: { hold: 1h, interval: 1m, maxJump: 100 }
checks:
${checks}phases:
  - { name: a, flags: [f], steps: ${steps} }
${extra}`);

const notices = (t: { performed: Array<{ action: Action }> }) => t.performed.filter((p) => p.action.kind === 'notify').map((p) => (p.action as Extract<Action, { kind: 'notify' }>).event);
const commands = (t: { performed: Array<{ action: Action }> }) =>
  t.performed.filter((p) => p.action.kind === 'run-command').map((p) => p.action as Extract<Action, { kind: 'run-command' }>);
const after = (ms: number, v: number | null, before: number | null | undefined = undefined): Script[string] => (e) => (e >= ms ? v : before);

describe('progression: running → holding → next step', () => {
  it('applies each step, holds it, then advances; completes after the last hold', async () => {
    const plan = await basic();
    const t = drive(plan);
    expect(t.state.status).toBe('completed');
    expect(stepPercents(t, 'f')).toEqual([10, 25, 50]);
    expect(stepTimes(t)).toEqual([0, H, 2 * H]);
    expect(t.state.finishedAt).toBe(T0 + 3 * H);
    expect(t.state.flags.f).toEqual({ enabled: true, percentage: 50 });
    expect(t.of('step.applied').map((e) => e.data?.holdUntil)).toEqual([T0 + H, T0 + 2 * H, T0 + 3 * H]);
    expect(t.types().at(-1)).toBe('run.completed');
  });

  it('the first phase is announced like the others (phase.started)', async () => {
    const plan = await mkPlan(`defaults: { hold: 10m, interval: 1m }
phases:
  - { name: a, flags: [f], steps: [50, 100] }
  - { name: b, flags: [g], steps: [100] }
`);
    const t = drive(plan);
    expect(t.of('phase.started').map((e) => e.data?.phase)).toEqual([0, 1]);
    // phase.started comes before that phase's first step.applied
    const types = t.types();
    expect(types.indexOf('phase.started')).toBeLessThan(types.indexOf('step.applied'));
  });

  it('while holding, checks are re-evaluated every interval and the run waits for the hold', async () => {
    const plan = await basic();
    const t = drive(plan, { until: (s) => s.step === 1 });
    const during = t.ticks.filter((k) => k.at > T0 && k.at <= T0 + H);
    expect(during.length).toBe(60);
    for (let i = 1; i < during.length; i++) expect(during[i]!.at - during[i - 1]!.at).toBe(M);
    const s0 = drive(plan, { until: (s, now) => now >= T0 + 30 * M });
    expect(s0.state.waitingFor).toMatch(/^hold until 2025-03-03T09:00:00/);
  });

  it('checks must pass before the very first step: no data, no start', async () => {
    const plan = await basic();
    const t = drive(plan, { obs: observer(plan, { err: () => 'missing' }), limitMs: 10 * M });
    expect(stepPercents(t, 'f')).toEqual([]);
    expect(t.state.waitingFor).toMatch(/^checks: err: not measured/);
    expect(t.of('step.blocked')).toHaveLength(1);
  });

  it('a failing (not yet breached) check at the end of a hold blocks the step until it passes', async () => {
    const plan = await basic('', `  - { name: err, provider: sim, query: e, max: 5, for: 3h }\n`);
    // failing from 50m to 1h30m: the 25% step waits until it passes again
    const obs = observer(plan, { err: (e) => (e >= 50 * M && e < 90 * M ? 6 : 1) });
    const t = drive(plan, { obs });
    expect(t.state.status).toBe('completed');
    expect(stepTimes(t)).toEqual([0, 90 * M, 150 * M]);
    expect(t.of('step.blocked')[0]!.msg).toMatch(/not advancing to 25%: err: 6 > max 5/);
    expect(t.of('step.blocked')).toHaveLength(1); // once per blocking streak, not every interval
    expect(t.of('breach.detected')).toEqual([]);
  });

  it('completing needs passing checks too: a run does not "complete healthy" with a failing check', async () => {
    const plan = await basic('', `  - { name: err, provider: sim, query: e, max: 5, for: 6h }\n`, '[100]');
    const obs = observer(plan, { err: (e) => (e >= 30 * M && e < 2 * H ? 9 : 1) });
    const t = drive(plan, { obs });
    expect(t.state.status).toBe('completed');
    expect(t.state.finishedAt).toBe(T0 + 2 * H);
    const nodata = drive(plan, { obs: observer(plan, { err: (e) => (e >= 30 * M ? null : 1) }), limitMs: 5 * H });
    expect(nodata.state.status).toBe('paused'); // hold policy: paused after noDataTimeout, never completed
  });

  it('multi-phase: the next phase checks gate entering it, the previous phase checks are dropped', async () => {
    const plan = await mkPlan(`defaults: { hold: 1h, interval: 1m }
checks:
  - { name: one, provider: sim, query: x, max: 5, phases: [a] }
  - { name: two, provider: sim, query: y, max: 5, phases: [b], for: 1d }
phases:
  - { name: a, flags: [f], steps: [50, 100] }
  - { name: b, flags: [g], steps: [100] }
`);
    // "two" fails until 3h: phase b (due at 2h) waits for it
    const t = drive(plan, { obs: observer(plan, { two: (e) => (e < 3 * H ? 7 : 1) }) });
    expect(t.state.status).toBe('completed');
    expect(stepTimes(t)).toEqual([0, H, 3 * H]);
    expect(Object.keys(t.state.checks)).toEqual(['two']);
  });

  it('a failing check of the current phase blocks the step into the next phase', async () => {
    const plan = await mkPlan(`defaults: { hold: 1h, interval: 1m }
checks:
  - { name: one, provider: sim, query: x, max: 5, phases: [a], for: 1d }
phases:
  - { name: a, flags: [f], steps: [100] }
  - { name: b, flags: [g], steps: [100] }
`);
    const t = drive(plan, { obs: observer(plan, { one: (e) => (e >= 30 * M && e < 2 * H ? 7 : 1) }) });
    expect(stepTimes(t)).toEqual([0, 2 * H]);
  });
});

describe('sustained breaches (for:)', () => {
  const plan = () => basic('', `  - { name: err, provider: sim, query: e, max: 5, for: 5m }\n`, '[10, 100]');
  it('a spike shorter than for: does not breach', async () => {
    const p = await plan();
    const t = drive(p, { obs: observer(p, { err: (e) => (e >= 20 * M && e < 24 * M ? 50 : 1) }) });
    expect(t.state.status).toBe('completed');
    expect(t.of('breach.detected')).toEqual([]);
    expect(t.of('check.changed').map((e) => e.data?.verdict)).toEqual(['pass', 'fail', 'pass']);
  });
  it('a failure sustained for the whole for: duration breaches (critical → rollback)', async () => {
    const p = await plan();
    const t = drive(p, { obs: observer(p, { err: after(20 * M, 50, 1) }) });
    expect(t.state.status).toBe('rolled-back');
    expect(t.of('breach.detected')[0]!.at).toBe(T0 + 25 * M);
    expect(t.state.reason).toMatch(/check "err" breached \(critical\): 50 > max 5 for 5m/);
  });
  it('intermittent failures do not add up: each pass restarts the streak', async () => {
    const p = await plan();
    // fail 4 minutes, pass 1 minute, repeatedly
    const t = drive(p, { obs: observer(p, { err: (e) => (e >= 10 * M && Math.floor(e / M) % 5 !== 0 ? 50 : 1) }), limitMs: 3 * H });
    expect(t.of('breach.detected')).toEqual([]);
  });
  it('without for: the first failing judgment breaches', async () => {
    const p = await basic();
    const t = drive(p, { obs: observer(p, { err: after(7 * M, 50, 1) }) });
    expect(t.of('breach.detected')[0]!.at).toBe(T0 + 7 * M);
  });
});

describe('tiers and actions', () => {
  it('warning tier → pause (and a notice), never rollback', async () => {
    const p = await basic(NOTIFY, `  - { name: lat, provider: sim, query: l, max: 300, tier: warning, unit: ms }\n`);
    const t = drive(p, { obs: observer(p, { lat: after(30 * M, 900, 100) }) });
    expect(t.state.status).toBe('paused');
    expect(t.stop).toBe('waiting-for-human');
    expect(t.state.reason).toMatch(/check "lat" breached \(warning\): 900ms > max 300ms/);
    expect(t.of('breach.detected')).toHaveLength(1);
    expect(t.of('rollback.started')).toEqual([]);
    expect(notices(t)).toContain('run.paused');
    expect(t.state.flags.f!.percentage).toBe(10);
  });
  it('critical tier → rollback', async () => {
    const p = await basic();
    const t = drive(p, { obs: observer(p, { err: after(30 * M, 9, 1) }) });
    expect(t.state.status).toBe('rolled-back');
    expect(t.state.rollback?.trigger).toBe('check');
  });
  it('action: rollback on a warning check and action: pause on a critical one are honoured', async () => {
    const p = await basic('', `  - { name: err, provider: sim, query: e, max: 5, tier: critical, action: pause }\n`);
    expect(drive(p, { obs: observer(p, { err: after(30 * M, 9, 1) }) }).state.status).toBe('paused');
    const q = await basic('', `  - { name: err, provider: sim, query: e, max: 5, tier: warning, action: rollback }\n`);
    expect(drive(q, { obs: observer(q, { err: after(30 * M, 9, 1) }) }).state.status).toBe('rolled-back');
  });
  it('action: notify sends one notice per breach streak, keeps running, does not advance while failing', async () => {
    const p = await basic(NOTIFY, `  - { name: up, provider: sim, query: u, min: 0.99, tier: warning, action: notify }\n`);
    const t = drive(p, { obs: observer(p, { up: (e) => (e >= 30 * M && e < 3 * H ? 0.5 : 1) }) });
    expect(t.state.status).toBe('completed');
    expect(t.of('breach.detected')).toHaveLength(1);
    expect(notices(t).filter((n) => n === 'breach.detected')).toHaveLength(1);
    expect(stepTimes(t)).toEqual([0, 3 * H, 4 * H]);
  });
  it('a warning breach while waiting for an approval pauses the run (the gate is kept)', async () => {
    const p = await basic('', `  - { name: lat, provider: sim, query: l, max: 300, tier: warning }\n`, '[10, {percent: 50, approval: { timeout: 1d }}]');
    const t = drive(p, { obs: observer(p, { lat: after(2 * H, 900, 100) }), limitMs: 5 * H });
    expect(t.state.status).toBe('paused');
    expect(t.state.reason).toMatch(/check "lat" breached/);
    expect(t.state.approval?.key).toBe('p0s1');
  });
});

describe('freeze on a breach pause (seed 004: "freeze current percentage")', () => {
  const frozenPlan = (action = 'pause') =>
    mkPlan(`name: t
backend: { type: http, preset: feature-flags-api, baseUrl: "http://127.0.0.1:1" }
metrics:
  sim: { type: fake }
defaults: { hold: 1h, interval: 1m, maxJump: 100 }
checks:
  - { name: err, provider: sim, query: e, max: 5, tier: warning, action: ${action}, freeze: true }
phases:
  - { name: a, flags: [f, g], steps: [10, 25, 50] }
  - { name: b, flags: [h], steps: [100] }
`);
  const freezes = (t: { performed: Array<{ action: Action }> }) =>
    t.performed.filter((p) => p.action.kind === 'freeze-flags').map((p) => p.action as Extract<Action, { kind: 'freeze-flags' }>).map((a) => `${a.frozen ? 'freeze' : 'unfreeze'} ${a.flags.join(',')}`);

  it('freezes the current phase\'s live flags when the breach pauses, and unfreezes them on resume before the next step', async () => {
    const p = await frozenPlan();
    const t = drive(p, { obs: observer(p, { err: (e) => (e >= 30 * M && e < 2 * H ? 9 : 1) }), controls: [{ at: 2 * H, ctl: { kind: 'resume', by: 'dan' } }] });
    expect(freezes(t)).toEqual(['freeze f,g', 'unfreeze f,g']);
    const kinds = t.performed.map((x) => x.action.kind);
    expect(kinds.indexOf('freeze-flags')).toBeGreaterThan(-1);
    // the unfreeze comes before the next step's write
    const un = t.performed.findIndex((x) => x.action.kind === 'freeze-flags' && !(x.action as { frozen: boolean }).frozen);
    const nextWrite = t.performed.findIndex((x, i) => i > un && x.action.kind === 'apply-flags');
    expect(nextWrite).toBeGreaterThan(un);
    expect(t.types()).toEqual(expect.arrayContaining(['flags.frozen', 'flags.unfrozen']));
    expect(t.state.frozen).toBeUndefined();
    expect(t.state.status).toBe('completed');
  });

  it('a gradual rollback from a frozen pause unfreezes first; an immediate one turns flags off first', async () => {
    for (const mode of ['gradual', 'immediate'] as const) {
      const q = await mkPlan(`name: t
backend: { type: http, preset: feature-flags-api, baseUrl: "http://127.0.0.1:1" }
metrics:
  sim: { type: fake }
defaults: { hold: 1h, interval: 1m, maxJump: 100 }
checks:
  - { name: err, provider: sim, query: e, max: 5, tier: warning, freeze: true }
phases:
  - { name: a, flags: [f], steps: [10, 25, 50] }
rollback: { mode: ${mode}, steps: [{ percent: 5, wait: 10m }, { percent: 0 }] }
`);
      const t = drive(q, { obs: observer(q, { err: after(30 * M, 9, 1) }), controls: [{ at: 2 * H, ctl: { kind: 'rollback', reason: 'bad', by: 'dan' } }] });
      expect(t.state.status).toBe('rolled-back');
      const seq = t.performed.flatMap(({ action: a }) =>
        a.kind === 'freeze-flags' ? [a.frozen ? 'freeze' : 'unfreeze'] : a.kind === 'apply-flags' && a.purpose === 'rollback' ? [`off:${a.changes.map((c) => c.percentage).join()}`] : [],
      );
      expect(seq).toEqual(mode === 'gradual' ? ['freeze', 'unfreeze', 'off:5', 'off:0'] : ['freeze', 'off:0', 'unfreeze']);
    }
  });

  it('abort (and a no-go) end the run and release what it froze; the flags keep their percentage', async () => {
    const p = await frozenPlan();
    const t = drive(p, { obs: observer(p, { err: after(30 * M, 9, 1) }), controls: [{ at: 2 * H, ctl: { kind: 'abort', reason: 'enough' } }] });
    expect(t.state.status).toBe('aborted');
    expect(freezes(t)).toEqual(['freeze f,g', 'unfreeze f,g']);
    expect(t.state.flags.f).toEqual({ enabled: true, percentage: 10 });
  });

  it('nothing is frozen before any flag is on, and freeze is refused for actions other than pause or backends without a freeze call', async () => {
    const p = await frozenPlan();
    const t = drive(p, { obs: observer(p, { err: () => 9 }), limitMs: 2 * H });
    expect(t.state.status).toBe('paused');
    expect(freezes(t)).toEqual([]);
    await expect(frozenPlan('rollback')).rejects.toThrow(/freeze applies only to action pause/);
    await expect(mkPlan(`checks:\n  - { name: err, provider: sim, query: e, max: 5, tier: warning, freeze: true }\nphases:\n  - { name: a, flags: [f] }\n`)).rejects.toThrow(/the local backend has none/);
  });
});

describe('a rollback scoped by its check (rollbackFlags)', () => {
  const scoped = (scope: string) =>
    mkPlan(`defaults: { hold: 1h, interval: 1m, maxJump: 100 }
checks:
  - { name: rec, provider: sim, query: r, max: 1, rollbackFlags: [${scope}] }
phases:
  - { name: core, flags: [core], steps: [100] }
  - { name: snap, flags: [snap], requires: [core], steps: [100] }
  - { name: rec, flags: [rec], requires: [snap], steps: [50, 100] }
  - { name: uses, flags: [use-a, use-b], requires: [rec], steps: [10, 100] }
rollback:
  commands: [[./rb.sh]]
`);
  it('turns off only the named flag and the flags that (transitively) require it; the rest stay as they are', async () => {
    const p = await scoped('rec');
    const t = drive(p, { obs: observer(p, { rec: after(4.5 * H, 5, 0) }) });
    expect(t.state.status).toBe('rolled-back');
    expect(writes(t, 'rollback')).toEqual([['rec=off', 'use-a=off', 'use-b=off']]);
    expect(t.state.flags.core).toEqual({ enabled: true, percentage: 100 });
    expect(t.state.flags.snap).toEqual({ enabled: true, percentage: 100 });
    expect(t.of('rollback.started')[0]!.msg).toMatch(/of rec, use-a, use-b only/);
    expect(commands(t)[0]!.env.ROLLOUT_FLAGS).toBe('rec,use-a,use-b');
    const inc = t.performed.find((x) => x.action.kind === 'record-incident')!.action as Extract<Action, { kind: 'record-incident' }>;
    expect(inc.incident.flags).toEqual(['rec', 'use-a', 'use-b']);
  });
  it('a manual rollback still turns off every flag; the scope is refused on other actions and for unknown flags', async () => {
    const p = await scoped('rec');
    const t = drive(p, { controls: [{ at: 4.5 * H, ctl: { kind: 'rollback', reason: 'by hand' } }] });
    expect(writes(t, 'rollback')[0]!.sort()).toEqual(['core=off', 'rec=off', 'snap=off', 'use-a=off', 'use-b=off']);
    await expect(mkPlan(`checks:\n  - { name: e, provider: sim, query: e, max: 1, tier: warning, rollbackFlags: [f] }\nphases:\n  - { name: a, flags: [f] }\n`)).rejects.toThrow(/rollbackFlags applies only to action rollback/);
    await expect(scoped('nope')).rejects.toThrow(/"nope" is not rolled out by this plan/);
  });
});

describe('partial rollback (rollback --to, seed 004 "Rollback to 25%")', () => {
  const p4 = () => basic('', undefined, '[10, 25, 50, 100]');
  it('steps the phase down, pauses rewound to the last step at or below it (its hold starts again), and resume climbs from there', async () => {
    const p = await p4();
    const t = drive(p, {
      controls: [
        { at: 2 * H + 30 * M, ctl: { kind: 'rollback', reason: 'error rate 7% at 50%', to: 25 } },
        { at: 5 * H, ctl: { kind: 'resume' } },
      ],
    });
    expect(t.of('rollback.partial')[0]!.msg).toMatch(/from 50% to 25%: error rate 7% at 50%/);
    expect(writes(t)).toEqual([['f=10'], ['f=25'], ['f=50'], ['f=25'], ['f=50'], ['f=100']]);
    // the 25% hold (1h) restarted at 2h30; resumed at 5h, 50% again at once, 100% an hour later
    expect(stepTimes(t)).toEqual([0, H, 2 * H, 5 * H, 6 * H]);
    expect(t.types()).not.toContain('rollback.started');
    expect(commands(t)).toEqual([]);
    expect(t.state.status).toBe('completed');
  });
  it('below the first step the phase starts over; refused when not below the current percentage or nothing is rolled out yet', async () => {
    const p = await p4();
    const t = drive(p, { controls: [{ at: 90 * M, ctl: { kind: 'rollback', reason: 'r', to: 5 } }], limitMs: 3 * H });
    expect(writes(t).at(-1)).toEqual(['f=5']);
    expect(t.state.step).toBe(-1);
    expect(t.state.status).toBe('paused');
    const run = createRun(p, 'r1', T0).state;
    expect(control(p, run, { kind: 'rollback', reason: 'r', to: 5 }, T0).error).toMatch(/nothing to step down/);
    const at25 = drive(p, { limitMs: 90 * M }).state;
    expect(control(p, at25, { kind: 'rollback', reason: 'r', to: 25 }, T0 + 90 * M).error).toMatch(/not below the current 25%/);
  });
});

describe('recurring reports (notify.reports)', () => {
  const reportsPlan = (reports: string) =>
    mkPlan(`defaults: { hold: 1d, interval: 1m, maxJump: 100 }
checks:
  - { name: err, provider: sim, query: e, max: 5 }
phases:
  - { name: a, flags: [f], steps: [10, 50] }
  - { name: b, flags: [g], steps: [{ percent: 100, hold: 3d }] }
notify:
  targets: { log: { type: log }, ops: { type: log } }
  reports:
${reports}`);
  const reports = (t: { performed: Array<{ action: Action; at?: number }> }) =>
    t.performed.filter((p) => p.action.kind === 'notify' && p.action.event === 'run.report').map((p) => p.action as Extract<Action, { kind: 'notify' }>);

  it('sends run.report every `every` while the run is active, with the values just judged', async () => {
    const p = await reportsPlan(`    - { name: daily status, every: 1d }
`);
    const t = drive(p);
    expect(t.state.status).toBe('completed');
    // 5 days of run (1d + 1d + 3d): a report at the end of each day (the last with the completion)
    const r = reports(t);
    expect(r.length).toBe(5);
    expect(t.performed.filter((x) => x.action.kind === 'notify' && x.action.event === 'run.report').map((x) => (x.at - T0) / D)).toEqual([1, 2, 3, 4, 5]);
    expect(noticeVarsOf(p, r[0]!).report).toBe('daily status');
    expect(String(noticeVarsOf(p, r[0]!).checks)).toMatch(/err .* ok/);
    expect(r.every((a) => a.targets === undefined)).toBe(true);
  });

  it('a phase-scoped report counts from entering the phase and stops when the phase is left; targets are honoured', async () => {
    const p = await reportsPlan(`    - { every: 1h, phases: [b], targets: [ops] }
`);
    const t = drive(p);
    const r = reports(t);
    // phase b is entered at 2d and holds 72h: hourly reports at 2d+1h … 2d+72h (the last with the completion)
    expect(r.length).toBe(72);
    expect(r.every((a) => noticeVarsOf(p, a).phase === 'b' && JSON.stringify(a.targets) === '["ops"]')).toBe(true);
  });

  it('reports go on while paused (a human is deciding) and the paused run does not spin', async () => {
    const p = await reportsPlan(`    - { every: 6h }
`);
    const t = drive(p, { controls: [{ at: 2 * H, ctl: { kind: 'pause', reason: 'look' } }, { at: 44 * H, ctl: { kind: 'resume' } }] });
    const whilePaused = t.performed.filter((x) => x.action.kind === 'notify' && x.action.event === 'run.report' && x.at > T0 + 2 * H && x.at < T0 + 44 * H);
    expect(whilePaused.map((x) => (x.at - T0) / H)).toEqual([6, 12, 18, 24, 30, 36, 42]);
    expect(t.state.status).toBe('completed');
  });

  it('validate refuses a report more often than every minute, unknown targets and phases', async () => {
    await expect(reportsPlan(`    - { every: 10s }
`)).rejects.toThrow(/at least 1m/);
    await expect(reportsPlan(`    - { every: 1h, targets: [nobody] }
`)).rejects.toThrow(/unknown notify target "nobody"/);
    await expect(reportsPlan(`    - { every: 1h, phases: [zz] }
`)).rejects.toThrow(/unknown phase "zz"/);
  });
});

describe('no data', () => {
  const withPolicy = (policy: string, extra = '') => basic('', `  - { name: err, provider: sim, query: e, max: 5, noData: ${policy}${extra} }\n`);
  it('hold: never advances without data, pauses after noDataTimeout (default 15m)', async () => {
    const p = await withPolicy('hold');
    const t = drive(p, { obs: observer(p, { err: after(30 * M, null, 1) }) });
    expect(t.state.status).toBe('paused');
    expect(t.of('run.paused')[0]!.at).toBe(T0 + 45 * M);
    expect(t.state.reason).toMatch(/check "err" has no data \(no data\) for 15m; not advancing without data/);
    expect(stepPercents(t, 'f')).toEqual([10]);
  });
  it('hold: data that returns before the timeout lets the run go on (and the hold is not skipped)', async () => {
    const p = await withPolicy('hold', ', noDataTimeout: 2h');
    const t = drive(p, { obs: observer(p, { err: (e) => (e >= 50 * M && e < 80 * M ? null : 1) }) });
    expect(t.state.status).toBe('completed');
    // The 30m without data do not count toward the 1h hold (nor reset it): 50% at 1h30.
    expect(stepTimes(t)).toEqual([0, 90 * M, 150 * M]);
  });
  it('pause: pauses at the first judgment without data', async () => {
    const p = await withPolicy('pause');
    const t = drive(p, { obs: observer(p, { err: after(30 * M, null, 1) }) });
    expect(t.state.status).toBe('paused');
    expect(t.of('run.paused')[0]!.at).toBe(T0 + 30 * M);
  });
  it('rollback: rolls back, trigger no-data', async () => {
    const p = await withPolicy('rollback');
    const t = drive(p, { obs: observer(p, { err: after(30 * M, null, 1) }) });
    expect(t.state.status).toBe('rolled-back');
    expect(t.state.rollback?.trigger).toBe('no-data');
    const inc = t.performed.find((x) => x.action.kind === 'record-incident')!.action as Extract<Action, { kind: 'record-incident' }>;
    expect(inc.incident.trigger).toBe('no-data');
  });
  it('pass: no data counts as passing', async () => {
    const p = await withPolicy('pass');
    const t = drive(p, { obs: observer(p, { err: () => null }) });
    expect(t.state.status).toBe('completed');
    expect(stepTimes(t)).toEqual([0, H, 2 * H]);
  });
  it('a provider error is no data (hold → pause after the timeout), with the error as the reason', async () => {
    const p = await withPolicy('hold', ', noDataTimeout: 10m');
    const t = drive(p, { obs: observer(p, { err: (e) => (e >= 30 * M ? { value: 3, error: 'connection refused' } : 1) }) });
    expect(t.state.status).toBe('paused');
    expect(t.of('run.paused')[0]!.at).toBe(T0 + 40 * M);
    expect(t.state.reason).toMatch(/provider error: connection refused/);
  });
  it('no data is never read as zero (a min: check does not breach on missing data)', async () => {
    const p = await basic('', `  - { name: up, provider: sim, query: u, min: 0.9 }\n`);
    const t = drive(p, { obs: observer(p, { up: after(10 * M, null, 1) }) });
    expect(t.of('breach.detected')).toEqual([]);
    expect(t.state.status).toBe('paused');
  });
});

describe('relative checks', () => {
  const rel = () => basic('', `  - { name: lat, provider: sim, query: l, relative: { baseline: b, maxIncrease: 0.1 } }\n`);
  it('compares with the baseline: within 10% passes, above breaches', async () => {
    const p = await rel();
    const ok = drive(p, { obs: observer(p, { lat: () => ({ value: 209, baseline: 200 }) }) });
    expect(ok.state.status).toBe('completed');
    const bad = drive(p, { obs: observer(p, { lat: (e) => ({ value: e >= 30 * M ? 260 : 200, baseline: 200 }) }) });
    expect(bad.state.status).toBe('rolled-back');
    expect(bad.state.reason).toMatch(/more than 10% above baseline 200/);
  });
  it('no baseline is no data (never a breach)', async () => {
    const p = await rel();
    const t = drive(p, { obs: observer(p, { lat: (e) => ({ value: 999, baseline: e >= 30 * M ? null : 999 }) }) });
    expect(t.of('breach.detected')).toEqual([]);
    expect(t.state.status).toBe('paused');
    expect(t.state.reason).toMatch(/baseline has no data/);
  });
});

describe('approvals', () => {
  const gated = (approval: string) =>
    mkPlan(`defaults: { hold: 1h, interval: 1m }
${NOTIFY}phases:
  - { name: a, flags: [f], steps: [50, 100] }
  - name: b
    flags: [g]
    approval: ${approval}
    steps: [10, 100]
`);
  it('a phase gate waits for approval before the phase; approve lets it go on', async () => {
    const p = await gated('{ message: "go for b?" }');
    const t = drive(p, { controls: [{ at: 5 * H, ctl: { kind: 'approve', by: 'alice', note: 'lgtm' } }] });
    expect(t.state.status).toBe('completed');
    expect(stepTimes(t)).toEqual([0, H, 5 * H, 6 * H]);
    const req = t.of('approval.requested');
    expect(req).toHaveLength(1);
    expect(req[0]!.at).toBe(T0 + 2 * H);
    expect(req[0]!.msg).toMatch(/go for b\?/);
    expect(t.of('approval.granted')[0]!.msg).toMatch(/approved by alice \(lgtm\)/);
    expect(t.state.approved).toEqual(['p1']);
    expect(notices(t)).toContain('approval.requested');
  });
  it('the waiting run does not spin and keeps judging checks every interval', async () => {
    const p = await gated('true');
    const t = drive(p, { controls: [{ at: 5 * H, ctl: { kind: 'approve' } }] });
    const waiting = t.ticks.filter((k) => k.status === 'awaiting-approval');
    expect(waiting.length).toBe(3 * 60 - 1); // 2h01 … 4h59: one judgment per interval
    const s = t.state;
    expect(s.status).toBe('completed');
  });
  it('a step gate waits before that step only', async () => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 1m }
phases:
  - name: a
    flags: [f]
    steps: [10, { percent: 50, approval: { message: "50%?" } }, 100]
`);
    const t = drive(p, { controls: [{ at: 3 * H, ctl: { kind: 'approve' } }] });
    expect(stepTimes(t)).toEqual([0, 3 * H, 4 * H]);
    expect(t.state.approved).toEqual(['p0s1']);
    expect(t.of('approval.requested')[0]!.msg).toMatch(/50%\?/);
  });
  it('reject → aborted, flags left as they are', async () => {
    const p = await gated('true');
    const t = drive(p, { controls: [{ at: 3 * H, ctl: { kind: 'reject', by: 'bob', reason: 'not today' } }] });
    expect(t.state.status).toBe('aborted');
    expect(t.state.reason).toMatch(/no-go by bob: not today/);
    expect(t.state.flags).toEqual({ f: { enabled: true, percentage: 100 } });
    expect(t.of('rollback.started')).toEqual([]);
  });
  it('decision window → onTimeout: abort', async () => {
    const p = await gated('{ timeout: 2h, onTimeout: abort }');
    const t = drive(p);
    expect(t.state.status).toBe('aborted');
    expect(t.state.finishedAt).toBe(T0 + 4 * H);
    expect(t.of('approval.timeout')[0]!.data?.onTimeout).toBe('abort');
  });
  it('decision window → onTimeout: rollback (trigger approval-timeout)', async () => {
    const p = await gated('{ timeout: 2h, onTimeout: rollback }');
    const t = drive(p);
    expect(t.state.status).toBe('rolled-back');
    expect(t.state.rollback?.trigger).toBe('approval-timeout');
    expect(t.of('rollback.started')[0]!.at).toBe(T0 + 4 * H);
  });
  it('decision window → onTimeout: pause; the paused run keeps its gate, does not spin, and approve still goes on', async () => {
    const p = await gated('{ timeout: 2h, onTimeout: pause }');
    const t = drive(p, { controls: [{ at: 10 * H, ctl: { kind: 'approve', by: 'late' } }] });
    expect(t.of('approval.timeout')[0]!.at).toBe(T0 + 4 * H);
    expect(t.of('run.paused')[0]!.msg).toMatch(/`rollout approve` still lets it go on/);
    expect(t.state.status).toBe('completed');
    expect(stepTimes(t)).toEqual([0, H, 10 * H, 11 * H]);
    // paused from 4h to 10h: ticks once per interval, not once per loop
    expect(t.ticks.filter((k) => k.status === 'paused').length).toBeLessThanOrEqual(6 * 60 + 1);
  });
  it('resuming a run paused by a decision-window timeout opens a new decision window', async () => {
    const p = await gated('{ timeout: 2h, onTimeout: pause }');
    const t = drive(p, { controls: [{ at: 6 * H, ctl: { kind: 'resume' } }], limitMs: 7 * H });
    expect(t.state.status).toBe('awaiting-approval');
    expect(t.state.approval?.deadline).toBe(T0 + 8 * H);
    expect(t.of('approval.timeout')).toHaveLength(1);
  });
  it('pausing a run that awaits approval and resuming it returns to the gate', async () => {
    const p = await gated('true');
    const t = drive(p, {
      controls: [
        { at: 3 * H, ctl: { kind: 'pause', reason: 'lunch' } },
        { at: 4 * H, ctl: { kind: 'resume' } },
        { at: 5 * H, ctl: { kind: 'approve' } },
      ],
    });
    expect(t.state.status).toBe('completed');
    expect(t.of('run.paused')[0]!.msg).toMatch(/lunch/);
    expect(stepTimes(t)).toEqual([0, H, 5 * H, 6 * H]);
  });
  it('a human pause outlasting the decision window does not make the run spin', async () => {
    const p = await gated('{ timeout: 2h, onTimeout: abort }');
    const t = drive(p, { controls: [{ at: 3 * H, ctl: { kind: 'pause', reason: 'wait' } }, { at: 9 * H, ctl: { kind: 'approve' } }] });
    expect(t.state.status).toBe('completed');
  });
  it('an approval is asked only once checks pass and the hold is over', async () => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 1m }
checks:
  - { name: err, provider: sim, query: e, max: 5, for: 1d }
phases:
  - { name: a, flags: [f], steps: [50] }
  - { name: b, flags: [g], approval: true, steps: [100] }
`);
    const t = drive(p, { obs: observer(p, { err: (e) => (e >= 30 * M && e < 3 * H ? 9 : 1) }), autoApprove: true });
    expect(t.of('approval.requested')[0]!.at).toBe(T0 + 3 * H);
    expect(t.state.status).toBe('completed');
  });
  it('a run paused at a gate (breach or timeout) can still be rejected; approving it re-judges its checks', async () => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 1m }
checks:
  - { name: lat, provider: sim, query: l, max: 300, tier: warning, for: 10m }
phases:
  - { name: a, flags: [f], steps: [50] }
  - { name: b, flags: [g], approval: { timeout: 1d }, steps: [100] }
`);
    const obs = observer(p, { lat: after(2 * H, 900, 100) });
    const rej = drive(p, { obs, controls: [{ at: 3 * H, ctl: { kind: 'reject', reason: 'no' } }] });
    expect(rej.state.status).toBe('aborted');
    const t = drive(p, { obs, controls: [{ at: 3 * H, ctl: { kind: 'approve' } }], limitMs: 5 * H });
    // paused by the breach at 2h10; approved at 3h: the still-failing check breaches (and pauses) again after for:
    expect(t.of('breach.detected').map((e) => e.at - T0)).toEqual([2 * H + 10 * M, 3 * H + 10 * M]);
    expect(t.state.status).toBe('paused');
    expect(stepTimes(t)).toEqual([0]);
  });
  it('approve / reject are refused when nothing waits for a decision', async () => {
    const p = await gated('true');
    const d = createRun(p, 'r', T0);
    expect(control(p, d.state, { kind: 'approve' }, T0).error).toMatch(/not waiting for an approval/);
    expect(control(p, d.state, { kind: 'reject', reason: 'x' }, T0).error).toMatch(/not waiting for an approval/);
  });
});

describe('requires:', () => {
  const req = () =>
    mkPlan(`defaults: { hold: 1h, interval: 1m }
phases:
  - { name: a, flags: [f], requires: [base], steps: [50, 100] }
`);
  it('goes on when the required flag is fully on', async () => {
    const p = await req();
    const t = drive(p, { obs: observer(p, {}, { base: flagOn('base') }) });
    expect(t.state.status).toBe('completed');
  });
  it.each([
    ['off', flagOn('base', 100, false), /requires base fully on, but it is off/],
    ['partly on', flagOn('base', 50), /requires base fully on, but it is 50%/],
    ['missing', { flag: 'base', exists: false, enabled: false, percentage: 0 }, /but it is missing/],
    ['unreadable', undefined, /but it is unknown/],
  ])('pauses with the reason when the required flag is %s', async (_, state, reason) => {
    const p = await req();
    const t = drive(p, { obs: observer(p, {}, { base: state }) });
    expect(t.state.status).toBe('paused');
    expect(t.state.reason).toMatch(reason);
    expect(t.state.reason).toMatch(/phase "a"/);
    expect(stepPercents(t, 'f')).toEqual([]);
  });
  it('resume after the required flag is rolled out goes on', async () => {
    const p = await req();
    const t = drive(p, { obs: observer(p, {}, (now) => ({ base: flagOn('base', now >= T0 + H ? 100 : 20) })), controls: [{ at: 2 * H, ctl: { kind: 'resume' } }] });
    expect(t.state.status).toBe('completed');
    expect(stepTimes(t)[0]).toBe(2 * H);
  });
  it('a flag this plan rolled out in an earlier phase counts from the run state when not observed', async () => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 1m }
phases:
  - { name: a, flags: [base], steps: [100] }
  - { name: b, flags: [f], requires: [base], steps: [100] }
`);
    const t = drive(p);
    expect(t.state.status).toBe('completed');
  });
});

describe('windows: the next step waits until the window opens', () => {
  it('steps only inside allowed hours (timezone honoured), waking exactly when it opens', async () => {
    const p = await mkPlan(`defaults: { hold: 4h, interval: 10m }
windows:
  timezone: America/New_York
  allow: [{ days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00" }]
phases:
  - { name: a, flags: [f], steps: [10, 25, 50, 100] }
`);
    // Monday 08:00 UTC = 03:00 in New York: the first step waits for 09:00 EST = 14:00 UTC
    const t = drive(p);
    expect(t.state.status).toBe('completed');
    const at = stepTimes(t).map((x) => new Date(T0 + x).toISOString());
    expect(at).toEqual(['2025-03-03T14:00:00.000Z', '2025-03-03T18:00:00.000Z', '2025-03-04T14:00:00.000Z', '2025-03-04T18:00:00.000Z']);
    expect(t.of('window.closed').length).toBeGreaterThanOrEqual(1);
    expect(t.of('window.closed')[0]!.msg).toMatch(/next step waits until 2025-03-03T14:00:00.000Z/);
  });
  it('a blackout stops steps; holds and checks go on', async () => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 1m }
windows:
  blackout: [{ from: "09:30", to: "12:00", name: peak }]
phases:
  - { name: a, flags: [f], steps: [10, 25, 50, 100] }
`);
    const t = drive(p);
    expect(stepTimes(t)).toEqual([0, H, 4 * H, 5 * H]);
  });
});

describe('promote', () => {
  it('promote ends the current hold early; the following holds are kept; checks still gate', async () => {
    const p = await basic();
    const t = drive(p, { controls: [{ at: 10 * M, ctl: { kind: 'promote', full: false, by: 'carol' } }] });
    expect(stepTimes(t)[1]).toBeLessThanOrEqual(11 * M);
    expect(stepTimes(t)[2]! - stepTimes(t)[1]!).toBe(H);
    expect(t.of('run.promoted')[0]!.msg).toMatch(/by carol/);
    const blocked = drive(p, { obs: observer(p, { err: (e) => (e >= 5 * M ? { value: null } : 1) }), controls: [{ at: 10 * M, ctl: { kind: 'promote', full: false } }], limitMs: 15 * M });
    expect(stepPercents(blocked, 'f')).toEqual([10]);
  });
  it('promote --full skips the holds to the end of this phase, not into the next one', async () => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 1m }
phases:
  - { name: a, flags: [f], steps: [10, 25, 50, 100] }
  - { name: b, flags: [g], steps: [50, 100] }
`);
    const t = drive(p, { controls: [{ at: 10 * M, ctl: { kind: 'promote', full: true } }] });
    const times = stepTimes(t);
    expect(times[3]!).toBeLessThan(20 * M); // phase a done within a few intervals
    expect(times[4]! - times[3]!).toBeLessThanOrEqual(2 * M);
    expect(times[5]! - times[4]!).toBe(H); // phase b holds as planned
  });
  it('promote --full on the last step of a phase only ends that hold', async () => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 1m }
phases:
  - { name: a, flags: [f], steps: [10, 100] }
  - { name: b, flags: [g], steps: [50, 100] }
`);
    const t = drive(p, { controls: [{ at: H + 10 * M, ctl: { kind: 'promote', full: true } }] });
    const times = stepTimes(t);
    expect(times[2]!).toBeLessThanOrEqual(H + 11 * M);
    expect(times[3]! - times[2]!).toBe(H);
  });
  it('promote is refused unless running', async () => {
    const p = await basic();
    const t = drive(p, { controls: [{ at: 5 * M, ctl: { kind: 'pause', reason: 'x' } }, { at: 6 * M, ctl: { kind: 'promote', full: false } }] });
    expect(t.refused[0]).toMatch(/only a running run can be promoted/);
  });
});

describe('pause / resume', () => {
  it('pause stops steps; resume goes on; checks are judged afresh after resume', async () => {
    const p = await basic();
    const t = drive(p, { controls: [{ at: 30 * M, ctl: { kind: 'pause', reason: 'investigating', by: 'dan' } }, { at: 3 * H, ctl: { kind: 'resume', by: 'dan' } }] });
    expect(t.of('run.paused')[0]!.msg).toMatch(/investigating by dan/);
    expect(t.of('run.resumed')[0]!.msg).toMatch(/resumed by dan/);
    expect(stepTimes(t)).toEqual([0, 3 * H, 4 * H]); // judged afresh at once on resume
    expect(t.state.status).toBe('completed');
  });
  it('resume resets check streaks: a for: failure must be sustained again after resume', async () => {
    const p = await basic('', `  - { name: err, provider: sim, query: e, max: 5, for: 30m, tier: warning }\n`);
    const t = drive(p, {
      obs: observer(p, { err: after(10 * M, 9, 1) }),
      controls: [
        { at: 20 * M, ctl: { kind: 'pause', reason: 'look' } },
        { at: 35 * M, ctl: { kind: 'resume' } },
      ],
    });
    // failing since 10m; without the reset it would breach at 40m; with it at 35m + 30m
    const breach = t.of('breach.detected');
    expect(breach).toHaveLength(1);
    expect(breach[0]!.at).toBe(T0 + 65 * M);
    expect(t.state.status).toBe('paused');
  });
  it('resume is refused unless paused; pause refused when finished', async () => {
    const p = await basic();
    const d = createRun(p, 'r', T0);
    expect(control(p, d.state, { kind: 'resume' }, T0).error).toMatch(/not paused/);
    const done = drive(p);
    expect(control(p, done.state, { kind: 'pause', reason: 'x' }, done.now).error).toMatch(/only a running run can be paused/);
  });
});

describe('abort', () => {
  it('aborts, leaving flags as they are, dropping a queued step, running no rollback', async () => {
    const p = await basic();
    const d = createRun(p, 'r', T0);
    const t1 = tick(p, d.state, observer(p)(T0, d.state), T0);
    expect(t1.state.pending.map((a) => a.kind)).toEqual(['apply-flags']);
    const a = control(p, t1.state, { kind: 'abort', reason: 'wrong plan', by: 'eve' }, T0);
    expect(a.state.status).toBe('aborted');
    expect(a.state.pending).toEqual([]);
    expect(a.state.reason).toMatch(/wrong plan by eve; flags left as they are/);
    expect(nextWake(p, a.state, T0)).toBeUndefined();
  });
  it('abort is refused while rolling back and once finished', async () => {
    const p = await basic();
    const d = createRun(p, 'r', T0);
    const rb = control(p, d.state, { kind: 'rollback', reason: 'x' }, T0);
    expect(control(p, rb.state, { kind: 'abort', reason: 'y' }, T0).error).toMatch(/rolling back/);
    const done = drive(p);
    expect(control(p, done.state, { kind: 'abort', reason: 'y' }, done.now).error).toMatch(/already completed/);
  });
});

describe('rollback', () => {
  const rbPlan = (rollback: string, extra = NOTIFY) =>
    mkPlan(`defaults: { hold: 1h, interval: 1m }
checks:
  - { name: err, provider: sim, query: e, max: 5 }
phases:
  - { name: a, flags: [f, g], steps: [10, 50, 100] }
rollback:
${rollback}
${extra}`);
  const IMMEDIATE = `  mode: immediate
  commands:
    - { name: revert, run: [./revert.sh, "{{phase}}"] }
    - [./page.sh]
  healthCheck: { command: [./health.sh], retries: 2 }
  escalate:
    commands: [[./escalate.sh]]
    notify: [log]`;

  it('immediate: flags off first, then incident, notice, commands (reason via env), health check; rolled-back', async () => {
    const p = await rbPlan(IMMEDIATE);
    const t = drive(p, { obs: observer(p, { err: after(90 * M, 50, 1) }) });
    expect(t.state.status).toBe('rolled-back');
    const seq = t.performed.filter((x) => x.at >= T0 + 90 * M).map((x) => (x.action.kind === 'notify' ? `notify:${x.action.event}` : x.action.kind));
    expect(seq).toEqual(['apply-flags', 'record-incident', 'notify:rollback.started', 'run-command', 'run-command', 'health-check', 'notify:rollback.completed']);
    expect(writes(t, 'rollback')).toEqual([['f=off', 'g=off']]);
    expect(t.state.flags).toEqual({ f: { enabled: false, percentage: 0 }, g: { enabled: false, percentage: 0 } });
    const cmds = commands(t);
    expect(cmds.map((c) => c.command.name)).toEqual(['revert', 'rollback command 2']);
    expect(cmds[0]!.env.ROLLOUT_REASON).toMatch(/check "err" breached \(critical\): 50 > max 5/);
    expect(cmds[0]!.env).toMatchObject({ ROLLOUT_RUN_ID: 'run-1', ROLLOUT_PLAN: 't', ROLLOUT_PHASE: 'a', ROLLOUT_FLAGS: 'f,g' });
    expect(cmds[0]!.command.argv).toEqual(['./revert.sh', '{{phase}}']); // the reason is never in argv
    const hc = t.performed.find((x) => x.action.kind === 'health-check')!.action as Extract<Action, { kind: 'health-check' }>;
    expect(hc.retries).toBe(2);
    expect(t.state.reason).toMatch(/^check "err" breached/);
    expect(t.state.reason).not.toMatch(/INCOMPLETE/);
    const inc = t.performed.find((x) => x.action.kind === 'record-incident')!.action as Extract<Action, { kind: 'record-incident' }>;
    expect(inc.incident).toMatchObject({ severity: 'critical', trigger: 'check', phase: 'a', percentage: 50 });
    expect(inc.incident.checks.err).toMatchObject({ value: 50 });
    for (const type of ['breach.detected', 'rollback.started', 'rollback.flags-off', 'incident.recorded', 'command.finished', 'health.ok', 'run.rolled-back']) expect(t.types()).toContain(type);
  });

  it('immediate: the flags go off before notices queued earlier are delivered', async () => {
    const p = await rbPlan(IMMEDIATE);
    // stop right after a step was applied (its step.applied notice still pending), then roll back
    let s = createRun(p, 'r', T0).state;
    s = complete(p, s, s.pending[0]!.id, { ok: true, detail: '' }, T0).state; // run.started notice
    s = tick(p, s, observer(p)(T0, s), T0).state;
    s = complete(p, s, s.pending[0]!.id, { ok: true, detail: '' }, T0).state; // step applied
    expect(s.pending.map((a) => a.kind)).toEqual(['notify']);
    const r = control(p, s, { kind: 'rollback', reason: 'stop' }, T0);
    expect(r.state.pending[0]).toMatchObject({ kind: 'apply-flags', purpose: 'rollback' });
  });

  it('manual rollback: warning incident, trigger manual, mode override', async () => {
    const p = await rbPlan(IMMEDIATE);
    const t = drive(p, { controls: [{ at: 70 * M, ctl: { kind: 'rollback', reason: 'customer complaints', by: 'ops' } }] });
    expect(t.state.status).toBe('rolled-back');
    expect(t.state.reason).toBe('customer complaints by ops');
    expect(t.state.rollback).toMatchObject({ trigger: 'manual', mode: 'immediate' });
    const inc = t.performed.find((x) => x.action.kind === 'record-incident')!.action as Extract<Action, { kind: 'record-incident' }>;
    expect(inc.incident).toMatchObject({ severity: 'warning', trigger: 'manual', percentage: 50 });
    // The reason reaches commands exactly as given; who asked is recorded apart.
    expect(commands(t)[0]!.env.ROLLOUT_REASON).toBe('customer complaints');
    expect(t.state.rollback?.by).toBe('ops');
    expect(inc.incident).toMatchObject({ reason: 'customer complaints', by: 'ops' });
  });

  it('rollback after a finished run (completed or aborted) is allowed; twice is refused', async () => {
    const p = await rbPlan(IMMEDIATE);
    const done = drive(p);
    const r = control(p, done.state, { kind: 'rollback', reason: 'late regression' }, done.now);
    expect(r.error).toBeUndefined();
    expect(r.state.status).toBe('rolling-back');
    const t = drive(p, { state: r.state, start: done.now });
    expect(t.state.status).toBe('rolled-back');
    expect(control(p, t.state, { kind: 'rollback', reason: 'again' }, t.now).error).toMatch(/already rolled-back/);
    // A rollback already under way (its driver killed mid-way) is continued, not refused.
    const cont = control(p, r.state, { kind: 'rollback', reason: 'again', by: 'ops' }, t.now);
    expect(cont.error).toBeUndefined();
    expect(cont.state.status).toBe('rolling-back');
    expect(cont.state.pending).toEqual(r.state.pending);
    expect(cont.events.map((e) => e.type)).toEqual(['rollback.continued']);
  });

  it('rollback.flags limits what a rollback turns off (and ROLLOUT_FLAGS says so)', async () => {
    const p = await rbPlan(`  flags: [g]
  commands: [[./x]]`);
    const t = drive(p, { controls: [{ at: 30 * M, ctl: { kind: 'rollback', reason: 'r' } }] });
    expect(writes(t, 'rollback')).toEqual([['g=off']]);
    expect(commands(t)[0]!.env.ROLLOUT_FLAGS).toBe('g');
    expect(t.state.flags.f).toEqual({ enabled: true, percentage: 10 });
  });

  it('gradual: 100 → 50 → 25 → 10 → 0 with each wait honoured, then commands and health check', async () => {
    const p = await rbPlan(`  mode: gradual
  steps:
    - { percent: 50, wait: 10m }
    - { percent: 25, wait: 10m }
    - { percent: 10, wait: 5m }
    - { percent: 0 }
  commands: [[./after.sh]]
  healthCheck: { command: [./health.sh] }`);
    const t = drive(p, { obs: observer(p, { err: after(2 * H + 30 * M, 50, 1) }) });
    expect(t.state.status).toBe('rolled-back');
    expect(t.state.rollback?.mode).toBe('gradual');
    const rb = t.performed.filter((x) => x.action.kind === 'apply-flags' && x.action.purpose === 'rollback');
    expect(writes(t, 'rollback')).toEqual([
      ['f=50', 'g=50'],
      ['f=25', 'g=25'],
      ['f=10', 'g=10'],
      ['f=off', 'g=off'],
    ]);
    const t0 = T0 + 150 * M;
    expect(rb.map((x) => x.at - t0)).toEqual([0, 10 * M, 20 * M, 25 * M]);
    const cmd = t.performed.find((x) => x.action.kind === 'run-command')!;
    expect(cmd.at).toBeGreaterThanOrEqual(rb.at(-1)!.at);
    expect(t.performed.findIndex((x) => x.action.kind === 'health-check')).toBeGreaterThan(t.performed.indexOf(cmd));
    expect(t.of('rollback.step').map((e) => e.data?.percent)).toEqual([50, 25, 10, 0]);
    expect(t.state.flags).toEqual({ f: { enabled: false, percentage: 0 }, g: { enabled: false, percentage: 0 } });
  });

  it('gradual from a low percentage skips the stages above it (no pointless waits)', async () => {
    const p = await rbPlan(`  mode: gradual
  steps:
    - { percent: 50, wait: 1h }
    - { percent: 25, wait: 1h }
    - { percent: 5, wait: 10m }
    - { percent: 0 }`);
    const t = drive(p, { obs: observer(p, { err: after(30 * M, 50, 1) }) }); // at 10%
    expect(t.state.status).toBe('rolled-back');
    expect(writes(t, 'rollback').filter((w) => w.length)).toEqual([
      ['f=5', 'g=5'],
      ['f=off', 'g=off'],
    ]);
    expect(t.state.finishedAt! - (T0 + 30 * M)).toBeLessThanOrEqual(10 * M + 2 * M);
  });

  it('a manual immediate rollback of a gradual plan turns flags off at once', async () => {
    const p = await rbPlan(`  mode: gradual
  steps: [{ percent: 50, wait: 1h }, { percent: 0 }]`);
    const t = drive(p, { controls: [{ at: 2 * H + 5 * M, ctl: { kind: 'rollback', reason: 'now', mode: 'immediate' } }] });
    expect(writes(t, 'rollback')).toEqual([['f=off', 'g=off']]);
    expect(t.state.rollback?.mode).toBe('immediate');
  });

  it('a failing rollback escalates: escalation commands and a rollback.failed notice; the reason says INCOMPLETE', async () => {
    const p = await rbPlan(IMMEDIATE);
    const t = drive(p, {
      obs: observer(p, { err: after(30 * M, 50, 1) }),
      outcome: (a) => (a.kind === 'run-command' && a.command.name === 'revert' ? { ok: false, detail: 'exit 1' } : undefined),
    });
    expect(t.state.status).toBe('rollback-incomplete');
    expect(t.state.reason).toMatch(/rollback INCOMPLETE: revert: exit 1/);
    expect(t.of('rollback.escalated')).toHaveLength(1);
    const esc = commands(t).filter((c) => c.purpose === 'escalate');
    expect(esc).toHaveLength(1);
    expect(esc[0]!.env.ROLLOUT_FAILURES).toBe('revert: exit 1');
    const failed = t.performed.find((x) => x.action.kind === 'notify' && x.action.event === 'rollback.failed')!.action as Extract<Action, { kind: 'notify' }>;
    expect(failed.severity).toBe('critical');
    expect(failed.targets).toEqual(['log']);
    expect(t.state.rollback?.escalated).toBe(true);
  });

  it('an incomplete rollback is not an end: it waits; a retry repeats only the failed steps (flags off, failed commands, health check)', async () => {
    const p = await rbPlan(IMMEDIATE);
    let failing = true;
    const t = drive(p, {
      obs: observer(p, { err: after(30 * M, 50, 1) }),
      outcome: (a) => (failing && ((a.kind === 'run-command' && a.command.name === 'revert') || (a.kind === 'apply-flags' && a.purpose === 'rollback')) ? { ok: false, detail: 'HTTP 503' } : undefined),
    });
    expect(t.state.status).toBe('rollback-incomplete');
    expect(nextWake(p, t.state, t.now)).toBeUndefined();
    expect(t.state.rollback?.failed?.map((f) => f.step)).toEqual(['flags', 'command']);
    // Nothing but a retry or an abort is taken.
    expect(control(p, t.state, { kind: 'pause', reason: 'x' }, t.now).error).toMatch(/incomplete rollback/);
    const r = control(p, t.state, { kind: 'rollback', reason: 'backend is back', by: 'bob' }, t.now);
    expect(r.error).toBeUndefined();
    expect(r.state.status).toBe('rolling-back');
    expect(r.state.pending.map((a) => (a.kind === 'run-command' ? `cmd:${a.command.name}` : a.kind))).toEqual(['apply-flags', 'cmd:revert', 'health-check']);
    expect(r.events.map((e) => e.type)).toEqual(['rollback.retry']);
    // Still failing: incomplete again, no second escalation for a human retry.
    const again = drive(p, { state: r.state, start: t.now, outcome: (a) => (a.kind === 'run-command' && a.command.name === 'revert' ? { ok: false, detail: 'exit 1' } : undefined) });
    expect(again.state.status).toBe('rollback-incomplete');
    expect(again.state.rollback?.failures).toEqual(['revert: exit 1']);
    expect(again.of('rollback.escalated')).toHaveLength(0);
    // A worker's retry escalates again; then one that gets through ends the run rolled back.
    const w = control(p, again.state, { kind: 'retry-rollback', by: 'worker', escalate: true }, again.now);
    const esc = drive(p, { state: w.state, start: again.now, outcome: (a) => (a.kind === 'run-command' && a.command.name === 'revert' ? { ok: false, detail: 'exit 1' } : undefined) });
    expect(esc.of('rollback.escalated')).toHaveLength(1);
    failing = false;
    const ok = drive(p, { state: control(p, esc.state, { kind: 'resume', by: 'bob' }, esc.now).state, start: esc.now });
    expect(ok.state.status).toBe('rolled-back');
    expect(ok.state.reason).toMatch(/completed on retry 3/);
    expect(ok.state.rollback?.failures).toEqual([]);
  });

  it('failed flag write and failed health check are rollback failures too', async () => {
    const p = await rbPlan(IMMEDIATE);
    const t = drive(p, {
      obs: observer(p, { err: after(30 * M, 50, 1) }),
      outcome: (a) => (a.kind === 'apply-flags' && a.purpose === 'rollback' ? { ok: false, detail: 'HTTP 503' } : a.kind === 'health-check' ? { ok: false, detail: 'unhealthy after 3 attempt(s)' } : undefined),
    });
    expect(t.state.reason).toMatch(/INCOMPLETE: flag write failed: HTTP 503; health check failed: unhealthy/);
    expect(t.types()).toContain('rollback.flags-failed');
    expect(t.types()).toContain('health.failed');
    expect(t.state.rollback?.healthy).toBe(false);
    // the run does not believe the flags are off when the write failed
    expect(t.state.flags.f).toEqual({ enabled: true, percentage: 10 });
  });

  it('a gradual stage that fails is recorded and the rollback still steps down and escalates', async () => {
    const p = await rbPlan(`  mode: gradual
  steps: [{ percent: 50, wait: 5m }, { percent: 0 }]`);
    let n = 0;
    const t = drive(p, {
      obs: observer(p, { err: after(2 * H + 10 * M, 50, 1) }),
      outcome: (a) => (a.kind === 'apply-flags' && a.purpose === 'rollback' && n++ === 0 ? { ok: false, detail: 'timeout' } : undefined),
    });
    expect(t.types()).toContain('rollback.step-failed');
    expect(t.types()).toContain('rollback.escalated');
    expect(t.state.reason).toMatch(/INCOMPLETE: flag write failed: timeout/);
    expect(t.state.flags.f).toEqual({ enabled: false, percentage: 0 });
  });
});

describe('step write failures', () => {
  it('pause with the reason; resume retries the same step', async () => {
    const p = await basic();
    let fails = 1;
    const t = drive(p, {
      outcome: (a) => (a.kind === 'apply-flags' && a.purpose === 'step' && a.step === 1 && fails-- > 0 ? { ok: false, detail: 'HTTP 500 from backend' } : undefined),
      controls: [{ at: 2 * H, ctl: { kind: 'resume' } }],
    });
    expect(t.of('step.failed')).toHaveLength(1);
    expect(t.of('run.paused')[0]!.msg).toMatch(/flag backend failed while applying 25%: HTTP 500 from backend/);
    expect(t.state.status).toBe('completed');
    expect(stepPercents(t, 'f')).toEqual([10, 25, 50]);
    expect(stepTimes(t)).toEqual([0, 2 * H, 3 * H]);
  });
});

describe('flag changes of a step', () => {
  it('set: writes other flags with the step (true = 100, false = off, a number = that share)', async () => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 1m }
phases:
  - name: a
    flags: [main]
    steps:
      - { percent: 5, set: { dual: true, legacy: false, shadow: 30 } }
      - 50
`);
    expect(stepChanges(p, 0, 0)).toEqual([
      { flag: 'main', enabled: true, percentage: 5 },
      { flag: 'dual', enabled: true, percentage: 100 },
      { flag: 'legacy', enabled: false, percentage: 0 },
      { flag: 'shadow', enabled: true, percentage: 30 },
    ]);
    const t = drive(p);
    expect(t.state.flags).toEqual({ main: { enabled: true, percentage: 50 }, dual: { enabled: true, percentage: 100 }, legacy: { enabled: false, percentage: 0 }, shadow: { enabled: true, percentage: 30 } });
    expect(p.flags).toEqual(['main', 'dual', 'legacy', 'shadow']);
  });
  it('a set-only step leaves the phase flags where the previous step put them', async () => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 1m }
phases:
  - name: a
    flags: [prod]
    steps: [25, 50, { set: { tournaments: true } }, { set: { social: true } }]
`);
    expect(stepChanges(p, 0, 2)).toEqual([
      { flag: 'prod', enabled: true, percentage: 50 },
      { flag: 'tournaments', enabled: true, percentage: 100 },
    ]);
    const t = drive(p);
    expect(t.state.flags.prod).toEqual({ enabled: true, percentage: 50 });
    expect(stepPercents(t, 'prod')).toEqual([25, 50, 50, 50]);
    expect(stepLabel(p, 0, 2)).toBe('tournaments=true');
  });
  it('a phase with only set: steps (no flags) writes only those', async () => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 1m }
phases:
  - name: a
    steps: [{ set: { x: true } }, { set: { y: 40 } }]
`);
    expect(stepChanges(p, 0, 1)).toEqual([{ flag: 'y', enabled: true, percentage: 40 }]);
    expect(drive(p).state.flags).toEqual({ x: { enabled: true, percentage: 100 }, y: { enabled: true, percentage: 40 } });
  });
  it('rings: the ring without users/segments is the percentage, the others are per-ring', async () => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 1m, maxJump: 100 }
rings:
  internal: { users: [u1, u2] }
  beta: { segments: [beta-testers] }
  ga: {}
phases:
  - name: a
    flags: [f]
    stickiness: userId
    steps:
      - { rings: { internal: 100, beta: 0, ga: 0 } }
      - { rings: { internal: 100, beta: 50, ga: 0 } }
      - { rings: { internal: 100, beta: 100, ga: 25 } }
`);
    expect(stepChanges(p, 0, 0)).toEqual([{ flag: 'f', enabled: true, percentage: 0, rings: { internal: 100, beta: 0 }, stickiness: 'userId' }]);
    expect(stepChanges(p, 0, 2)).toEqual([{ flag: 'f', enabled: true, percentage: 25, rings: { internal: 100, beta: 100 }, stickiness: 'userId' }]);
    expect(stepLabel(p, 0, 1)).toBe('internal 100% · beta 50% · ga 0%');
    const t = drive(p);
    expect(t.state.flags.f).toEqual({ enabled: true, percentage: 25, rings: { internal: 100, beta: 100 } });
  });
  it('rings all at 0 with no allowlist: the flag is off', async () => {
    const p = await mkPlan(`rings: { internal: { users: [a] }, ga: {} }
phases:
  - { name: a, flags: [f], steps: [{ rings: { internal: 0, ga: 0 } }, { rings: { internal: 100, ga: 0 } }] }
`);
    expect(stepChanges(p, 0, 0)[0]).toMatchObject({ enabled: false, percentage: 0 });
    expect(stepChanges(p, 0, 1)[0]).toMatchObject({ enabled: true, percentage: 0, rings: { internal: 100 } });
  });
  it('users/segments allowlists are written and enable the flag at 0%', async () => {
    const p = await mkPlan(`phases:
  - { name: a, flags: [f], users: [u1], segments: [s1], steps: [0, 10] }
`);
    expect(stepChanges(p, 0, 0)).toEqual([{ flag: 'f', enabled: true, percentage: 0, users: ['u1'], segments: ['s1'] }]);
  });
});

describe('scheduling: nextWake', () => {
  it('is undefined when the run is over and "now" while actions are pending', async () => {
    const p = await basic();
    const d = createRun(p, 'r', T0);
    expect(nextWake(p, d.state, T0)).toBe(T0);
    const done = drive(p);
    expect(nextWake(p, done.state, done.now)).toBeUndefined();
  });
  it('is never in the past, whatever time it is asked at', async () => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 1m }
windows: { allow: [{ from: "09:00", to: "17:00" }] }
phases:
  - { name: a, flags: [f], steps: [10, { percent: 50, approval: { timeout: 1h } }] }
`);
    const states: RunState[] = [];
    drive(p, {
      obs: (now, s) => {
        states.push(s);
        return observer(p)(now, s);
      },
    });
    for (const s of states) for (const dt of [0, 1, M, H, D, 30 * D]) expect(nextWake(p, s, s.updatedAt + dt)).toBeGreaterThanOrEqual(s.updatedAt + dt);
  });
  it('a paused run is woken once per interval, not continuously', async () => {
    const p = await basic();
    const t = drive(p, { controls: [{ at: 5 * M, ctl: { kind: 'pause', reason: 'x' } }, { at: 65 * M, ctl: { kind: 'resume' } }], limitMs: 66 * M });
    expect(t.ticks.filter((k) => k.status === 'paused').length).toBe(60);
  });
  it('a rolling-back run waits for the gradual stage, not longer', async () => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 1m }
phases: [{ name: a, flags: [f], steps: [100] }]
rollback: { mode: gradual, steps: [{ percent: 50, wait: 7m }, { percent: 0 }] }
`);
    const t = drive(p, { controls: [{ at: 10 * M, ctl: { kind: 'rollback', reason: 'r' } }] });
    const rb = t.performed.filter((x) => x.action.kind === 'apply-flags' && x.action.purpose === 'rollback');
    expect(rb[1]!.at - rb[0]!.at).toBe(7 * M);
  });
});

describe('human decisions are acted on at once', () => {
  it.each([
    ['approve', { kind: 'approve' } as const, 'awaiting-approval'],
    ['resume', { kind: 'resume' } as const, 'paused'],
    ['promote', { kind: 'promote', full: false } as const, 'running'],
  ])('%s at the instant of the last judgment: due now, not an interval later', async (_, ctl, status) => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 10m }
phases: [{ name: a, flags: [f], steps: [10, { percent: 50, approval: true }] }]
`);
    // run to the moment the run is in `status` right after a tick
    const t = drive(p, {
      controls: status === 'paused' ? [{ at: 20 * M, ctl: { kind: 'pause', reason: 'x' } }] : [],
      until: (s) => s.status === status && (status !== 'running' || s.step === 0) && s.lastTickAt === s.updatedAt && s.updatedAt > T0,
    });
    const now = t.state.lastTickAt!;
    const d = control(p, t.state, ctl, now);
    expect(d.error).toBeUndefined();
    expect(nextWake(p, d.state, now)).toBe(now);
  });
});

describe('every decision emits an event', () => {
  it('the driver asserts it on each decision; a full scenario touches every kind', async () => {
    const p = await mkPlan(`defaults: { hold: 30m, interval: 1m }
${NOTIFY}checks:
  - { name: err, provider: sim, query: e, max: 5, for: 2m }
  - { name: lat, provider: sim, query: l, max: 300, tier: warning }
phases:
  - { name: a, flags: [f], steps: [10, 50] }
  - { name: b, flags: [g], approval: { timeout: 1h, onTimeout: pause }, steps: [100] }
rollback:
  commands: [[./r]]
  healthCheck: { command: [./h] }
`);
    const t = drive(p, {
      obs: observer(p, { lat: (e) => (e >= 40 * M && e < 45 * M ? 900 : 100), err: after(4 * H + 10 * M, 9, 1) }),
      controls: [
        { at: 50 * M, ctl: { kind: 'resume' } },
        { at: 4 * H, ctl: { kind: 'approve' } },
      ],
    });
    expect(t.state.status).toBe('rolled-back');
    const types = new Set(t.types());
    for (const e of ['run.started', 'check.changed', 'step.intent', 'step.applied', 'breach.detected', 'run.paused', 'run.resumed', 'approval.requested', 'approval.timeout', 'approval.granted', 'phase.started', 'rollback.started', 'rollback.flags-off', 'incident.recorded', 'command.finished', 'health.ok', 'run.rolled-back', 'notify.sent'])
      expect(types, e).toContain(e);
  });
});

describe('properties over random plans, metrics, failures and human actions', () => {
  const arbPhase = fc.record({
    steps: fc.uniqueArray(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 4 }).map((a) => a.sort((x, y) => x - y)),
    holdMin: fc.constantFrom(0, 10, 30, 60, 180),
    approval: fc.option(fc.record({ timeoutMin: fc.option(fc.constantFrom(30, 120, 600), { nil: undefined }), onTimeout: fc.constantFrom('pause', 'abort', 'rollback') }), { nil: undefined }),
    stepGate: fc.option(fc.nat(3), { nil: undefined }),
    flag: fc.constantFrom('f', 'g', 'h'),
    setOnly: fc.boolean(),
  });
  const arbCheck = fc.record({
    forMin: fc.constantFrom(0, 5, 30),
    tier: fc.constantFrom('warning', 'critical'),
    action: fc.option(fc.constantFrom('pause', 'rollback', 'notify'), { nil: undefined }),
    noData: fc.constantFrom('hold', 'pause', 'rollback', 'pass'),
    // segments of the series: [start minute, kind]
    series: fc.array(fc.tuple(fc.nat(1500), fc.constantFrom('ok', 'ok', 'ok', 'bad', 'null', 'error')), { maxLength: 4 }),
  });
  const arbControl = fc.record({
    atMin: fc.nat(1500),
    kind: fc.constantFrom('pause', 'resume', 'resume', 'approve', 'approve', 'reject', 'promote', 'promote-full', 'rollback', 'abort'),
  });
  const arb = fc.record({
    phases: fc.array(arbPhase, { minLength: 1, maxLength: 3 }),
    checks: fc.array(arbCheck, { maxLength: 2 }),
    controls: fc.array(arbControl, { maxLength: 3 }),
    autoApprove: fc.boolean(),
    gradual: fc.boolean(),
    windows: fc.boolean(),
    failEvery: fc.option(fc.integer({ min: 2, max: 7 }), { nil: undefined }),
    intervalMin: fc.constantFrom(1, 5),
  });

  const yamlOf = (x: typeof arb extends fc.Arbitrary<infer T> ? T : never) => {
    const phases = x.phases
      .map((ph, i) => {
        const steps = ph.steps.map((v, si) => (si === ph.stepGate ? `{ percent: ${v}, approval: true }` : `${v}`));
        if (ph.setOnly) steps.push(`{ set: { extra${i}: true } }`);
        const appr = ph.approval ? `, approval: { onTimeout: ${ph.approval.onTimeout}${ph.approval.timeoutMin ? `, timeout: ${ph.approval.timeoutMin}m` : ''} }` : '';
        return `  - { name: p${i}, flags: [${ph.flag}], hold: ${ph.holdMin}m${appr}, steps: [${steps.join(', ')}] }`;
      })
      .join('\n');
    const checks = x.checks.map((c, i) => `  - { name: c${i}, provider: sim, query: q${i}, max: 5, for: ${c.forMin}m, tier: ${c.tier}${c.action ? `, action: ${c.action}` : ''}, noData: ${c.noData}, noDataTimeout: 20m }`).join('\n');
    return `defaults: { interval: ${x.intervalMin}m, maxJump: 100 }
${checks ? `checks:\n${checks}\n` : ''}${x.windows ? 'windows: { blackout: [{ from: "22:00", to: "06:00" }] }\n' : ''}phases:
${phases}
rollback:
  mode: ${x.gradual ? 'gradual' : 'immediate'}
${x.gradual ? '  steps: [{ percent: 50, wait: 10m }, { percent: 10, wait: 5m }, { percent: 0 }]\n' : ''}  commands: [[./r]]
  healthCheck: { command: [./h] }
  escalate: { commands: [[./e]] }
notify:
  targets: { log: { type: log } }
`;
  };

  it('the engine keeps its rules whatever happens', async () => {
    await fc.assert(
      fc.asyncProperty(arb, async (x) => {
        const p = await mkPlan(yamlOf(x));
        const script: Script = {};
        x.checks.forEach((c, i) => {
          const segs = [...c.series].sort((a, b) => a[0] - b[0]);
          script[`c${i}`] = (e) => {
            let kind = 'ok';
            for (const [m, k] of segs) if (e >= m * M) kind = k;
            return kind === 'ok' ? 1 : kind === 'bad' ? 9 : kind === 'null' ? null : { value: null, error: 'down' };
          };
        });
        const controls = x.controls.map((c) => ({
          at: c.atMin * M,
          ctl:
            c.kind === 'promote' || c.kind === 'promote-full'
              ? ({ kind: 'promote', full: c.kind === 'promote-full' } as const)
              : c.kind === 'resume' || c.kind === 'approve'
                ? ({ kind: c.kind } as const)
                : ({ kind: c.kind, reason: `random ${c.kind}` } as const),
        }));
        const order = p.phases.flatMap((ph, pi) => ph.steps.map((_, si) => `${pi}.${si}`));
        let lastPromote = -Infinity;
        let promoteFull = false;
        let rollbackStarted = false;
        const stepsDone: string[] = [];
        const t = drive(p, {
          obs: observer(p, script),
          controls,
          limitMs: 5 * D,
          autoApprove: x.autoApprove,
          outcome: (a) => (x.failEvery && a.id % x.failEvery === 0 ? { ok: false, detail: 'injected failure' } : undefined),
          onDecision: (kind, before, d, now) => {
            const types = d.events.map((e) => e.type);
            if (types.includes('run.promoted')) {
              lastPromote = now;
              promoteFull ||= /full/.test(d.events.find((e) => e.type === 'run.promoted')!.msg);
            }
            if (types.includes('rollback.started')) rollbackStarted = true;
            for (const e of d.events) {
              if (e.type === 'step.intent') {
                expect(rollbackStarted, 'no step after a rollback started').toBe(false);
                expect(kind).toBe('tick');
                expect(before!.status).toBe('running');
                const key = `${e.data!.phase}.${e.data!.step}`;
                // steps in plan order, none skipped (a failed step is retried)
                expect(key).toBe(order[stepsDone.length]);
                // every active check passes (or has no data with noData: pass)
                const pi = e.data!.phase as number;
                for (const c of [...p.phases[before!.phase]!.checks, ...p.phases[pi]!.checks]) {
                  const r = d.state.checks[c.name]!;
                  expect(r.verdict === 'pass' || (r.verdict === 'no-data' && c.noData === 'pass'), `${c.name} ${r.verdict} at ${key}`).toBe(true);
                }
                // the hold of the previous step is over, unless promoted
                if (before!.holdUntil !== undefined && !promoteFull) expect(now >= before!.holdUntil || lastPromote >= before!.stepAppliedAt!).toBe(true);
                // gates approved
                const gate = p.phases[pi]!.steps[e.data!.step as number]!.approval ? `p${pi}s${e.data!.step}` : e.data!.step === 0 && p.phases[pi]!.approval ? `p${pi}` : undefined;
                if (gate) expect(d.state.approved).toContain(gate);
                // windows
                if (p.windows) {
                  const h = new Date(now).getUTCHours();
                  expect(h >= 6 && h < 22, `step at ${new Date(now).toISOString()} in the blackout`).toBe(true);
                }
              }
              if (e.type === 'step.applied') stepsDone.push(`${e.data!.phase}.${e.data!.step}`);
            }
          },
        });
        expect(['final', 'waiting-for-human', 'limit']).toContain(t.stop);
        if (t.state.status === 'completed') expect(stepsDone).toEqual(order);
        if (t.state.status === 'rolled-back') {
          const failed = t.performed.some((q) => q.action.kind === 'apply-flags' && q.action.purpose === 'rollback' && !q.outcome.ok);
          if (!failed) for (const f of p.rollback.flags) if (t.state.flags[f]) expect(t.state.flags[f], f).toEqual({ enabled: false, percentage: 0 });
          if (t.state.rollback!.failures.length) {
            expect(t.state.reason).toMatch(/rollback INCOMPLETE/);
            expect(t.types()).toContain('rollback.escalated');
          } else expect(t.state.reason).not.toMatch(/INCOMPLETE/);
        }
        if (t.state.status === 'aborted') expect(t.of('rollback.started').length).toBe(0);
        // percentages a step wrote never exceed the plan's
        for (const w of writes(t, 'step').flat()) {
          const pct = w.endsWith('off') ? 0 : Number(w.split('=')[1]);
          expect(pct).toBeLessThanOrEqual(100);
        }
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 150), seed: Number(process.env.PROP_SEED ?? 20251125) },
    );
  }, 120_000);
});

describe('persistence', () => {
  it('a run reloaded from JSON between every decision decides exactly the same', async () => {
    const p = await mkPlan(`defaults: { hold: 30m, interval: 1m }
${NOTIFY}checks:
  - { name: err, provider: sim, query: e, max: 5, for: 3m }
  - { name: up, provider: sim, query: u, min: 0.9, tier: warning, action: notify }
phases:
  - { name: a, flags: [f], steps: [10, 50] }
  - { name: b, flags: [g], approval: { timeout: 1h, onTimeout: pause }, steps: [100] }
rollback:
  mode: gradual
  steps: [{ percent: 20, wait: 5m }, { percent: 0 }]
  commands: [[./r]]
`);
    const opts = {
      obs: observer(p, { up: (e: number) => (e >= 10 * M && e < 20 * M ? 0.5 : 1), err: after(3 * H + 10 * M, 9, 1) }),
      controls: [{ at: 3 * H, ctl: { kind: 'approve' as const } }],
    };
    const a = drive(p, opts);
    const b = drive(p, { ...opts, persist: true });
    expect(a.state.status).toBe('rolled-back');
    expect(b.events).toEqual(a.events);
    expect(JSON.parse(JSON.stringify(b.state))).toEqual(JSON.parse(JSON.stringify(a.state)));
  });
});
