/**
 * Escalation (notify.escalation) on the engine's virtual clock: a breach of a check with a
 * `severity:` pages the first level of its chain; nobody acknowledging within `ackWithin` pages
 * the next level; `ack` (or a human resuming / rolling back) stops it; the run ending closes it.
 * No test sleeps: the clock jumps to each wake.
 */
import { describe, expect, it } from 'vitest';
import { control, createRun, nextWake, tick } from '../../src/engine/engine.js';
import type { Action, RunState } from '../../src/engine/types.js';
import { noticeVarsOf } from '../../src/output/notice.js';
import type { Plan } from '../../src/plan/model.js';
import { runRecordProblems } from '../../src/state/validate.js';
import { reportModel } from '../../src/report/model.js';
import { drive, H, M, mkPlan, observer, T0, type Script } from './helpers.js';

const plan = (opts: { repeat?: boolean; action?: string; chain?: string; escalate?: string } = {}) =>
  mkPlan(`defaults: { hold: 1d, interval: 1m, maxJump: 100 }
checks:
  - { name: err, provider: sim, query: e, max: 5, action: ${opts.action ?? 'pause'}, severity: P0 }
  - { name: slow, provider: sim, query: s, max: 500, tier: warning, action: notify, severity: P2 }
phases:
  - { name: a, flags: [f], steps: [10, 50] }
rollback:
  commands: [[./rb.sh]]
  escalate: { notify: [log]${opts.escalate ?? ''} }
notify:
  targets: { oncall: { type: log }, cto: { type: log }, team: { type: log }, log: { type: log } }
  events: { run.paused: [log] }
  escalation:
    P0: { description: "system down", ackWithin: 15m, chain: ${opts.chain ?? '[oncall, cto]'}${opts.repeat === false ? ', repeat: false' : ''} }
    P2: { ackWithin: 4h, chain: [team], notice: warning }
`);

const bad = (from: number): Script[string] => (e) => (e >= from ? 9 : 1);
const pageNotices = (t: { performed: Array<{ action: Action; at: number }> }) =>
  t.performed
    .filter((p) => p.action.kind === 'notify' && p.action.event.startsWith('page.'))
    .map((p) => {
      const a = p.action as Extract<Action, { kind: 'notify' }>;
      return { event: a.event, targets: a.targets, at: p.at, severity: a.severity, action: a };
    });

