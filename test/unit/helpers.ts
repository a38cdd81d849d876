/**
 * A small driver for the pure engine on a fake clock: createRun, then loop the way the runner
 * does — perform pending[0] and complete() it; when nothing is pending and nextWake <= now,
 * observe and tick(); otherwise jump the clock to the wake (or to the next scheduled control).
 * Actions succeed unless an outcome callback says otherwise. Bounded, and it checks the
 * scheduling invariants on every decision: nextWake is never in the past, and a run that waits
 * for a human (paused, awaiting approval) does not spin.
 */
import { expect } from 'vitest';
import type { FlagState } from '../../src/adapters/types.js';
import type { CheckReading } from '../../src/analysis/judge.js';
import { activeChecks, complete, control, createRun, flagsToRead, nextWake, tick, type CreateOptions } from '../../src/engine/engine.js';
import { FINAL_STATUSES, type Action, type Control, type Decision, type Readings, type Outcome, type RunEvent, type RunState } from '../../src/engine/types.js';
import { parsePlanText } from '../../src/plan/load.js';
import type { Check, Plan } from '../../src/plan/model.js';

export const S = 1000;
export const M = 60 * S;
export const H = 60 * M;
export const D = 24 * H;
/** Monday 2025-03-03 08:00 UTC. */
export const T0 = Date.parse('2025-03-03T08:00:00Z');

const HEADER = `name: t
backend: { type: local }
metrics:
  sim: { type: fake }
`;

/** Build a Plan from YAML; `name:`, `backend:` and a `sim` provider are added unless given. */
export async function mkPlan(yaml: string): Promise<Plan> {
  const text = /^name:/m.test(yaml) ? yaml : HEADER + yaml;
  const { plan } = await parsePlanText(text, '/tmp/t.yaml', 't.yaml', { adapters: false, env: {} });
  return plan;
}

/** A value inside the check's thresholds. */
export function healthyValue(c: Check): number {
  if (c.relative) return 100;
  if (c.max !== undefined && c.min !== undefined) return (c.max + c.min) / 2;
  if (c.max !== undefined) return c.max >= 0 ? c.max / 2 : c.max - 1;
  if (c.min !== undefined) return c.min > 0 ? c.min * 1.001 : c.min + 1;
  return 0;
}

/** Per-check override: a value, null (no data), or a full observation; undefined = healthy. */
export type Script = Record<string, (elapsed: number, now: number) => number | null | undefined | CheckReading | 'missing'>;

/** Readings for the run's active checks: healthy unless the script says otherwise. */
export function observer(plan: Plan, script: Script = {}, flags: Record<string, FlagState | undefined> | ((now: number) => Record<string, FlagState | undefined>) = {}, start = T0) {
  return (now: number, s: RunState): Readings => {
    const checks: Record<string, CheckReading> = {};
    for (const c of activeChecks(plan, s)) {
      const f = script[c.name];
      const v = f ? f(now - start, now) : undefined;
      if (v === 'missing') continue;
      if (v !== null && typeof v === 'object') checks[c.name] = v;
      else if (v === undefined) checks[c.name] = c.relative ? { value: 100, baseline: 100 } : { value: healthyValue(c) };
      else checks[c.name] = c.relative ? { value: v, baseline: 100 } : { value: v };
    }
    const table = typeof flags === 'function' ? flags(now) : flags;
    const out: Readings['flags'] = {};
    for (const f of flagsToRead(plan, s)) {
      const st = table[f];
      if (st) out[f] = st;
    }
    return { checks, flags: out };
  };
}

export const flagOn = (flag: string, percentage = 100, enabled = true): FlagState => ({ flag, exists: true, enabled, percentage });

export interface Performed {
  action: Action;
  at: number;
  outcome: Outcome;
}

export interface ScheduledControl {
  /** Virtual ms after start, or a predicate on the state (applied once, the first time it holds). */
  at: number | ((s: RunState, now: number) => boolean);
  ctl: Control;
}

