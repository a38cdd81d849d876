/** Run creation: the initial state of a run and its first event. */
import type { Plan } from '../plan/model.js';
import { Draft } from './draft.js';
import { announceNow, emitStarted, scheduleRun } from './start.js';
import { STATE_SCHEMA_VERSION, type Decision, type ExcludedCohort, type RunState, type Schedule } from './types.js';

export interface CreateOptions {
  /** A scheduled start (epoch ms, resolved by the caller from `startAt:` / `--at`): later than `now` makes the run `scheduled`. */
  startAt?: number;
  /** Where the start time came from. */
  source?: Schedule['source'];
  /** The plan's estimated end from that start (the caller simulates it): the announcement's end date. */
  endsAt?: number;
  /**
   * Cohorts the plan's previous run ended with still rolled back (`rollout abort` leaves them
   * excluded on the backend, and a new run's writes keep the backend's exclusion): the new run
   * takes them over, so status shows them, the run waits for them at its end and
   * `rollback --segment … --undo` can restore them.
   */
  excluded?: ExcludedCohort[];
  /** The run they come from. */
  excludedFrom?: string;
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
  if (o.excluded?.length) {
    d.s.excluded = o.excluded.map((c) => ({ ...c }));
    const names = o.excluded.map((c) => `${c.kind} ${c.name}`).join(', ');
    d.emit('rollback.cohort', `${names} still rolled back on the backend from run ${o.excludedFrom ?? 'before'}: this run keeps ${o.excluded.length > 1 ? 'them' : 'it'} out until \`rollout rollback ${id} ${o.excluded.map((c) => `--${c.kind} ${c.name}`).join(' ')} --undo\``, { cohorts: o.excluded.map((c) => ({ kind: c.kind, name: c.name })), from: o.excludedFrom ?? null, carried: true });
  }
  if (o.startAt !== undefined && o.startAt > now) {
    scheduleRun(d, o.startAt, o.source ?? 'plan', startedBy, o.endsAt);
    return d.done();
  }
  announceNow(d);
  emitStarted(d, startedBy);
  return d.done();
}
