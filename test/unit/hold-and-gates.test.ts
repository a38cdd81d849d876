/**
 * Issue 9, items 4 and 5: a hold is time at a percentage with the checks running and passing —
 * paused time nobody observed does not count; and a go/no-go given before a partial rollback
 * does not carry the run past that gate again.
 */
import { describe, expect, it } from 'vitest';
import { control, tick } from '../../src/engine/engine.js';
import { drive, H, M, mkPlan, observer, stepTimes, T0 } from './helpers.js';

const holdPlan = (checks = '  - { name: err, provider: sim, query: e, max: 5 }') =>
  mkPlan(`defaults: { hold: 1h, interval: 1m, maxJump: 100 }
checks:
${checks}
phases:
  - { name: a, flags: [f], steps: [10, 50, 100] }
`);

describe('a hold counts only observed, healthy time (item 4)', () => {
  it('paused mid-hold with nobody driving and resumed after the hold would have ended: the rest of the hold still runs', async () => {
    const p = await holdPlan();
    const at30 = drive(p, { limitMs: 30 * M });
    expect(at30.state.step).toBe(0);
    const holdEnd = at30.state.holdUntil!;
    const left = holdEnd - (T0 + 30 * M);
    expect(left).toBeGreaterThan(0);
    const paused = control(p, at30.state, { kind: 'pause', reason: 'looking at a graph' }, T0 + 30 * M).state;
    // Two and a half hours pass: no process, no tick, no check measured. Then a human resumes.
    const resumedAt = T0 + 3 * H;
    const resumed = control(p, paused, { kind: 'resume', by: 'alice' }, resumedAt);
    expect(resumed.events.find((e) => e.type === 'run.resumed')!.msg).toMatch(/of the hold left/);
    const r = tick(p, resumed.state, observer(p)(resumedAt, resumed.state), resumedAt);
    // Not straight to 50%: the hold resumes where it stopped.
    expect(r.state.pending.filter((a) => a.kind === 'apply-flags')).toEqual([]);
    expect(r.state.holdUntil).toBe(resumedAt + left);
    expect(r.state.waitingFor).toMatch(/^hold until /);
    // Driven on from there, 50% comes when the rest of the hold has passed.
    const rest = drive(p, { state: r.state, start: resumedAt, limitMs: 3 * H });
    expect(rest.of('step.applied')[0]!.at).toBe(resumedAt + left);
  });

  it('paused while a driver keeps judging the checks and they pass: that time counts (50% at once on resume)', async () => {
    const p = await holdPlan();
    const t = drive(p, { controls: [{ at: 30 * M, ctl: { kind: 'pause', reason: 'x' } }, { at: 3 * H, ctl: { kind: 'resume' } }] });
    expect(stepTimes(t)).toEqual([0, 3 * H, 4 * H]);
    expect(t.state.status).toBe('completed');
  });

  it('paused by a failing check: only the time after the checks pass again counts', async () => {
    const p = await holdPlan('  - { name: lat, provider: sim, query: l, max: 5, tier: warning }');
    // lat fails from 20m to 2h (the breach pauses the run at 20m with 40m of hold left), then passes.
    const obs = observer(p, { lat: (el) => (el >= 20 * M && el < 2 * H ? 9 : 1) });
    const t = drive(p, { obs, controls: [{ at: 2 * H + 20 * M, ctl: { kind: 'resume' } }] });
    expect(t.of('run.paused')[0]!.at).toBe(T0 + 20 * M);
    // Passing while paused from 2h to the last judgment before the resume at 2h20 counts (19-20m
    // of the 40m left); the rest runs after the resume. Without the pause rule: 50% at 2h20.
    const [, at50] = stepTimes(t);
    expect(at50).toBeGreaterThanOrEqual(2 * H + 40 * M);
    expect(at50).toBeLessThanOrEqual(2 * H + 41 * M);
  });

  it('a gap longer than two intervals between judgments is not counted', async () => {
    const p = await holdPlan();
    const at30 = drive(p, { limitMs: 30 * M });
    let s = control(p, at30.state, { kind: 'pause', reason: 'x' }, T0 + 30 * M).state;
    s = tick(p, s, observer(p)(T0 + 31 * M, s), T0 + 31 * M).state; // a driver judges once…
    s = tick(p, s, observer(p)(T0 + 5 * H, s), T0 + 5 * H).state; // …and again hours later (CI advance)
    expect(s.holdLeftMs).toBe(at30.state.holdUntil! - (T0 + 30 * M) - 2 * M);
  });
});

describe('a go given before a partial rollback does not carry over (item 5)', () => {
  it('after rollback --to below a gate that was approved, climbing back asks again', async () => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 1m, maxJump: 100 }
checks:
  - { name: err, provider: sim, query: e, max: 5 }
phases:
  - { name: a, flags: [f], steps: [10, 25, { percent: 50, approval: { message: "go to 50%?" } }, 100] }
`);
    const t = drive(p, {
      controls: [
        { at: (s, now) => s.status === 'awaiting-approval' && now < T0 + 3 * H, ctl: { kind: 'approve', by: 'alice' } },
        { at: 2 * H + 30 * M, ctl: { kind: 'rollback', reason: 'errors at 50%', to: 10 } },
        { at: 4 * H, ctl: { kind: 'resume' } },
      ],
      limitMs: 8 * H,
    });
    expect(t.of('rollback.partial')[0]!.msg).toMatch(/1 go\/no-go approval\(s\) given before it will be asked again/);
    expect(t.of('approval.requested').map((e) => e.at - T0)).toEqual([2 * H, 5 * H]);
    expect(t.state.status).toBe('awaiting-approval');
    expect(t.state.flags.f!.percentage).toBe(25);
    expect(t.state.approved).toEqual([]);
  });

  it('a gate below the rollback target stays approved; a phase gate is asked again only when the phase starts over', async () => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 1m, maxJump: 100 }
checks:
  - { name: err, provider: sim, query: e, max: 5 }
phases:
  - { name: a, flags: [f], approval: true, steps: [10, { percent: 25, approval: true }, 50] }
`);
    const t = drive(p, { autoApprove: true, limitMs: 2 * H + 30 * M });
    expect(t.state.flags.f!.percentage).toBe(50);
    expect([...t.state.approved].sort()).toEqual(['p0', 'p0s1']);
    const keep = control(p, t.state, { kind: 'rollback', reason: 'r', to: 25 }, t.now).state;
    expect([...keep.approved].sort()).toEqual(['p0', 'p0s1']);
    const below = control(p, t.state, { kind: 'rollback', reason: 'r', to: 10 }, t.now).state;
    expect(below.approved).toEqual(['p0']);
    const over = control(p, t.state, { kind: 'rollback', reason: 'r', to: 5 }, t.now).state;
    expect(over.approved).toEqual([]);
  });
});
