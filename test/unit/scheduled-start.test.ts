/**
 * A scheduled start (`startAt:` / `rollout start --at`) with an announcement ahead of it, on
 * the pure engine and a virtual clock: the run waits as `scheduled` and writes nothing, the
 * announcement goes out `notify.announce.before` ahead (at once, saying so, when the start is
 * closer), the run starts at its time, abort cancels it (telling whoever it was announced to),
 * and a run picked up after a crash starts late rather than never.
 */
import { describe, expect, it } from 'vitest';
import { complete, control, createRun, nextWake, tick } from '../../src/engine/engine.js';
import type { Action, RunState } from '../../src/engine/types.js';
import { noticeVarsOf } from '../../src/output/notice.js';
import { parseStartAt, startTime } from '../../src/plan/start-at.js';
import { renderer } from '../../src/runner/services.js';
import { chooseStart } from '../../src/runner/start-time.js';
import { parseDuration } from '../../src/util/duration.js';
import { D, H, M, drive, mkPlan, stepTimes, T0, writes } from './helpers.js';

const PLAN = `
defaults: { hold: 1h, interval: 1m }
checks:
  - { name: errors, provider: sim, query: errors, max: 5 }
phases:
  - { name: main, flags: [f], steps: [10, 100] }
notify:
  targets:
    team: { type: log }
    pager: { type: log }
  events: { run.started: [team], run.paused: [pager] }
  announce: { before: 7d }
  reports:
    - { name: daily, every: 1d }
`;

const notices = (t: { performed: Array<{ action: Action; at: number }> }) =>
  t.performed.filter((p) => p.action.kind === 'notify').map((p) => ({ event: (p.action as Extract<Action, { kind: 'notify' }>).event, at: p.at, targets: (p.action as Extract<Action, { kind: 'notify' }>).targets }));