export interface DriveOptions {
  start?: number;
  obs?: (now: number, s: RunState) => Readings;
  /** Outcome of an action; undefined → ok. */
  outcome?: (a: Action, now: number, s: RunState) => Outcome | undefined;
  controls?: ScheduledControl[];
  /** Stop (without error) when this holds after a decision. */
  until?: (s: RunState, now: number) => boolean;
  /** Virtual time budget (default 60 days). */
  limitMs?: number;
  maxIterations?: number;
  /** Approve gates at once (like --yes), and tick checklists at once (like a simulation). */
  autoApprove?: boolean;
  /** Continue from this state instead of createRun. */
  state?: RunState;
  /** createRun's options (a scheduled start). */
  create?: CreateOptions;
  /** Store the state as JSON between decisions (what the runner persists and reloads). */
  persist?: boolean;
  /** Called after every decision with the state before and after it. */
  onDecision?: (kind: 'create' | 'tick' | 'complete' | 'control', before: RunState | undefined, d: Decision, now: number) => void;
}

export interface Trace {
  state: RunState;
  events: RunEvent[];
  performed: Performed[];
  /** Every tick: time and status before it. */
  ticks: Array<{ at: number; status: RunState['status'] }>;
  refused: string[];
  now: number;
  start: number;
  /** Why the loop stopped. */
  stop: 'final' | 'until' | 'limit' | 'waiting-for-human';
  types(): string[];
  of(type: string): RunEvent[];
}

const okOutcome = (a: Action): Outcome => ({ ok: true, detail: `${a.kind} ok` });

/** Check the invariants every decision must keep. */
export function checkWake(plan: Plan, s: RunState, now: number, where: string) {
  const w = nextWake(plan, s, now);
  if (FINAL_STATUSES.includes(s.status) && !s.pending.length) expect(w, `${where}: a finished run has no wake`).toBeUndefined();
  if (w !== undefined) expect(w, `${where}: nextWake in the past`).toBeGreaterThanOrEqual(now);
  return w;
}

