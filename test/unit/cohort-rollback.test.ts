/**
 * A partial rollback for some users (seed 002 "Partial Rollback (Specific User Segments)",
 * seed 000 "Rollback affected users"): the engine on the virtual clock. A cohort rolled back
 * (by hand or by a check) loses the run's flags while everybody else keeps their percentage;
 * every later step keeps it out; restoring brings it back; a full rollback still turns
 * everything off; the run does not complete while a cohort is out.
 */
import { describe, expect, it } from 'vitest';
import type { FlagChange } from '../../src/adapters/types.js';
import { control, tick } from '../../src/engine/engine.js';
import type { Action } from '../../src/engine/types.js';
import { drive, H, M, mkPlan, observer, T0 } from './helpers.js';

const PLAN = `
rings:
  internal: { segments: [staff] }
  beta: { segments: [beta-testers] }
  ga: {}
defaults: { hold: 1h, interval: 1m }
checks:
  - { name: errors, provider: sim, query: e, max: 1, tier: warning, action: pause }
phases:
  - name: canary
    flags: [f]
    segments: [beta-users]
    steps: [10, 25, 50, 100]
`;

const flagWrites = (t: ReturnType<typeof drive>) =>
  t.performed.filter((p) => p.action.kind === 'apply-flags').map((p) => ({ purpose: (p.action as Extract<Action, { kind: 'apply-flags' }>).purpose, changes: (p.action as Extract<Action, { kind: 'apply-flags' }>).changes }));
const short = (c: FlagChange) => `${c.flag}=${c.enabled ? `${c.percentage}%` : 'off'}${c.exclude ? ` -[${[...(c.exclude.segments ?? []).map((s) => `s:${s}`), ...(c.exclude.rings ?? []).map((r) => `r:${r}`)].join(',')}]` : ''}`;

