/**
 * A scheduled start (seed 000's "Week -1: Announce rollout plan", seed 004's "Pre-Rollout
 * Announcement … We will begin rolling out state persistence on [Date] at [Time]"). A run
 * created with a start time in the future waits as `scheduled`: it holds its flag locks (the
 * runner takes them when it creates the run) and writes nothing until then. The announcement
 * (`run.announced`) goes out `notify.announce.before` ahead of the start — at once, saying so,
 * when the start is closer than that. Aborting a scheduled run cancels it, and tells the people
 * it was announced to (`run.cancelled`).
 */
import { formatDuration } from '../util/duration.js';
import type { Plan } from '../plan/model.js';
import { checklistFor, checklistKey, checklistWaiting, isChecklist, requestChecklist } from './checklist.js';
import { iso, type Draft } from './draft.js';
import { notify } from './notice.js';
import type { RunState, Schedule } from './types.js';

/** Where the announcement goes: announce.targets, else the run.announced event's, else run.started's, else every target. */
export function announceTargets(plan: Plan): string[] {
  const ev = plan.notify.events;
  return plan.notify.announce?.targets ?? ev?.['run.announced'] ?? ev?.['run.started'] ?? Object.keys(plan.notify.targets);
}

/** Make the new run a scheduled one: it starts at `at` (in the future). */
export function scheduleRun(d: Draft, at: number, source: Schedule['source'], startedBy?: string, endsAt?: number) {
  const s = d.s;
  const a = d.plan.notify.announce;
  s.status = 'scheduled';
  s.startedAt = at;
  s.schedule = { at, scheduledAt: d.now, source, ...(a ? { announceAt: Math.max(d.now, at - a.beforeMs) } : {}), ...(endsAt !== undefined && endsAt >= at ? { endsAt } : {}) };
  s.waiting = { kind: 'start', until: at };
  s.waitingFor = `the scheduled start at ${iso(at)}`;
  const ann = s.schedule.announceAt;
  d.emit(
    'run.scheduled',
    `run ${s.id} of plan ${d.plan.name} scheduled${startedBy ? ` by ${startedBy}` : ''} to start at ${iso(at)} (in ${formatDuration(at - d.now)}${source === 'command' ? ', --at' : ', the plan\'s startAt'})${ann !== undefined ? `; announcement ${ann <= d.now ? 'now' : `at ${iso(ann)}`}` : ''}; nothing is written to ${d.plan.flags.join(', ')} until then`,
    { startsAt: at, source, ...(ann !== undefined ? { announceAt: ann } : {}), ...(startedBy ? { startedBy } : {}) },
  );
  announceIfDue(d);
  openFirstChecklist(d, at);
}

/**
 * A checklist before the first step (seed 004's Pre-Rollout Checklist) opens when the run is
 * scheduled, so people confirm its items during the wait (`rollout confirm`) rather than at the
 * start time. Incomplete at the start, the run waits at it there.
 */
function openFirstChecklist(d: Draft, at: number) {
  const list = checklistFor(d.plan, 0, 0);
  const key = checklistKey(d.plan, 0, 0);
  if (!list || !key) return;
  requestChecklist(d, 0, 0, key, list);
  // Still scheduled: what it waits for first is the start.
  d.s.status = 'scheduled';
  d.s.waiting = { kind: 'start', until: at };
  d.s.waitingFor = `the scheduled start at ${iso(at)}`;
}

/** Send the announcement when it is due (once). */
export function announceIfDue(d: Draft) {
  const s = d.s;
  const sch = s.schedule;
  const a = d.plan.notify.announce;
  if (!a || !sch || sch.announcedAt !== undefined || sch.announceAt === undefined || d.now < sch.announceAt) return;
  const lead = Math.max(0, sch.at - d.now);
  // Late only by more than a tick: `--at 7d` with `before: 7d` is resolved a moment before the
  // run exists, and a driver sees the due time at its next interval.
  const late = a.beforeMs - lead > Math.max(d.plan.intervalMs, 60_000);
  const targets = announceTargets(d.plan);
  s.schedule = { ...sch, announcedAt: d.now, announcedTo: targets, ...(late ? { announcedLate: true } : {}) };
  d.emit(
    'run.announced',
    late
      ? `announced at once: the run starts at ${iso(sch.at)}, ${lead ? `${formatDuration(lead)} from now` : 'now'} — less than the ${formatDuration(a.beforeMs)} ahead notify.announce.before asks`
      : `announced: the run starts at ${iso(sch.at)}, ${formatDuration(lead)} from now`,
    { startsAt: sch.at, leadMs: lead, late, targets },
  );
  notify(d, 'run.announced', 'info', {}, targets);
}

