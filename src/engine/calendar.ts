/**
 * Weekday schedules on steps (seed 000: "Monday: 50%, Wednesday: 75%, Friday: 90%"): a step
 * with `day:`/`at:` happens only on those weekdays, not before that time of day, in the plan's
 * time zone — on top of the plan's rollout windows. Pure, like windows.ts.
 */
import type { Plan, Step } from '../plan/model.js';
import { nextOpen } from './windows.js';

type Windows = NonNullable<Plan['windows']>;

// One windows object per step, so windows.ts can cache its closed stretches by identity.
const perStep = new WeakMap<Step, Windows>();

function stepWindows(plan: Plan, st: Step): Windows | undefined {
  if (!st.days && !st.at) return undefined;
  let w = perStep.get(st);
  if (!w) {
    w = { timezone: plan.windows?.timezone ?? 'UTC', allow: [{ ...(st.days ? { days: st.days } : {}), from: st.at ?? '00:00', name: 'step schedule' }], blackout: [] };
    perStep.set(st, w);
  }
  return w;
}

/** True when the step carries a weekday/time schedule. */
export const isScheduled = (st: Step | undefined): boolean => Boolean(st && (st.days || st.at));

/**
 * The first instant ≥ `at` when both the plan's windows and the step's schedule allow the
 * step (`at` itself when they do); undefined when none is found within the 60 days scanned.
 */
export function stepOpensAt(plan: Plan, st: Step, at: number): number | undefined {
  const own = stepWindows(plan, st);
  let t: number | undefined = at;
  // Alternate until both agree; each round moves forward, a handful of rounds suffices.
  for (let i = 0; i < 32 && t !== undefined; i++) {
    const a: number | undefined = nextOpen(plan.windows, t);
    if (a === undefined) return undefined;
    const b: number | undefined = nextOpen(own, a);
    if (b === a) return a;
    t = b;
  }
  return undefined;
}

/** "mon 09:00", "wed", "daily 09:00" — for messages. */
export function describeSchedule(st: Step): string {
  return `${st.days ? st.days.join('/') : 'daily'}${st.at ? ` ${st.at}` : ''}`;
}
