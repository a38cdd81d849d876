/**
 * Checklist gates (issue 10, seed 004 "Pre-Rollout Checklist"): the run waits before a phase
 * or step until every item has been confirmed by a person, one by one — who and when recorded;
 * a mistaken tick can be undone; an approval gate at the same point still applies afterwards.
 */
import { describe, expect, it } from 'vitest';
import { control, createRun, tick } from '../../src/engine/engine.js';
import type { RunState } from '../../src/engine/types.js';
import { PlanError } from '../../src/errors.js';
import { drive, H, M, mkPlan, observer, stepTimes, T0 } from './helpers.js';

const plan = (extra = '') =>
  mkPlan(`defaults: { hold: 1h, interval: 1m, maxJump: 100 }
phases:
  - name: core
    flags: [f]
    checklist:
      - { id: staging-tests, text: All tests passing in staging }
      - { id: rollback-tested, text: Rollback script tested, by: [devops-lead, sre] }
      - On-call team briefed
${extra}    steps: [10, 100]
`);

/** The run at its first judgment: waiting at the checklist. */
async function atChecklist(extra = '') {
  const p = await plan(extra);
  const created = createRun(p, 'run-1', T0).state;
  const t = tick(p, created, observer(p)(T0, created), T0);
  return { p, s: t.state, events: t.events };
}

const confirm = (p: Awaited<ReturnType<typeof plan>>, s: RunState, items: string[], o: { by?: string; as?: string; undo?: boolean; all?: boolean; note?: string } = {}, at = T0 + M) => control(p, s, { kind: 'confirm', items, by: o.by ?? 'alice', ...o }, at);