describe('scheduled start', () => {
  it('`--at 7d` with `before: 7d` is not a late announcement: the start was computed a moment before the run was created', async () => {
    const plan = await mkPlan(PLAN);
    const t = drive(plan, { create: { startAt: T0 + 7 * D - 3, source: 'command' } }); // --at 7d, resolved 3 ms before createRun
    expect(t.of('run.announced')[0]!.data).toMatchObject({ late: false });
    expect(t.of('run.announced')[0]!.msg).not.toMatch(/less than/);
    // Really closer than asked (a day short): late, and said so.
    const short = drive(plan, { create: { startAt: T0 + 6 * D, source: 'command' } });
    expect(short.of('run.announced')[0]!.data).toMatchObject({ late: true });
  });

  it('waits as scheduled, writing nothing; announces 7 days ahead; starts at its time', async () => {
    const plan = await mkPlan(PLAN);
    const startAt = T0 + 10 * D;
    const t = drive(plan, { create: { startAt, source: 'command' } });
    expect(t.state.status).toBe('completed');
    expect(t.types().slice(0, 3)).toEqual(['run.scheduled', 'run.announced', 'notify.sent']);
    expect(t.of('run.scheduled')[0]!.at).toBe(T0);
    expect(t.of('run.announced')[0]!.at).toBe(startAt - 7 * D);
    expect(t.of('run.announced')[0]!.data).toMatchObject({ late: false, leadMs: 7 * D, targets: ['team'] });
    expect(t.of('run.started')[0]!.at).toBe(startAt);
    // Nothing before the start: the first flag write is at the start, the next after its hold.
    expect(stepTimes(t)).toEqual([10 * D, 10 * D + H]);
    expect(writes(t, 'step')).toEqual([['f=10'], ['f=100']]);
    // The daily report starts counting at the start, not during the week of waiting.
    const reports = notices(t).filter((n) => n.event === 'run.report');
    expect(reports.every((r) => r.at > startAt)).toBe(true);
    // The announcement goes where run.started goes (notify.events), not to every target.
    expect(notices(t).find((n) => n.event === 'run.announced')!.targets).toEqual(['team']);
    // While scheduled, the engine asks to be woken for the announcement and then the start only.
    const created = createRun(plan, 'r', T0, 'ann@host', { startAt }).state;
    expect(nextWake(plan, created, T0)).toBe(startAt - 7 * D);
    expect(created.startedAt).toBe(startAt);
    expect(created.waiting).toEqual({ kind: 'start', until: startAt });
  });

  it('announces at once, and says so, when the start is closer than `before`', async () => {
    const plan = await mkPlan(PLAN);
    const t = drive(plan, { create: { startAt: T0 + 2 * H } });
    const ann = t.of('run.announced')[0]!;
    expect(ann.at).toBe(T0);
    expect(ann.data).toMatchObject({ late: true, leadMs: 2 * H });
    expect(ann.msg).toMatch(/announced at once: the run starts at 2025-03-03T10:00:00.000Z, 2h from now — less than the 7d ahead notify.announce.before asks/);
    expect(t.state.schedule).toMatchObject({ announcedAt: T0, announcedLate: true, at: T0 + 2 * H, startedAt: T0 + 2 * H });
  });

  it('a run started at once still announces (late), before run.started; without announce: no announcement', async () => {
    const t = drive(await mkPlan(PLAN));
    expect(t.types().slice(0, 2)).toEqual(['run.announced', 'run.started']);
    expect(t.of('run.announced')[0]!.msg).toMatch(/the run starts now, not 7d ahead/);
    expect(t.state.schedule).toBeUndefined();
    const plain = drive(await mkPlan(PLAN.replace('  announce: { before: 7d }\n', '')), { create: { startAt: T0 + D } });
    expect(plain.types()).not.toContain('run.announced');
    expect(plain.of('run.started')[0]!.at).toBe(T0 + D);
  });

  it('abort cancels it: no flag written, and a cancellation to whoever got the announcement', async () => {
    const plan = await mkPlan(PLAN);
    const startAt = T0 + 10 * D;
    const t = drive(plan, { create: { startAt }, controls: [{ at: 5 * D, ctl: { kind: 'abort', reason: 'moved', by: 'ann' } }] });
    expect(t.state.status).toBe('aborted');
    expect(t.state.reason).toBe('moved by ann; the scheduled start (2025-03-13T08:00:00.000Z) is cancelled and no flag was written');
    expect(writes(t)).toEqual([]);
    expect(notices(t).map((n) => [n.event, n.targets])).toEqual([
      ['run.announced', ['team']],
      ['run.cancelled', ['team']],
    ]);
    // Before the announcement: nobody was told, so nobody is told of the cancellation.
    const early = drive(plan, { create: { startAt }, controls: [{ at: 1 * D, ctl: { kind: 'abort', reason: 'moved' } }] });
    expect(notices(early)).toEqual([]);
    expect(early.of('run.aborted')[0]!.data).toMatchObject({ cancelled: true });
  });

  it('refuses every other control before the start, pointing at abort', async () => {
    const plan = await mkPlan(PLAN);
    const s = createRun(plan, 'r', T0, undefined, { startAt: T0 + D }).state;
    for (const ctl of [
      { kind: 'pause', reason: 'x' },
      { kind: 'promote', full: false },
      { kind: 'rollback', reason: 'x' },
      { kind: 'resume' },
      { kind: 'approve' },
    ] as const) {
      const r = control(plan, s, ctl, T0 + H);
      expect(r.error, ctl.kind).toMatch(/^run r is scheduled to start at 2025-03-04T08:00:00.000Z; /);
      expect(r.hint, ctl.kind).toMatch(/rollout abort r/);
      expect(r.state).toBe(s);
    }
    expect(control(plan, s, { kind: 'rollback', reason: 'x' }, T0).error).toMatch(/nothing was written to its flags and there is nothing to roll back/);
  });

  it('a checklist before the first step is open during the wait: confirmed then, the run starts on time', async () => {
    const plan = await mkPlan(PLAN.replace("  - { name: main, flags: [f], steps: [10, 100] }", "  - { name: main, flags: [f], steps: [10, 100], checklist: [{ id: tests, text: All tests passing }, { id: oncall, text: On-call briefed }] }"));
    const startAt = T0 + 3 * D;
    const s = createRun(plan, 'r', T0, undefined, { startAt }).state;
    expect(s.status).toBe('scheduled');
    expect(s.waiting).toEqual({ kind: 'start', until: startAt });
    expect(s.approval?.checklist?.map((i) => i.id)).toEqual(['tests', 'oncall']);
    // Confirmed one by one while scheduled: it stays scheduled, the gate is open for the start.
    const one = control(plan, s, { kind: 'confirm', items: ['tests'], by: 'qa' }, T0 + D);
    expect(one.error).toBeUndefined();
    expect(one.state.status).toBe('scheduled');
    const two = control(plan, one.state, { kind: 'confirm', items: ['oncall'], by: 'sre' }, T0 + D);
    expect(two.state).toMatchObject({ status: 'scheduled', approved: ['checklist:p0'] });
    expect(two.state.approval).toBeUndefined();
    const t = drive(plan, { state: two.state, start: T0 + D, until: (x) => x.step >= 0 });
    expect(stepTimes(t)[0]).toBe(startAt - (T0 + D));
    // Not confirmed by the start: the run waits at the checklist then, and only then.
    const idle = drive(plan, { create: { startAt }, limitMs: 4 * D });
    expect(idle.of('checklist.requested')[0]!.at).toBe(T0);
    expect(idle.state).toMatchObject({ status: 'awaiting-approval', waiting: { kind: 'checklist', gate: 'checklist:p0' } });
    expect(writes(idle)).toEqual([]);
    // Abort takes the open checklist with it.
    expect(control(plan, s, { kind: 'abort', reason: 'x' }, T0).state.approval).toBeUndefined();
  });

  it('a run picked up after a crash past its start time starts at once, saying how late', async () => {
    const plan = await mkPlan(PLAN);
    const startAt = T0 + 2 * D;
    // Driven until the announcement, then nothing drives it for 3 days.
    const first = drive(plan, { create: { startAt }, persist: true, until: (s) => s.schedule?.announcedAt !== undefined && !s.pending.length });
    expect(first.state.status).toBe('scheduled');
    const saved = JSON.parse(JSON.stringify(first.state)) as RunState;
    const later = T0 + 5 * D;
    expect(nextWake(plan, saved, later)).toBe(later);
    const d = tick(plan, saved, { checks: {}, flags: {} }, later);
    expect(d.state.status).toBe('running');
    expect(d.events.map((e) => e.type)).toEqual(['run.started']);
    expect(d.events[0]!.msg).toMatch(/3d after its scheduled time 2025-03-05T08:00:00.000Z/);
    expect(d.state.schedule?.startedAt).toBe(later);
    // The first judgment comes at once, not an interval later.
    expect(nextWake(plan, d.state, later)).toBe(later);
  });

  it("the announcement's words: the plan's zone, the 004 template's [Date] at [Time]", async () => {
    const plan = await mkPlan(`${PLAN}  templates:
    run.announced: |
      Subject: Rollout Starting {{date}}
      We will begin rolling out {{flags}} on {{date}} at {{time}} ({{lead}} ahead).
      Plan: {{summary}}
windows: { timezone: Europe/Berlin }
`);
    const startAt = Date.parse('2025-03-10T08:00:00Z'); // Monday 09:00 in Berlin
    const d = createRun(plan, 'r', startAt - 8 * D, undefined, { startAt });
    const t = tick(plan, d.state, { checks: {}, flags: {} }, startAt - 7 * D);
    const a = t.state.pending.find((x) => x.kind === 'notify') as Extract<Action, { kind: 'notify' }>;
    expect(a.event).toBe('run.announced');
    const { title, text } = renderer(plan)(a.event, noticeVarsOf(plan, a));
    expect(text).toBe('Subject: Rollout Starting Mon 10 Mar 2025\nWe will begin rolling out f on Mon 10 Mar 2025 at 09:00 CET (7d ahead).\nPlan: main 10% → 100%\n');
    expect(title).toBe('Rollout starting Mon 10 Mar 2025: t');
    // The completion of the notice is an ordinary outcome.
    expect(complete(plan, t.state, a.id, { ok: true, detail: 'sent' }, startAt - 7 * D).state.pending).toEqual([]);
  });
});

