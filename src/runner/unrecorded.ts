/**
 * The emergency rollback when the state store cannot be written (a read-only or full state
 * directory, a state directory that is a file): turning the flags off matters more than
 * recording it. The run's procedure (flags off, incident, notices, commands, health check) is
 * carried out in memory with the same engine and runner; what could not be recorded is
 * collected and reported to the caller, who prints it.
 */
import type { Control, RunEvent, RunState } from '../engine/types.js';
import { errorMessage, UsageError } from '../errors.js';
import type { Plan } from '../plan/model.js';
import { redact } from '../util/redact.js';
import { realClock } from './clock.js';
import { Runner, type RunStore } from './runner.js';
import { buildServices } from './services.js';

export interface Unrecorded {
  state: RunState;
  /** Events that happened but are not in the run's log. */
  events: RunEvent[];
  /** What could not be written, one line each. */
  notRecorded: string[];
}

export async function rollbackUnrecorded(o: {
  plan: Plan;
  state: RunState;
  control: Control;
  cwd: string;
  /** The store, for a last attempt at writing the incident record. */
  writeIncident: RunStore['writeIncident'];
  log: (msg: string) => void;
  onEvent: (e: RunEvent, s: RunState) => void;
}): Promise<Unrecorded> {
  const events: RunEvent[] = [];
  const notRecorded: string[] = [];
  const store: RunStore = {
    async save(_s, evs) {
      events.push(...evs);
    },
    async take() {
      return [];
    },
    async writeIncident(id, incident, key) {
      try {
        return await o.writeIncident(id, incident, key);
      } catch (err) {
        notRecorded.push(`the incident record: ${redact(errorMessage(err))}`);
        throw err;
      }
    },
  };
  const svc = await buildServices({ plan: o.plan, store, clock: realClock, cwd: o.cwd, log: o.log, onEvent: o.onEvent, execute: true, runStartedAt: o.state.startedAt });
  try {
    const runner = new Runner(svc, o.state);
    const r = await runner.applyControl(o.control);
    if (r.error) throw new UsageError(r.error, { hint: r.hint });
    const state = await runner.loop({ mode: 'follow' });
    notRecorded.unshift(`the run's state (the store still says "${o.state.status}"; it is now "${state.status}")`, `${events.length} event(s) of its log (${[...new Set(events.map((e) => e.type))].join(', ')})`);
    return { state, events, notRecorded };
  } finally {
    await svc.close();
  }
}