export function drive(plan: Plan, opts: DriveOptions = {}): Trace {
  const start = opts.start ?? T0;
  let now = start;
  const obs = opts.obs ?? observer(plan, {}, {}, start);
  const limit = start + (opts.limitMs ?? 60 * D);
  const max = opts.maxIterations ?? 200_000;
  const events: RunEvent[] = [];
  const performed: Performed[] = [];
  const ticks: Trace['ticks'] = [];
  const refused: string[] = [];
  const controls = (opts.controls ?? []).map((c) => ({ ...c, done: false }));
  let state: RunState;
  const record = (d: Decision, where: string) => {
    opts.onDecision?.(where === 'createRun' ? 'create' : where === 'tick' ? 'tick' : where.startsWith('complete') ? 'complete' : 'control', state, d, now);
    for (const e of d.events) {
      expect(e.at, `${where}: event time`).toBe(now);
      if (events.length) expect(e.seq, `${where}: event seq increases`).toBeGreaterThan(events.at(-1)!.seq);
    }
    // Every decision that changes the status or queues an action says so in an event.
    const before = state;
    if (before && (d.state.status !== before.status || d.state.nextActionId !== before.nextActionId))
      expect(d.events.length, `${where}: a decision without an event (${before.status} → ${d.state.status})`).toBeGreaterThan(0);
    events.push(...d.events);
    // The engine never mutates its input: freeze what it returned, so a later decision that
    // writes into it throws.
    state = opts.persist ? (JSON.parse(JSON.stringify(d.state)) as RunState) : deepFreeze(d.state);
  };
  state = undefined as unknown as RunState;
  if (opts.state) state = opts.state;
  else record(createRun(plan, 'run-1', start, undefined, opts.create), 'createRun');
  let sameInstantTicks = 0;
  let lastTickAt = -1;
  let stop: Trace['stop'] = 'limit';
  const applyDueControls = () => {
    for (const c of controls) {
      if (c.done) continue;
      const due = typeof c.at === 'number' ? now >= start + c.at : c.at(state, now);
      if (!due) continue;
      c.done = true;
      const d = control(plan, state, c.ctl, now);
      if (d.error) refused.push(d.error);
      else record(d, `control ${c.ctl.kind}`);
      checkWake(plan, state, now, `after control ${c.ctl.kind}`);
    }
  };
  for (let i = 0; ; i++) {
    if (i >= max) throw new Error(`drive: no end after ${max} iterations (status ${state.status}, waiting for ${state.waitingFor})`);
    applyDueControls();
    if (opts.autoApprove && state.status === 'awaiting-approval' && !state.pending.length)
      record(control(plan, state, state.approval?.checklist ? { kind: 'confirm', items: [], all: true, auto: true, by: 'test' } : { kind: 'approve', by: 'test' }, now), 'auto-approve');
    const a = state.pending[0];
    if (a) {
      const outcome = opts.outcome?.(a, now, state) ?? okOutcome(a);
      performed.push({ action: a, at: now, outcome });
      record(complete(plan, state, a.id, outcome, now), `complete ${a.kind}`);
      checkWake(plan, state, now, `after complete ${a.kind}`);
      continue;
    }
    if (FINAL_STATUSES.includes(state.status)) {
      stop = 'final';
      break;
    }
    if (opts.until?.(state, now)) {
      stop = 'until';
      break;
    }
    const wake = checkWake(plan, state, now, 'loop');
    if (wake === undefined) {
      stop = 'final';
      break;
    }
    if (wake > now) {
      const pendingTimed = controls.filter((c) => !c.done && typeof c.at === 'number').map((c) => start + (c.at as number));
      const humanWait = (state.status === 'paused' || state.status === 'awaiting-approval') && !controls.some((c) => !c.done);
      if (humanWait && !(state.status === 'awaiting-approval' && state.approval?.deadline !== undefined)) {
        stop = 'waiting-for-human';
        break;
      }
      const next = Math.min(wake, ...pendingTimed.filter((t) => t > now));
      if (next > limit) break;
      now = next;
      continue;
    }
    // Due now: observe and judge.
    if (now === lastTickAt) {
      sameInstantTicks++;
      if (sameInstantTicks > 5) throw new Error(`drive: spinning at ${new Date(now).toISOString()} (status ${state.status}, waiting for ${state.waitingFor})`);
    } else sameInstantTicks = 0;
    lastTickAt = now;
    ticks.push({ at: now, status: state.status });
    record(tick(plan, state, obs(now, state), now), 'tick');
    const w = checkWake(plan, state, now, 'after tick');
    // A run waiting for a human must not ask to be ticked again at once.
    if (!state.pending.length && (state.status === 'paused' || state.status === 'awaiting-approval'))
      expect(w, `a ${state.status} run spins`).toBeGreaterThan(now);
  }
  return {
    state,
    events,
    performed,
    ticks,
    refused,
    now,
    start,
    stop,
    types: () => events.map((e) => e.type),
    of: (type: string) => events.filter((e) => e.type === type),
  };
}

/** The flag changes of each performed apply-flags action, as "flag=pct" / "flag=off". */
export function writes(t: Trace, purpose?: 'step' | 'rollback'): string[][] {
  return t.performed
    .filter((p) => p.action.kind === 'apply-flags' && (!purpose || p.action.purpose === purpose))
    .map((p) => (p.action as Extract<Action, { kind: 'apply-flags' }>).changes.map((c) => `${c.flag}=${c.enabled ? `${c.percentage ?? 100}` : 'off'}`));
}

/** Percentages applied by steps for one flag, in order. */
export function stepPercents(t: Trace, flag: string): number[] {
  return t.performed
    .filter((p) => p.action.kind === 'apply-flags' && p.action.purpose === 'step' && p.outcome.ok)
    .flatMap((p) => (p.action as Extract<Action, { kind: 'apply-flags' }>).changes.filter((c) => c.flag === flag).map((c) => (c.enabled ? (c.percentage ?? 100) : 0)));
}

/** Times (ms after start) of the successful step writes. */
export function stepTimes(t: Trace): number[] {
  return t.performed.filter((p) => p.action.kind === 'apply-flags' && p.action.purpose === 'step' && p.outcome.ok).map((p) => p.at - t.start);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
