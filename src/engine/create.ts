/** Run creation: the initial state of a run and its first event. */
import type { Plan } from '../plan/model.js';
import { Draft } from './draft.js';
import { announceNow, emitStarted, scheduleRun } from './start.js';
import { STATE_SCHEMA_VERSION, type Decision, type RunState, type Schedule } from './types.js';

export interface CreateOptions {
  /** A scheduled start (epoch ms, resolved by the caller from `startAt:` / `--at`): later than `now` makes the run `scheduled`. */
  startAt?: number;
  /** Where the start time came from. */
  source?: Schedule['source'];
  /** The plan's estimated end from that start (the caller simulates it): the announcement's end date. */
  endsAt?: number;
}

/**
 * `startedBy`: who started the run (`user@host`, decided by the caller: the engine does no I/O).
 * Recorded in the state and in the run.started event; absent for simulations and backtests.
 */
export function createRun(plan: Plan, id: string, now: number, startedBy?: string, o: CreateOptions = {}): Decision {
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
  if (o.startAt !== undefined && o.startAt > now) {
    scheduleRun(d, o.startAt, o.source ?? 'plan', startedBy, o.endsAt);
    return d.done();
  }
  announceNow(d);
  emitStarted(d, startedBy);
  return d.done();
}