describe('the end date', () => {
  it('"Target: 100% by [End Date]": the end estimated at scheduling time, as `rollout plan` would show it', async () => {
    const { estimateEnd } = await import('../../src/runner/start-time.js');
    const plan = await mkPlan(PLAN);
    const startAt = T0 + 10 * D;
    const endsAt = await estimateEnd(plan, T0, startAt);
    expect(endsAt).toBe(startAt + 2 * H); // 10% and its hour, 100% and its hour
    const s = createRun(plan, 'r', T0, undefined, { startAt, endsAt }).state;
    const d = tick(plan, s, { checks: {}, flags: {} }, startAt - 7 * D);
    const a = d.state.pending.find((x) => x.kind === 'notify') as Extract<Action, { kind: 'notify' }>;
    expect(noticeVarsOf(plan, a)).toMatchObject({ endDate: 'Thu 13 Mar 2025', date: 'Thu 13 Mar 2025', time: '08:00 UTC' });
    expect(await estimateEnd(plan, T0, undefined)).toBeUndefined();
  });
});

describe('start time forms', () => {
  const now = Date.parse('2025-03-05T10:30:00Z'); // a Wednesday
  const at = (text: string | { day?: string; at?: string }, zone?: string) => {
    const r = parseStartAt(text, zone);
    if ('error' in r) throw new Error(`${r.error} | ${r.hint}`);
    return new Date(startTime(r.spec, now, zone)).toISOString();
  };

  it('absolute with a zone, durations after now, the next weekday/time in the plan zone', () => {
    expect(at('2025-03-10T09:00:00+01:00')).toBe('2025-03-10T08:00:00.000Z');
    expect(at('2025-03-10T08:00Z')).toBe('2025-03-10T08:00:00.000Z');
    expect(at('3d')).toBe('2025-03-08T10:30:00.000Z');
    expect(at('+2h30m')).toBe('2025-03-05T13:00:00.000Z');
    expect(at('in 90m')).toBe('2025-03-05T12:00:00.000Z');
    expect(at('mon 09:00', 'Europe/Berlin')).toBe('2025-03-10T08:00:00.000Z');
    expect(at({ day: 'mon', at: '09:00' }, 'Europe/Berlin')).toBe('2025-03-10T08:00:00.000Z');
    expect(at('Wednesday 09:00')).toBe('2025-03-12T09:00:00.000Z'); // today's 09:00 has passed: next week
    expect(at('11:00')).toBe('2025-03-05T11:00:00.000Z'); // later today
    expect(at('fri')).toBe('2025-03-07T00:00:00.000Z');
  });

  it('refuses what it cannot read, saying what to write', () => {
    const err = (text: string, zone?: string) => parseStartAt(text, zone) as { error: string; hint: string };
    expect(err('2025-03-10T09:00', 'Europe/Berlin')).toEqual({
      error: '"2025-03-10T09:00" has no time zone, so it could mean different instants',
      hint: 'Add the zone: "2025-03-10T09:00Z" for UTC, or "2025-03-10T09:00:00+01:00" for Europe/Berlin (the plan\'s windows.timezone).',
    });
    expect(err('2025-03-10').error).toMatch(/a date without a time of day/);
    expect(err('next week').error).toBe('"next week" is not a start time');
    expect(err('3 fortnights').error).toBe('"3 fortnights" is not a duration');
    expect(err('2025-13-40T09:00Z').error).toMatch(/is not a valid time/);
    // parse-duration alone read these as 25 ms, 9 ms, 1h + 30 ms and 3 days: a start "now".
    expect(err('25:00').error).toBe('"25:00" is not a time of day');
    expect(err('9:0').error).toBe('"9:0" is not a time of day');
    expect(err('1h30').error).toBe('"1h30" is not a duration');
    expect(err('3d garbage').error).toBe('"3d garbage" is not a duration');
    expect(err('-5m').error).toBe('"-5m" is not a start time');
  });

  it('durations: every number carries its unit, nothing else in the text', () => {
    expect(parseDuration('1h30m')).toBe(90 * M);
    expect(parseDuration('1.5h')).toBe(90 * M);
    expect(parseDuration('2 days')).toBe(2 * D);
    expect(parseDuration('1h, 30m')).toBe(90 * M);
    for (const bad of ['25:00', '1h30', '3d garbage', '10 0', '1e3m', '-5m', '5', '']) expect(parseDuration(bad), bad).toBeNull();
  });

  it('chooseStart: --at wins over the plan, a past time is an error with a hint, now starts at once', async () => {
    const plan = await mkPlan(`startAt: "2025-03-10T09:00:00Z"\n${PLAN}`);
    expect(chooseStart(plan, undefined, now)).toMatchObject({ startAt: Date.parse('2025-03-10T09:00:00Z'), source: 'plan' });
    const flag = chooseStart(plan, '2h', now);
    expect(flag).toMatchObject({ startAt: now + 2 * H, source: 'command' });
    expect(flag.notes[0]).toMatch(/--at 2h overrides the plan's startAt \(2025-03-10T09:00:00Z\)/);
    expect(chooseStart(plan, 'now', now).startAt).toBeUndefined();
    expect(() => chooseStart(plan, '2025-03-01T09:00:00Z', now)).toThrow(/--at 2025-03-01T09:00:00Z is in the past \(2025-03-01T09:00:00.000Z; it is now 2025-03-05T10:30:00.000Z\)/);
    expect(() => chooseStart(plan, undefined, Date.parse('2025-03-11T00:00:00Z'))).toThrow(/the plan's startAt \(2025-03-10T09:00:00Z\) is in the past/);
    try {
      chooseStart(plan, 'tomorrow-ish', now);
      expect.unreachable();
    } catch (err) {
      expect((err as { exitCode: number }).exitCode).toBe(2);
      // The forms once, not twice ("Give …. --at takes …").
      expect((err as { hint: string }).hint).toMatch(/^Give an ISO 8601 time with its zone .*, or "now"\.$/);
      expect((err as { hint: string }).hint.match(/ISO 8601/g)).toHaveLength(1);
    }
    // A start outside the windows: said, since the first step will wait for them.
    const win = await mkPlan(`${PLAN}windows: { allow: [{ days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00" }] }\n`);
    expect(chooseStart(win, 'sat 10:00', now).notes[0]).toMatch(/outside the plan's rollout windows: its first step waits for the window \(2025-03-10T09:00:00.000Z\)/);
  });

  it('a plan with a bad startAt or an unknown announce target does not load', async () => {
    await expect(mkPlan(`startAt: "2025-03-10 09:00"\n${PLAN}`)).rejects.toThrow(/startAt: "2025-03-10 09:00" has no time zone/);
    await expect(mkPlan(`startAt: { day: mon, at: "9am" }\n${PLAN}`)).rejects.toThrow(/HH:MM/);
    await expect(mkPlan(PLAN.replace('announce: { before: 7d }', 'announce: { before: 7d, targets: [slack] }'))).rejects.toThrow(/unknown notify target "slack"/);
    await expect(mkPlan(PLAN.replace('announce: { before: 7d }', 'announce: { before: 7 }'))).rejects.toThrow(/a duration needs a unit/);
  });
});

describe('the scheduled run on screen', () => {
  it('the live view counts down to the start on a terminal; plain output has no countdown', async () => {
    const { PassThrough } = await import('node:stream');
    const { Reporter } = await import('../../src/output/reporter.js');
    const { renderRun } = await import('../../src/output/live.js');
    const plan = await mkPlan(PLAN);
    const startAt = T0 + 2 * H;
    const s = createRun(plan, 'r', T0, 'ann@host', { startAt }).state;
    const at = (now: number) => renderRun(plan, s, { now, width: 200, timeZone: 'UTC' });
    expect(at(T0)).toMatch(/Waiting for +the scheduled start in 2h \(10:00:00 UTC\): nothing is written to its flags until then; `rollout abort r` cancels it/);
    expect(at(T0 + 61_000)).toMatch(/the scheduled start in 1h58m/);
    expect(at(T0)).toMatch(/Starts +10:00:00 UTC \(in 2h, the plan's startAt\) · scheduled by ann@host at 08:00:00 UTC/);
    expect(at(T0)).toMatch(/Announce +sent 08:00:00 UTC to team \(2h before the start, later than notify.announce.before asks/);

    const shown = async (tty: boolean) => {
      const out = Object.assign(new PassThrough(), { isTTY: tty, columns: 120, rows: 40 });
      let text = '';
      out.on('data', (b: Buffer) => (text += b.toString()));
      const r = new Reporter({ json: false, plan, out, env: {}, tty, now: () => T0 });
      await r.init();
      r.status(s);
      r.stop();
      return text;
    };
    expect(await shown(true)).toMatch(/the scheduled start in 2h/);
    expect(await shown(false)).toBe('');
  });
});