describe('rollback of one cohort (rollout rollback --segment/--ring)', () => {
  it('"Targeted Flag Update: Disable new architecture for specific cohorts": the segment is off, the rest keep 25 %, later steps keep it out, --undo brings it back', async () => {
    const p = await mkPlan(PLAN);
    const t = drive(p, {
      controls: [
        { at: 90 * M, ctl: { kind: 'exclude', cohorts: [{ kind: 'segment', name: 'eu-users' }], reason: 'EU users see timeouts', by: 'alice' } },
        { at: 2 * H + 30 * M, ctl: { kind: 'exclude', cohorts: [{ kind: 'segment', name: 'eu-users' }], reason: 'fixed in 2.3.1', by: 'bob', undo: true } },
      ],
    });
    const w = flagWrites(t);
    expect(w.map((x) => `${x.purpose}: ${x.changes.map(short).join(' ')}`)).toEqual([
      'step: f=10%',
      'step: f=25%',
      'cohort: f=25% -[s:eu-users]', // at 1h30: only the cohort changes
      'step: f=50% -[s:eu-users]', // a later step keeps it out
      'cohort: f=50% -[]', // --undo lifts it
      'step: f=100% -[]',
    ]);
    // The rewrite restates the flag as it is: the phase's allowlisted segment stays.
    expect(w[2]!.changes[0]).toMatchObject({ flag: 'f', enabled: true, percentage: 25, segments: ['beta-users'], exclude: { segments: ['eu-users'], rings: [] } });
    const ev = t.of('rollback.cohort')[0]!;
    expect(ev.msg).toMatch(/PARTIAL ROLLBACK for segment eu-users \(by alice\): f off for them; everybody else keeps f 25% — EU users see timeouts/);
    expect(ev.data).toMatchObject({ cohorts: [{ kind: 'segment', name: 'eu-users', reason: 'EU users see timeouts', by: 'alice', at: T0 + 90 * M, trigger: 'manual' }] });
    expect(t.of('rollback.cohort-restored')[0]!.msg).toMatch(/segment eu-users restored by bob \(fixed in 2.3.1\)/);
    // An incident record names the cohort; no full-rollback machinery ran.
    const inc = t.performed.find((x) => x.action.kind === 'record-incident')!.action as Extract<Action, { kind: 'record-incident' }>;
    expect(inc.incident).toMatchObject({ trigger: 'manual', by: 'alice', cohorts: ['segment eu-users'], flags: ['f'], percentage: 25 });
    expect(t.types()).not.toContain('rollback.started');
    // The run kept going on its schedule (a step every hour) and completed once the cohort was back.
    expect(t.of('step.applied').map((e) => e.at - T0)).toEqual([0, H, 2 * H, 3 * H]);
    expect(t.state.status).toBe('completed');
    expect(t.state.excluded).toEqual([]);
  });

  it('a ring (the plan\'s rings:), several at once; refused: unknown ring, the everybody-else ring, a cohort already out, restoring one that is not', async () => {
    const p = await mkPlan(PLAN);
    const at = drive(p, { limitMs: 90 * M }).state;
    const d = control(p, at, { kind: 'exclude', cohorts: [{ kind: 'ring', name: 'beta' }, { kind: 'segment', name: 'android-7' }], reason: 'crash on Android 7' }, T0 + 90 * M);
    expect(d.error).toBeUndefined();
    const a = d.state.pending[0] as Extract<Action, { kind: 'apply-flags' }>;
    expect(a.purpose).toBe('cohort');
    expect(a.changes.map(short)).toEqual(['f=25% -[s:android-7,r:beta]']);
    expect(d.state.status).toBe('running');
    const refuse = (ctl: Parameters<typeof control>[2], s = at) => control(p, s, ctl, T0 + 91 * M);
    expect(refuse({ kind: 'exclude', cohorts: [{ kind: 'ring', name: 'gamma' }], reason: 'r' }).error).toMatch(/unknown ring "gamma"/);
    expect(refuse({ kind: 'exclude', cohorts: [{ kind: 'ring', name: 'gamma' }], reason: 'r' }).hint).toMatch(/internal, beta, ga/);
    expect(refuse({ kind: 'exclude', cohorts: [{ kind: 'ring', name: 'ga' }], reason: 'r' }).error).toMatch(/"ga" is everybody else/);
    expect(refuse({ kind: 'exclude', cohorts: [{ kind: 'ring', name: 'beta' }], reason: 'again' }, d.state).error).toMatch(/ring beta is already rolled back/);
    expect(refuse({ kind: 'exclude', cohorts: [{ kind: 'segment', name: 'x' }], reason: 'r', undo: true }).error).toMatch(/segment x is not rolled back/);
    // --pause also pauses the run.
    const paused = control(p, at, { kind: 'exclude', cohorts: [{ kind: 'segment', name: 'x' }], reason: 'r', pause: true }, T0 + 90 * M).state;
    expect(paused.status).toBe('paused');
    // Not on a finished run.
    const done = drive(p).state;
    expect(refuse({ kind: 'exclude', cohorts: [{ kind: 'segment', name: 'x' }], reason: 'r' }, done).error).toMatch(/is completed/);
  });

  it('two cohort controls in one batch: the older queued cohort write is amended, so it cannot bring back an exclusion the newer one lifted', async () => {
    const p = await mkPlan(PLAN);
    const at = drive(p, { limitMs: 90 * M }).state;
    const a = control(p, at, { kind: 'exclude', cohorts: [{ kind: 'segment', name: 'a' }], reason: 'r' }, T0 + 90 * M).state;
    const b = control(p, a, { kind: 'exclude', cohorts: [{ kind: 'segment', name: 'b' }], reason: 'r' }, T0 + 90 * M).state;
    const undo = control(p, b, { kind: 'exclude', cohorts: [{ kind: 'segment', name: 'a' }], reason: 'fixed', undo: true }, T0 + 90 * M).state;
    const writes = undo.pending.filter((x): x is Extract<Action, { kind: 'apply-flags' }> => x.kind === 'apply-flags' && x.purpose === 'cohort');
    expect(writes.length).toBeGreaterThan(1);
    // Whatever order they run in, every queued cohort write says what the run says now: b out, a back.
    for (const w of writes) expect(w.changes.map(short)).toEqual(['f=25% -[s:b]']);
    expect(undo.excluded?.map((c) => c.name)).toEqual(['b']);
  });

  it('a cohort the plan no longer names (edited plan, or taken over from an aborted run) can still be restored, so the run can complete', async () => {
    const p = await mkPlan(PLAN);
    const at = drive(p, { limitMs: 90 * M }).state;
    const gone = { ...at, excluded: [{ kind: 'ring' as const, name: 'old-ring', reason: 'r', at: T0, trigger: 'manual' as const }] };
    const d = control(p, gone, { kind: 'exclude', cohorts: [{ kind: 'ring', name: 'old-ring' }], reason: 'restored', undo: true }, T0 + 91 * M);
    expect(d.error).toBeUndefined();
    expect(d.state.excluded).toEqual([]);
  });

  it('gradual rollback stages above 0 % keep the rolled-back cohort out', async () => {
    const p = await mkPlan(`${PLAN}
rollback:
  mode: gradual
  steps:
    - { percent: 25, wait: 10m }
    - { percent: 0 }
`);
    const t = drive(p, {
      controls: [
        { at: 2 * H + 30 * M, ctl: { kind: 'exclude', cohorts: [{ kind: 'segment', name: 'eu' }], reason: 'r' } },
        { at: 2 * H + 40 * M, ctl: { kind: 'rollback', reason: 'everything is on fire' } },
      ],
    });
    const stages = flagWrites(t).filter((x) => x.purpose === 'rollback').map((x) => x.changes.map(short).join(' '));
    expect(stages[0]).toBe('f=25% -[s:eu]');
    expect(stages.at(-1)).toMatch(/^f=off/);
  });

  it('a full rollback still turns everything off; a step queued before the exclusion is amended to carry it', async () => {
    const p = await mkPlan(PLAN);
    const t = drive(p, {
      controls: [
        { at: 30 * M, ctl: { kind: 'exclude', cohorts: [{ kind: 'segment', name: 'eu' }], reason: 'r' } },
        { at: 2 * H + 10 * M, ctl: { kind: 'rollback', reason: 'everything is on fire' } },
      ],
    });
    expect(flagWrites(t).map((x) => `${x.purpose}: ${x.changes.map(short).join(' ')}`)).toEqual(['step: f=10%', 'cohort: f=10% -[s:eu]', 'step: f=25% -[s:eu]', 'step: f=50% -[s:eu]', 'rollback: f=off']);
    expect(t.state.status).toBe('rolled-back');
    // A step already queued when the cohort is rolled back carries the exclusion.
    const p2 = await mkPlan(PLAN);
    const at10 = drive(p2, { limitMs: 30 * M }).state;
    const queued = tick(p2, at10, observer(p2)(T0 + H, at10), T0 + H).state; // the 25 % step is queued
    expect(queued.pending.some((a) => a.kind === 'apply-flags' && a.purpose === 'step')).toBe(true);
    const d = control(p2, queued, { kind: 'exclude', cohorts: [{ kind: 'segment', name: 'eu' }], reason: 'r' }, T0 + H);
    const step = d.state.pending.find((a) => a.kind === 'apply-flags' && a.purpose === 'step') as Extract<Action, { kind: 'apply-flags' }>;
    expect(step.changes[0]!.exclude).toEqual({ segments: ['eu'], rings: [] });
  });

  it('the run does not complete while a cohort is out: it pauses at the end, and restoring it completes the run', async () => {
    const p = await mkPlan(PLAN);
    const t = drive(p, { controls: [{ at: 30 * M, ctl: { kind: 'exclude', cohorts: [{ kind: 'ring', name: 'internal' }], reason: 'r' } }] });
    expect(t.state.status).toBe('paused');
    expect(t.state.waiting).toEqual({ kind: 'cohort' });
    expect(t.state.waitingFor).toMatch(/ring internal to be restored \(`rollout rollback run-1 --ring internal --undo`/);
    const t2 = drive(p, { state: t.state, start: t.now, controls: [{ at: 0, ctl: { kind: 'exclude', cohorts: [{ kind: 'ring', name: 'internal' }], reason: 'fixed', undo: true } }] });
    expect(t2.of('run.resumed')[0]!.msg).toMatch(/no cohort is rolled back any more/);
    expect(t2.state.status).toBe('completed');
  });

  it('a check can do it (rollbackSegments): only that segment loses the flag, the run goes on; a failed write pauses the run and resume writes it again', async () => {
    const p = await mkPlan(`
defaults: { hold: 1h, interval: 1m }
checks:
  - { name: beta-errors, provider: sim, query: e, max: 1, for: 5m, action: rollback, rollbackSegments: [beta-users] }
phases:
  - { name: canary, flags: [f], steps: [10, 25, 50] }
`);
    const t = drive(p, { obs: observer(p, { 'beta-errors': (el) => (el >= 70 * M && el < 100 * M ? 5 : 0.1) }) });
    const ev = t.of('rollback.cohort')[0]!;
    expect(ev.at).toBe(T0 + 75 * M); // failing since 1h10, breached after for: 5m
    expect(ev.msg).toMatch(/PARTIAL ROLLBACK for segment beta-users \(check beta-errors\)/);
    expect(flagWrites(t).map((x) => `${x.purpose}: ${x.changes.map(short).join(' ')}`)).toEqual(['step: f=10%', 'step: f=25%', 'cohort: f=25% -[s:beta-users]', 'step: f=50% -[s:beta-users]']);
    expect(t.types()).not.toContain('rollback.started');
    // It ends paused: the cohort is still out (the plan's end state is everybody).
    expect(t.state.waiting?.kind).toBe('cohort');

    let failed = 0;
    const failing = drive(p, {
      obs: observer(p, { 'beta-errors': (el) => (el >= 70 * M && el < 100 * M ? 5 : 0.1) }),
      outcome: (a) => (a.kind === 'apply-flags' && a.purpose === 'cohort' && failed++ === 0 ? { ok: false, detail: 'HTTP 503' } : undefined),
      controls: [{ at: 3 * H, ctl: { kind: 'resume' } }],
    });
    expect(failing.of('rollback.cohort-failed')[0]!.msg).toMatch(/segment beta-users: the flag write FAILED: HTTP 503/);
    expect(failing.of('run.paused')[0]!.msg).toMatch(/FAILED \(HTTP 503\)/);
    // resume writes the exclusion again before going on
    expect(flagWrites(failing).map((x) => `${x.purpose}: ${x.changes.map(short).join(' ')}`)).toEqual(['step: f=10%', 'step: f=25%', 'cohort: f=25% -[s:beta-users]', 'cohort: f=25% -[s:beta-users]', 'step: f=50% -[s:beta-users]']);
  });
});