describe('escalation on the virtual clock', () => {
  it('a P0 breach pages on-call; 15 minutes without an acknowledgement pages the CTO, saying whom it skipped and since when', async () => {
    const p = await plan();
    const t = drive(p, { obs: observer(p, { err: bad(2 * H) }), controls: [{ at: 3 * H, ctl: { kind: 'ack', by: 'alice' } }] });
    const opened = t.of('page.opened')[0]!;
    expect(opened.at - T0).toBe(2 * H);
    const pages = pageNotices(t);
    expect(pages[0]).toMatchObject({ event: 'page.opened', targets: ['oncall'], at: T0 + 2 * H, severity: 'critical' });
    expect(pages[1]).toMatchObject({ event: 'page.escalated', targets: ['cto'], at: T0 + 2 * H + 15 * M });
    const esc = t.of('page.escalated')[0]!;
    expect(esc.data).toMatchObject({ level: 1, targets: ['cto'], skipped: ['oncall'], since: T0 + 2 * H, repeat: false });
    expect(esc.msg).toMatch(/not acknowledged within 15m \(waiting since 2025-03-03T10:00:00.000Z\): ESCALATING to cto, past oncall/);
    const vars = noticeVarsOf(p, pages[1]!.action);
    expect(vars).toMatchObject({ severity: 'P0', paged: 'cto', skipped: 'oncall', waitingSince: '2025-03-03T10:00:00.000Z', command: 'rollout ack run-1' });
    // the chain has ended: cto is paged again every 15 minutes until someone acknowledges (3 h after start)
    const repeats = t.of('page.escalated').slice(1);
    expect(repeats.map((e) => (e.at - T0 - 2 * H) / M)).toEqual([30, 45]); // the ack at 60 comes before that deadline's page
    expect(repeats.every((e) => (e.data as { repeat: boolean }).repeat)).toBe(true);
    const ack = t.of('page.acknowledged')[0]!;
    expect(ack.at - T0).toBe(3 * H);
    expect(t.state.pages![0]!.ack).toMatchObject({ name: 'alice', at: T0 + 3 * H, via: 'ack' });
    // everyone paged hears who took it
    expect(pageNotices(t).at(-1)).toMatchObject({ event: 'page.acknowledged', targets: ['oncall', 'cto'] });
  });

  it('an acknowledgement within 15 minutes stops it: the CTO is never paged', async () => {
    const p = await plan();
    const t = drive(p, { obs: observer(p, { err: bad(2 * H) }), controls: [{ at: 2 * H + 10 * M, ctl: { kind: 'ack', by: 'bob', as: 'oncall-bob', note: 'looking' } }, { at: 5 * H, ctl: { kind: 'abort', reason: 'done', by: 'x' } }] });
    expect(t.of('page.escalated')).toEqual([]);
    expect(pageNotices(t).map((n) => n.event)).toEqual(['page.opened', 'page.acknowledged']);
    expect(t.state.pages![0]!.ack).toEqual({ name: 'oncall-bob', by: 'bob', at: T0 + 2 * H + 10 * M, note: 'looking', via: 'ack' });
    expect(t.of('page.acknowledged')[0]!.msg).toMatch(/acknowledged by oncall-bob \(typed by bob\) after 10m: looking; escalation stopped/);
  });

  it('repeat: false stops after the last level; the page stays open and nothing more is due', async () => {
    const p = await plan({ repeat: false });
    const t = drive(p, { obs: observer(p, { err: bad(H) }), controls: [{ at: 10 * H, ctl: { kind: 'ack', by: 'late' } }] });
    expect(t.of('page.escalated')).toHaveLength(1);
    expect(t.of('page.unanswered')[0]!.at - T0).toBe(H + 30 * M);
    expect(t.of('page.acknowledged')[0]!.at - T0).toBe(10 * H);
  });

  it('a chain level may page several targets together ("On-call engineer + CTO")', async () => {
    const p = await plan({ chain: '[[oncall, cto]]' });
    const t = drive(p, { obs: observer(p, { err: bad(H) }), controls: [{ at: H + 5 * M, ctl: { kind: 'ack', by: 'a' } }] });
    expect(pageNotices(t)[0]).toMatchObject({ event: 'page.opened', targets: ['oncall', 'cto'] });
  });

  it('resume by a person acknowledges (a response); a paused run keeps escalating without one', async () => {
    const p = await plan();
    const t = drive(p, { obs: observer(p, { err: (e) => (e >= H && e < 2 * H ? 9 : 1) }), controls: [{ at: 2 * H + 20 * M, ctl: { kind: 'resume', by: 'carol' } }], until: (s) => s.status === 'completed' });
    expect(t.of('page.escalated').map((e) => (e.at - T0 - H) / M)).toEqual([15, 30, 45, 60, 75]);
    expect(t.state.pages![0]!.ack).toMatchObject({ name: 'carol', via: 'resume' });
    expect(t.state.status).toBe('completed');
  });

  it('a warning with action notify pages its own severity (P2: 4 hours to acknowledge) while the run holds', async () => {
    const p = await plan();
    const t = drive(p, { obs: observer(p, { slow: (e) => (e >= H ? 900 : 100) }), limitMs: 6 * H, controls: [{ at: 5 * H + 30 * M, ctl: { kind: 'ack', by: 'dev' } }] });
    expect(pageNotices(t).slice(0, 2).map((n) => [n.event, n.targets, (n.at - T0) / H, n.severity])).toEqual([
      ['page.opened', ['team'], 1, 'warning'],
      ['page.escalated', ['team'], 5, 'warning'],
    ]);
  });

  it('the run ending closes its open pages (page.closed to everyone paged)', async () => {
    const p = await plan({ action: 'rollback' });
    const t = drive(p, { obs: observer(p, { err: bad(H) }) });
    expect(t.state.status).toBe('rolled-back');
    expect(t.state.pages![0]!.closed).toMatchObject({ why: 'the run rolled back' });
    expect(nextWake(p, t.state, t.now)).toBeUndefined();
  });

  it('a failed rollback opens a P0 page (escalate.severity) that keeps escalating while the rollback is incomplete', async () => {
    const p = await plan({ action: 'rollback', escalate: ', severity: P0' });
    const t = drive(p, { obs: observer(p, { err: bad(H) }), outcome: (a) => (a.kind === 'run-command' ? { ok: false, detail: 'exit 1' } : undefined) });
    expect(t.state.status).toBe('rollback-incomplete');
    const s0 = t.state;
    const page = s0.pages!.find((x) => !x.check)!;
    expect(page).toMatchObject({ severity: 'P0', level: 0 });
    // nothing is due before the deadline; at it, the incomplete run's page moves on
    expect(nextWake(p, s0, page.openedAt + 14 * M)).toBeUndefined();
    expect(nextWake(p, s0, page.deadline!)).toBe(page.deadline);
    const d = tick(p, s0, { checks: {} }, page.deadline!);
    expect(d.events.map((e) => e.type)).toContain('page.escalated');
    expect(d.state.pages!.find((x) => x.id === page.id)!.paged.at(-1)!.targets).toEqual(['cto']);
    expect(d.state.status).toBe('rollback-incomplete');
    // someone takes it; a worker's retry (escalate: true) that fails again does not page anew
    const acked = control(p, d.state, { kind: 'ack', by: 'ops' }, page.deadline! + M).state;
    const failing = (a: Action) => (a.kind === 'run-command' ? { ok: false, detail: 'exit 1' } : undefined);
    const retried = drive(p, { state: acked, start: page.deadline! + 2 * M, outcome: failing, controls: [{ at: 0, ctl: { kind: 'retry-rollback', by: 'worker w1', escalate: true } }] });
    expect(retried.of('rollback.escalated')).toHaveLength(1);
    expect(retried.state.status).toBe('rollback-incomplete');
    expect(retried.state.pages!.filter((x) => !x.check)).toHaveLength(1);
    expect(retried.of('page.opened')).toEqual([]);
  });

  it('ack with no open page is refused with a clear message', async () => {
    const p = await plan();
    const s = createRun(p, 'r1', T0).state;
    const r = control(p, s, { kind: 'ack', by: 'a' }, T0);
    expect(r.error).toMatch(/run r1 has no open page: nobody is being paged/);
    expect(r.hint).toMatch(/severity/);
  });

  it('ack --page picks one page; an unknown number is refused', async () => {
    const p = await plan();
    const t = drive(p, { obs: observer(p, { err: bad(H), slow: (e) => (e >= H ? 900 : 100) }), until: (s: RunState) => (s.pages?.length ?? 0) >= 2 });
    const open = t.state.pages!.map((x) => x.id);
    expect(open).toHaveLength(2);
    expect(control(p, t.state, { kind: 'ack', by: 'a', page: 9 }, t.now).error).toMatch(/no open page #9/);
    const d = control(p, t.state, { kind: 'ack', by: 'a', page: open[1] }, t.now);
    expect(d.state.pages!.filter((x) => x.ack).map((x) => x.id)).toEqual([open[1]]);
  });
});

describe('pages in the stored record and the report', () => {
  it('a run record with pages is accepted; a malformed page is named by its path', async () => {
    const p = await plan();
    const t = drive(p, { obs: observer(p, { err: bad(H) }), until: (s) => (s.pages?.length ?? 0) > 0 });
    const rec = JSON.parse(JSON.stringify(t.state)) as RunState;
    expect(runRecordProblems(rec, rec.id)).toEqual([]);
    expect(runRecordProblems({ ...rec, pages: [{ ...rec.pages![0], paged: 'oncall' }] }, rec.id)).toEqual(['pages.0.paged: expected a list of {level, targets, at}, found string "oncall"']);
  });

  it('the report carries the pages (who was paged when, who acknowledged) ', async () => {
    const p = await plan();
    const t = drive(p, { obs: observer(p, { err: bad(H) }), controls: [{ at: H + 20 * M, ctl: { kind: 'ack', by: 'dana', note: 'on it' } }, { at: 2 * H, ctl: { kind: 'abort', reason: 'x', by: 'dana' } }] });
    const m = reportModel({ state: t.state, events: t.events, plan: p, now: t.now });
    expect(m.run.pages).toEqual([
      expect.objectContaining({ id: 1, severity: 'P0', open: false, paged: [expect.objectContaining({ targets: ['oncall'] }), expect.objectContaining({ targets: ['cto'] })], acknowledged: expect.objectContaining({ by: 'dana', note: 'on it', via: 'ack' }) }),
    ]);
  });
});

export type { Plan };
