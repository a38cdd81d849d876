/**
 * The draft of one decision: a copy of the run's state that the decision edits, and the
 * events that explain it. Every engine entry point (createRun, tick, complete, control)
 * opens a Draft and returns `draft.done()`.
 */
import type { Plan } from '../plan/model.js';
import type { Action, ActionInput, Decision, RunEvent, RunState } from './types.js';

export const iso = (t: number) => new Date(t).toISOString();

/** A measured value for a message: 4 decimals at most, or "no data". */
export function fmt(v: number | null | undefined): string {
  return v === null || v === undefined ? 'no data' : String(Math.round(v * 10000) / 10000);
}


/**
 * Copy-on-decide: the engine never mutates its input. Decisions replace nested records
 * (checks, flags, approval) rather than editing them, so copying the containers is enough —
 * and it is what keeps a multi-day simulation (tens of thousands of ticks) fast.
 */
function cloneState(s: RunState): RunState {
  return {
    ...s,
    plan: { ...s.plan },
    approved: [...s.approved],
    flags: { ...s.flags },
    checks: { ...s.checks },
    pending: [...s.pending],
    ...(s.approval ? { approval: { ...s.approval } } : {}),
    ...(s.rollback ? { rollback: { ...s.rollback, failures: [...s.rollback.failures] } } : {}),
    ...(s.reportsAt ? { reportsAt: { ...s.reportsAt } } : {}),
    ...(s.pages ? { pages: [...s.pages] } : {}),
  };
}

export class Draft {
  readonly s: RunState;
  readonly events: RunEvent[] = [];
  constructor(
    state: RunState,
    readonly plan: Plan,
    readonly now: number,
  ) {
    this.s = cloneState(state);
    this.s.updatedAt = now;
  }
  emit(type: string, msg: string, data?: Record<string, unknown>) {
    this.events.push({ seq: this.s.seq++, at: this.now, type, msg, ...(data ? { data } : {}) });
  }
  enqueue(a: ActionInput) {
    const action = { ...a, id: this.s.nextActionId++ } as Action;
    this.s.pending.push(action);
    return action;
  }
  /** Move a queued action to the front: it runs before everything already pending. */
  runNext(action: Action) {
    this.s.pending = [action, ...this.s.pending.filter((a) => a !== action)];
    return action;
  }
  done(): Decision {
    return { state: this.s, events: this.events };
  }
}
