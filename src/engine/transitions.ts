/** Status transitions several concerns share: pause, finish, and freezing the phase's flags. */
import type { Draft } from './draft.js';
import { notify } from './notice.js';
import { closePages } from './pages.js';
import type { RunState } from './types.js';

/** Freeze (or unfreeze) the current phase's flags on the backend; unfreezing only what was frozen. */
export function freeze(d: Draft, frozen: boolean) {
  const s = d.s;
  const flags = frozen ? (d.plan.phases[s.phase]?.flags ?? []).filter((f) => s.flags[f]?.enabled) : (s.frozen ?? []);
  if (!flags.length) return undefined;
  // Recorded at intent: an unfreeze of a flag whose freeze never landed is harmless.
  s.frozen = frozen ? [...flags] : undefined;
  return d.enqueue({ kind: 'freeze-flags', flags: [...flags], frozen });
}

export function pause(d: Draft, reason: string, opts: { keepApproval?: RunState['approval'] } = {}) {
  // The hold's clock stops: what is left of it is kept, and counts down again only while the
  // checks are judged and pass (creditHold) or after the run is resumed (resumeHold).
  const s = d.s;
  s.holdLeftMs = s.holdUntil !== undefined && s.holdUntil > d.now ? s.holdUntil - d.now : undefined;
  if (s.holdLeftMs !== undefined) s.holdUntil = undefined;
  s.holdSeenAt = undefined;
  d.s.status = 'paused';
  d.s.reason = reason;
  d.s.waitingFor = 'a human: `rollout resume`, `rollout rollback` or `rollout abort`';
  d.s.waiting = { kind: 'human' };
  if (opts.keepApproval) d.s.approval = opts.keepApproval;
  d.emit('run.paused', `paused: ${reason}`);
  notify(d, 'run.paused', 'warning', { reason });
}

/**
 * A paused run's checks were just judged: paused time counts against the hold only from one
 * judgment at which every active check passed to the next (at most two intervals apart: a
 * longer gap is time nobody watched).
 */
export function creditHold(d: Draft, healthy: boolean) {
  const s = d.s;
  if (s.status !== 'paused' || s.holdLeftMs === undefined) return;
  if (!healthy) {
    s.holdSeenAt = undefined;
    return;
  }
  if (s.holdSeenAt !== undefined) s.holdLeftMs = Math.max(0, s.holdLeftMs - Math.min(d.now - s.holdSeenAt, 2 * d.plan.intervalMs));
  s.holdSeenAt = d.now;
}

/**
 * A running (or awaiting-approval) run's checks were just judged. Time without data on a check
 * that gates the step (its `noData:` policy is not pass) does not count toward the hold — it
 * is not time with the checks running and passing — but it does not throw away what was
 * already observed: the hold's end moves later by the no-data time, from the previous judgment
 * to this one (at most two intervals: a longer gap is time nobody watched, which counts as
 * clock time while running, as before). An inconclusive `compare:` check has data and does not
 * stop the hold. A hold already over (ended, or ended by `promote`)
 * is never started again.
 */
export function stopHoldWithoutData(d: Draft, noData: boolean, prevTickAt: number | undefined) {
  const s = d.s;
  if (!noData || prevTickAt === undefined || s.holdUntil === undefined) return;
  if (s.status !== 'running' && s.status !== 'awaiting-approval') return;
  const lost = Math.min(d.now, s.holdUntil) - Math.max(prevTickAt, d.now - 2 * d.plan.intervalMs);
  if (lost > 0) s.holdUntil += lost;
}

/** The run moves again (resume, approve): the rest of the hold starts now. Returns what was left. */
export function resumeHold(d: Draft): number | undefined {
  const s = d.s;
  const left = s.holdLeftMs;
  if (left !== undefined && s.step >= 0) s.holdUntil = d.now + left;
  s.holdLeftMs = undefined;
  s.holdSeenAt = undefined;
  return left;
}

export function finish(d: Draft, status: 'completed' | 'aborted' | 'rolled-back', reason: string) {
  d.s.holdLeftMs = undefined;
  d.s.holdSeenAt = undefined;
  d.s.status = status;
  d.s.reason = reason;
  d.s.waitingFor = undefined;
  d.s.waiting = undefined;
  d.s.finishedAt = d.now;
  d.s.holdUntil = undefined;
  d.s.approval = undefined;
  d.emit(`run.${status}`, `run ${status}: ${reason}`);
  closePages(d, `the run ${status === 'rolled-back' ? 'rolled back' : status}`);
  notify(d, status === 'rolled-back' ? 'rollback.completed' : `run.${status}`, status === 'completed' ? 'info' : 'warning', { reason });
}
