/**
 * Scheduling: what the runner must read before a tick (checks to sample, flags to look at),
 * when the next tick is due, and the recurring reports that fall due on a tick.
 */
import type { Check, Plan } from '../plan/model.js';
import { formatDuration } from '../util/duration.js';
import type { Draft } from './draft.js';
import { notify } from './notice.js';
import { nextStep } from './steps.js';
import { STOPPED_STATUSES, type RunState } from './types.js';
import { nextOpen } from './windows.js';
import { nextPageAt } from './pages.js';
import { isScheduled, stepOpensAt } from './calendar.js';

/** Checks to sample now: the current phase's and, at a phase boundary, the next phase's. */
export function activeChecks(plan: Plan, s: RunState): Check[] {
  // A health-gated rollback stage (`stableFor`) watches the phase's checks while it waits.
  if (s.status === 'rolling-back' && s.rollback?.stable) return [...(plan.phases[s.phase]?.checks ?? [])];
  if (!['running', 'paused', 'awaiting-approval'].includes(s.status)) return [];
  // A check that guards only flags a scoped rollback took out of the run has nothing left to guard.
  const gone = (c: Check) => Boolean(s.dropped?.length && c.rollbackFlags?.every((f) => s.dropped!.includes(f)));
  const out = new Map<string, Check>();
  const cur = plan.phases[s.phase];
  if (cur) for (const c of cur.checks) out.set(c.name, c);
  const nxt = nextStep(plan, s);
  if (nxt && nxt.phase !== s.phase) for (const c of plan.phases[nxt.phase]!.checks) if (!out.has(c.name)) out.set(c.name, c);
  return [...out.values()].filter((c) => !gone(c));
}

/** Flags whose backend state the engine needs (the next phase's `requires:`). */
export function flagsToRead(plan: Plan, s: RunState): string[] {
  if (s.status !== 'running') return [];
  const nxt = nextStep(plan, s);
  return nxt && nxt.step === 0 ? plan.phases[nxt.phase]!.requires : [];
}

/** When the runner should call tick() next (epoch ms), or undefined when the run is over. */
export function nextWake(plan: Plan, s: RunState, now: number): number | undefined {
  if (s.pending.length) return now;
  // An open page that nobody acknowledged moves on at its deadline, whatever the run does. An
  // incomplete rollback otherwise waits for a retry (a human, `advance`, a worker): its page is
  // due only when its deadline has come (the driver that polls it — a worker, `advance` — moves it).
  const page = nextPageAt(s);
  if (STOPPED_STATUSES.includes(s.status)) return page !== undefined && page <= now ? now : undefined;
  const wake = runWake(plan, s, now);
  return page === undefined || wake === undefined ? wake : Math.min(wake, Math.max(now, page));
}

function runWake(plan: Plan, s: RunState, now: number): number | undefined {
  // Scheduled: the announcement, then the start; nothing is measured before.
  if (s.status === 'scheduled') {
    const sch = s.schedule;
    const at = [sch?.at ?? now];
    if (sch?.announceAt !== undefined && sch.announcedAt === undefined) at.push(sch.announceAt);
    return Math.max(now, Math.min(...at));
  }
  if (s.status === 'rolling-back') {
    const rb = s.rollback;
    if (rb?.stable) {
      if (s.lastTickAt === undefined) return now;
      // Judge every interval until the checks have held long enough, or the stage's maximum wait.
      const at = [rb.stable.until, (s.lastTickAt ?? now) + plan.intervalMs];
      if (rb.stable.since !== undefined) at.push(rb.stable.since + rb.stable.forMs);
      return Math.max(now, Math.min(...at));
    }
    return rb?.nextAt !== undefined ? Math.max(now, rb.nextAt) : now;
  }
  if (s.status === 'running' && (s.lastTickAt === undefined || (s.holdUntil !== undefined && s.holdUntil <= now && s.lastTickAt < s.holdUntil))) return now;
  // Checks are re-judged every interval, counted from the last judgment (not from whenever we ask).
  const candidates = [Math.max(now, (s.lastTickAt ?? now) + plan.intervalMs)];
  if (s.holdUntil !== undefined && s.holdUntil > now) candidates.push(s.holdUntil);
  // A decision window matters only while the run awaits the decision (a paused run keeps its gate).
  if (s.status === 'awaiting-approval' && s.approval?.deadline !== undefined) candidates.push(Math.max(now, s.approval.deadline));
  if (s.status === 'running' && plan.windows && (s.holdUntil ?? 0) <= now) {
    const open = nextOpen(plan.windows, now);
    if (open !== undefined && open > now) candidates.push(open);
  }
  // A step on a weekday schedule is due when its day (and time) comes.
  const nxt = s.status === 'running' && (s.holdUntil ?? 0) <= now ? nextStep(plan, s) : null;
  const st = nxt ? plan.phases[nxt.phase]!.steps[nxt.step] : undefined;
  if (st && isScheduled(st)) {
    const open = stepOpensAt(plan, st, now);
    if (open !== undefined && open > now) candidates.push(open);
  }
  // A report whose clock has not started (the run just entered its phase) is due at once, so
  // its clock starts now and not at the next judgment (which a simulation may skip ahead to).
  (plan.notify.reports ?? []).forEach((r, i) => {
    if (!reportActive(plan, s, i)) return;
    const at = s.reportsAt?.[i];
    candidates.push(at === undefined ? now : Math.max(now, at + r.everyMs));
  });
  return Math.min(...candidates);
}

export const reportActive = (plan: Plan, s: RunState, i: number) => {
  const phases = plan.notify.reports?.[i]?.phases;
  return !phases || phases.includes(plan.phases[s.phase]?.name ?? '');
};

/**
 * Recurring reports (notify.reports) that are due, sent with the checks just judged. A report
 * starts counting when it becomes active (run start, or entering one of its phases).
 */
export function sendReports(d: Draft) {
  const s = d.s;
  if (s.status !== 'running' && s.status !== 'paused' && s.status !== 'awaiting-approval') return;
  (d.plan.notify.reports ?? []).forEach((r, i) => {
    const at = s.reportsAt?.[i];
    if (!reportActive(d.plan, s, i)) {
      if (at !== undefined) delete s.reportsAt![i];
      return;
    }
    if (at !== undefined && d.now - at < r.everyMs) return;
    (s.reportsAt ??= {})[i] = d.now;
    if (at === undefined) return;
    d.emit('report.sent', `${r.name ?? 'status report'} (every ${formatDuration(r.everyMs)})`, { report: i });
    notify(d, 'run.report', 'info', { report: r.name ?? null }, r.targets);
    // A review checkpoint stops the run until someone approves (once: a review already waiting is not stacked).
    if (r.blocking && s.status === 'running') {
      const name = r.name ?? 'review checkpoint';
      s.status = 'awaiting-approval';
      s.approval = { key: `review${i}@${d.now}`, phase: s.phase, step: s.step, requestedAt: d.now, review: name, message: `${name}: review the rollout, then \`rollout approve\` to go on (or \`rollout pause\` / \`rollout rollback\`)` };
      s.waitingFor = `review: ${name} (\`rollout approve\`)`;
      s.waiting = { kind: 'review', gate: name };
      d.emit('approval.requested', `review checkpoint: ${name} — the run waits for \`rollout approve\` before its next step`, { key: s.approval.key, review: name });
      notify(d, 'approval.requested', 'warning', { report: name });
    }
  });
}
