/** Run creation: the initial state of a run and its first event. */
import type { Plan } from '../plan/model.js';
import { Draft } from './draft.js';
import { notify } from './notice.js';
import { STATE_SCHEMA_VERSION, type Decision, type RunState } from './types.js';

/**
 * `startedBy`: who started the run (`user@host`, decided by the caller: the engine does no I/O).
 * Recorded in the state and in the run.started event; absent for simulations and backtests.
 */
export function createRun(plan: Plan, id: string, now: number, startedBy?: string): Decision {
  const state: RunState = {
    schema: STATE_SCHEMA_VERSION,
    id,
    plan: { name: plan.name, file: plan.file, hash: plan.hash },
    status: 'running',
    phase: 0,
    step: -1,
    approved: [],
    flags: {},
    checks: {},
    pending: [],
    startedAt: now,
    updatedAt: now,
    seq: 1,
    nextActionId: 1,
    ...(startedBy ? { startedBy } : {}),
  };
  const d = new Draft(state, plan, now);
  d.emit('run.started', `run ${id} of plan ${plan.name} started${startedBy ? ` by ${startedBy}` : ''}: ${plan.phases.length} phase(s), flags ${plan.flags.join(', ')}`, {
    planHash: plan.hash,
    phases: plan.phases.map((p) => p.name),
    ...(startedBy ? { startedBy } : {}),
  });
  notify(d, 'run.started', 'info');
  return d.done();
}
