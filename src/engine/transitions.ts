/** Status transitions several concerns share: pause, finish, and freezing the phase's flags. */
import type { Draft } from './draft.js';
import { notify } from './notice.js';
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
  d.s.status = 'paused';
  d.s.reason = reason;
  d.s.waitingFor = 'a human: `rollout resume`, `rollout rollback` or `rollout abort`';
  if (opts.keepApproval) d.s.approval = opts.keepApproval;
  d.emit('run.paused', `paused: ${reason}`);
  notify(d, 'run.paused', 'warning', { reason });
}

export function finish(d: Draft, status: 'completed' | 'aborted' | 'rolled-back', reason: string) {
  d.s.status = status;
  d.s.reason = reason;
  d.s.waitingFor = undefined;
  d.s.finishedAt = d.now;
  d.s.holdUntil = undefined;
  d.s.approval = undefined;
  d.emit(`run.${status}`, `run ${status}: ${reason}`);
  notify(d, status === 'rolled-back' ? 'rollback.completed' : `run.${status}`, status === 'completed' ? 'info' : 'warning', { reason });
}