/**
 * A run started at once (no start time) on a plan with an announcement: it goes out now, with
 * the start, and says it is late (the plan asked for `before` ahead).
 */
export function announceNow(d: Draft) {
  const a = d.plan.notify.announce;
  if (!a) return;
  const targets = announceTargets(d.plan);
  d.emit('run.announced', `announced at once: the run starts now, not ${formatDuration(a.beforeMs)} ahead as notify.announce.before asks (schedule it with \`rollout start --at <time>\` or startAt:)`, { startsAt: d.now, leadMs: 0, late: true, targets });
  notify(d, 'run.announced', 'info', {}, targets);
}

/** The run.started event and notice (a new run, or a scheduled one at its time). */
export function emitStarted(d: Draft, startedBy?: string, note = '') {
  const { s, plan } = d;
  d.emit('run.started', `run ${s.id} of plan ${plan.name} started${startedBy ? ` by ${startedBy}` : ''}: ${plan.phases.length} phase(s), flags ${plan.flags.join(', ')}${note}`, {
    planHash: plan.hash,
    phases: plan.phases.map((p) => p.name),
    ...(startedBy ? { startedBy } : {}),
  });
  notify(d, 'run.started', 'info');
}

/** A tick of a scheduled run: announce when due; at the start time, the run starts (its checks are judged at once). */
export function startIfDue(d: Draft) {
  const s = d.s;
  const sch = s.schedule;
  announceIfDue(d);
  if (!sch || d.now < sch.at) return;
  s.status = 'running';
  s.startedAt = d.now;
  s.schedule = { ...s.schedule!, startedAt: d.now };
  s.waiting = undefined;
  s.waitingFor = undefined;
  s.lastTickAt = undefined; // due at once: the first judgment and step come now
  // The checklist opened at scheduling time and not yet complete: the run waits at it now.
  if (isChecklist(s.approval)) {
    s.status = 'awaiting-approval';
    s.waitingFor = checklistWaiting(d.plan, s.approval);
    s.waiting = { kind: 'checklist', gate: s.approval.key };
  }
  const late = d.now - sch.at;
  emitStarted(d, s.startedBy, late > d.plan.intervalMs ? ` — ${formatDuration(late)} after its scheduled time ${iso(sch.at)} (nothing drove the run then)` : ` as scheduled (${iso(sch.at)})`);
}

/** `abort` of a scheduled run: cancelled before it wrote anything; the people it was announced to are told. */
export function cancelScheduled(d: Draft, reason: string) {
  const s = d.s;
  const sch = s.schedule;
  s.status = 'aborted';
  s.reason = `${reason}; the scheduled start${sch ? ` (${iso(sch.at)})` : ''} is cancelled and no flag was written`;
  s.waiting = undefined;
  s.waitingFor = undefined;
  s.startedAt = sch?.scheduledAt ?? s.startedAt;
  s.finishedAt = d.now;
  s.approval = undefined; // a checklist opened for the start goes with it
  d.emit('run.aborted', `run aborted before its start: ${s.reason}`, { cancelled: true, ...(sch ? { startsAt: sch.at } : {}) });
  if (sch?.announcedAt !== undefined) notify(d, 'run.cancelled', 'warning', { reason }, sch.announcedTo);
}

/** Why a control other than abort does not apply to a scheduled run, and what to do instead. */
export function scheduledRefusal(s: RunState, what: string): { error: string; hint: string } {
  const at = s.schedule ? iso(s.schedule.at) : 'later';
  return {
    error: `run ${s.id} is scheduled to start at ${at}; ${what}`,
    hint: `Nothing has been written to its flags yet. To cancel it: \`rollout abort ${s.id} --reason …\`; to start it at another time: abort it, then \`rollout start <plan> --at <time>\` (or without --at to start now).`,
  };
}