describe('checklist gate', () => {
  it('stops the run before the first step, listing every item (a string item gets an id from its text)', async () => {
    const { s, events } = await atChecklist();
    expect(s.status).toBe('awaiting-approval');
    expect(s.waiting).toEqual({ kind: 'checklist', gate: 'checklist:p0' });
    expect(s.pending.filter((a) => a.kind === 'apply-flags')).toEqual([]);
    expect(s.approval!.checklist!.map((i) => i.id)).toEqual(['staging-tests', 'rollback-tested', 'on-call-team-briefed']);
    expect(s.waitingFor).toBe('pre-rollout checklist for phase core: 0 of 3 confirmed (open: staging-tests, rollback-tested, on-call-team-briefed; `rollout confirm`)');
    const req = events.find((e) => e.type === 'checklist.requested')!;
    expect(req.msg).toContain('☐ staging-tests: All tests passing in staging; ☐ rollback-tested: Rollback script tested (by devops-lead or sre)');
  });

  it('the approval.requested notice lists the open items and the command to confirm them', async () => {
    const p = await plan();
    const withTarget = { ...p, notify: { ...p.notify, targets: { team: { type: 'log', options: {} } } } };
    const created = { ...createRun(withTarget, 'run-1', T0).state, pending: [] }; // run.started sent
    const t = tick(withTarget, created, observer(withTarget)(T0, created), T0);
    const n = t.state.pending.find((a) => a.kind === 'notify' && a.event === 'approval.requested') as Extract<RunState['pending'][number], { kind: 'notify' }>;
    const { noticeVars } = await import('../../src/output/notice.js');
    const vars = noticeVars(withTarget, n.facts!);
    expect(vars.command).toBe(
      'confirm each item: rollout confirm run-1 <item> [--as <name>] — pre-rollout checklist for phase core: ☐ staging-tests: All tests passing in staging; ☐ rollback-tested: Rollback script tested (by devops-lead or sre); ☐ on-call-team-briefed: On-call team briefed',
    );
  });

  it('records who confirmed each item and when; one item does not open it; the last one does and the step follows', async () => {
    const { p, s } = await atChecklist();
    const a = confirm(p, s, ['staging-tests'], { note: 'CI run 1234' }, T0 + 5 * M);
    expect(a.error).toBeUndefined();
    expect(a.state.status).toBe('awaiting-approval');
    expect(a.state.approval!.checklist![0]!.confirmed).toEqual({ name: 'alice', at: T0 + 5 * M, note: 'CI run 1234' });
    expect(a.events.map((e) => e.type)).toEqual(['checklist.confirmed']);
    expect(a.state.waitingFor).toMatch(/1 of 3 confirmed \(open: rollback-tested, on-call-team-briefed/);
    const b = confirm(p, a.state, ['rollback-tested'], { as: 'sre' }, T0 + 6 * M);
    expect(b.state.approval!.checklist![1]!.confirmed).toEqual({ name: 'sre', by: 'alice', at: T0 + 6 * M });
    // Confirmed by its text, any case, works too.
    const c = confirm(p, b.state, ['on-call team briefed'], { by: 'bob' }, T0 + 7 * M);
    expect(c.state.status).toBe('running');
    expect(c.state.approval).toBeUndefined();
    expect(c.state.approved).toContain('checklist:p0');
    const done = c.events.find((e) => e.type === 'checklist.completed')!;
    expect(done.data).toEqual({ key: 'checklist:p0', title: 'pre-rollout checklist for phase core', items: [{ id: 'staging-tests', name: 'alice', at: T0 + 5 * M }, { id: 'rollback-tested', name: 'sre', at: T0 + 6 * M }, { id: 'on-call-team-briefed', name: 'bob', at: T0 + 7 * M }] });
    const t = drive(p, { state: c.state, start: T0 + 7 * M });
    expect(t.state.status).toBe('completed');
    expect(stepTimes(t)[0]).toBe(0); // the first step right after the last tick of the checklist
  });

  it('a run driven to the gate waits there without spinning until the last item, then goes on (virtual clock)', async () => {
    const p = await plan();
    const items = ['staging-tests', 'rollback-tested', 'on-call-team-briefed'];
    const t = drive(p, {
      controls: [
        { at: 2 * H, ctl: { kind: 'confirm', items: items.slice(0, 2), by: 'sre' } },
        { at: 26 * H, ctl: { kind: 'confirm', items: [items[2]!], by: 'carol' } },
      ],
    });
    expect(t.state.status).toBe('completed');
    expect(t.of('step.applied')[0]!.at).toBe(T0 + 26 * H);
    expect(t.of('checklist.confirmed').map((e) => e.data?.name)).toEqual(['sre', 'sre', 'carol']);
  });

  it('an unknown item is refused with a did-you-mean, and nothing is ticked', async () => {
    const { p, s } = await atChecklist();
    const r = confirm(p, s, ['staging-test']);
    expect(r.error).toBe('"staging-test" is not an item of the pre-rollout checklist for phase core — did you mean "staging-tests"?');
    expect(r.hint).toMatch(/Items: staging-tests, rollback-tested, on-call-team-briefed/);
    expect(r.state).toBe(s);
    // Several items: all or nothing.
    expect(confirm(p, s, ['staging-tests', 'nope']).error).toMatch(/"nope" is not an item/);
  });

  it('an item with `by:` is confirmed only by those names', async () => {
    const { p, s } = await atChecklist();
    const r = confirm(p, s, ['rollback-tested'], { by: 'mallory' });
    expect(r.error).toBe('item "rollback-tested" is confirmed by devops-lead or sre, not "mallory"');
    expect(r.hint).toContain('--as devops-lead');
    expect(confirm(p, s, ['rollback-tested'], { as: 'devops-lead' }).error).toBeUndefined();
  });

  it('a box ticked by mistake is unticked (--undo), recorded with who; confirming twice counts once', async () => {
    const { p, s } = await atChecklist();
    const a = confirm(p, s, ['staging-tests']);
    const twice = confirm(p, a.state, ['staging-tests'], { by: 'bob' });
    expect(twice.state.approval!.checklist![0]!.confirmed!.name).toBe('alice');
    expect(twice.events[0]!.data).toMatchObject({ duplicate: true });
    const u = confirm(p, twice.state, ['staging-tests'], { undo: true, by: 'bob' }, T0 + 9 * M);
    expect(u.state.approval!.checklist![0]!.confirmed).toBeUndefined();
    expect(u.events[0]).toMatchObject({ type: 'checklist.unconfirmed', data: { item: 'staging-tests', by: 'bob', was: 'alice' } });
    expect(u.state.waitingFor).toMatch(/0 of 3 confirmed/);
  });

  it('`approve` does not open a checklist, and after the checklist an approval gate at the same point still applies', async () => {
    const { p, s } = await atChecklist('    approval: { message: go for core }\n');
    const ap = control(p, s, { kind: 'approve', by: 'alice' }, T0 + M);
    expect(ap.error).toMatch(/waits at a checklist, not a go\/no-go: 3 item\(s\) still to confirm/);
    expect(ap.hint).toMatch(/rollout confirm run-1 <item>/);
    const all = control(p, s, { kind: 'confirm', items: [], all: true, by: 'sre' }, T0 + M);
    expect(all.state.status).toBe('running');
    const next = tick(p, all.state, observer(p)(T0 + M, all.state), T0 + M);
    expect(next.state.status).toBe('awaiting-approval');
    expect(next.state.waiting).toEqual({ kind: 'approval', gate: 'p0' });
    expect(next.events.map((e) => e.type)).toContain('approval.requested');
    const go = control(p, next.state, { kind: 'approve', by: 'alice' }, T0 + 2 * M);
    expect(go.state.status).toBe('running');
  });

  it('--all ticks only the items the name may confirm', async () => {
    const { p, s } = await atChecklist();
    const r = control(p, s, { kind: 'confirm', items: [], all: true, by: 'alice' }, T0 + M);
    expect(r.state.approval!.checklist!.filter((i) => i.confirmed).map((i) => i.id)).toEqual(['staging-tests', 'on-call-team-briefed']);
    expect(r.state.status).toBe('awaiting-approval');
  });

  it('a step checklist (seed 003 before each phase) waits before that step only; reject at a checklist is a no-go', async () => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 1m, maxJump: 100 }
phases:
  - name: a
    flags: [f]
    steps: [10, { percent: 50, checklist: [{ id: load-test, text: Load testing completed }] }, 100]
`);
    const t = drive(p, { controls: [{ at: 5 * H, ctl: { kind: 'confirm', items: ['load-test'], by: 'qa' } }] });
    expect(stepTimes(t)).toEqual([0, 5 * H, 6 * H]);
    expect(t.of('checklist.requested')[0]!.at).toBe(T0 + H);
    expect(t.of('checklist.requested')[0]!.msg).toMatch(/^checklist before step 50%/);
    const r = drive(p, { controls: [{ at: 2 * H, ctl: { kind: 'reject', by: 'qa', reason: 'load test failed' } }] });
    expect(r.state.status).toBe('aborted');
    expect(stepTimes(r)).toEqual([0]);
  });

  it('paused at a checklist (a breach): confirming ticks items, and the run goes on only after resume', async () => {
    const { p, s } = await atChecklist();
    const paused = control(p, s, { kind: 'pause', reason: 'hold on' }, T0 + M).state;
    const all = control(p, paused, { kind: 'confirm', items: [], all: true, by: 'sre' }, T0 + 2 * M);
    expect(all.state.status).toBe('paused');
    const more = confirm(p, all.state, ['on-call-team-briefed'], {}, T0 + 3 * M);
    expect(more.state.status).toBe('paused');
    expect(more.state.approved).toContain('checklist:p0');
    const resumed = control(p, more.state, { kind: 'resume', by: 'alice' }, T0 + 4 * M);
    expect(resumed.state.status).toBe('running');
  });

  it('confirm on a run that is not at a checklist is refused with where to look', async () => {
    const p = await mkPlan(`phases:\n  - { name: a, flags: [f], steps: [10, 100] }\n`);
    const s = createRun(p, 'run-1', T0).state;
    const r = control(p, s, { kind: 'confirm', items: ['x'], by: 'a' }, T0);
    expect(r.error).toMatch(/^run run-1 is not waiting at a checklist/);
    expect(r.hint).toMatch(/rollout confirm --list/);
  });

  it('validate: duplicate item ids, and a phase checklist next to its first step\'s', async () => {
    const dup = mkPlan(`phases:\n  - name: a\n    flags: [f]\n    checklist: [{ id: x, text: one }, { id: x, text: two }]\n    steps: [10]\n`);
    await expect(dup).rejects.toThrow(PlanError);
    await expect(dup).rejects.toThrow(/checklist item id "x" is used twice/);
    const both = mkPlan(`phases:\n  - name: a\n    flags: [f]\n    checklist: [one]\n    steps: [{ percent: 10, checklist: [two] }]\n`);
    await expect(both).rejects.toThrow(/has a checklist and so does its first step/);
  });
});
