/**
 * The start time of a new run: `--at` (which wins) or the plan's `startAt:`, resolved against
 * the clock in the plan's time zone. Shared by `start`, `advance`, `simulate` and `plan`.
 */
import { isOpen, nextOpen } from '../engine/windows.js';
import { UsageError } from '../errors.js';
import type { Plan } from '../plan/model.js';
import { FORMS, parseStartAt, startTime } from '../plan/start-at.js';

export interface StartChoice {
  /** Epoch ms; absent: start at once. */
  startAt?: number;
  source?: 'plan' | 'command';
  /** Things worth saying (the flag overrides the plan, the start falls outside the windows). */
  notes: string[];
}

const iso = (t: number) => new Date(t).toISOString();

/** `at`: the --at text (`now` starts at once, overriding the plan). Throws UsageError (exit 2) with a hint. */
export function chooseStart(plan: Plan, at: string | undefined, now: number, planFile = plan.file): StartChoice {
  const zone = plan.windows?.timezone ?? 'UTC';
  const notes: string[] = [];
  let startAt: number | undefined;
  let source: StartChoice['source'];
  if (at !== undefined) {
    if (plan.startAt) notes.push(`--at ${at} overrides the plan's startAt (${plan.startAt.text})`);
    if (/^\s*now\s*$/i.test(at)) return { notes };
    const r = parseStartAt(at, zone);
    if ('error' in r) throw new UsageError(`--at: ${r.error}`, { hint: r.hint.includes(FORMS) ? `${r.hint.replace(/\.$/, '')}, or "now".` : `${r.hint} --at takes ${FORMS}, or "now".` });
    startAt = startTime(r.spec, now, zone);
    source = 'command';
    if (startAt <= now) throw new UsageError(`--at ${at} is in the past (${iso(startAt)}; it is now ${iso(now)})`, { hint: 'Give a time ahead, e.g. --at "mon 09:00" or --at 2h, or leave out --at to start now.' });
  } else if (plan.startAt) {
    startAt = startTime(plan.startAt, now, zone);
    source = 'plan';
    if (startAt <= now)
      throw new UsageError(`the plan's startAt (${plan.startAt.text}) is in the past: ${iso(startAt)}; it is now ${iso(now)}`, {
        hint: `Change startAt in ${planFile}, start at another time with --at <time>, or start now with --at now.`,
      });
  } else return { notes };
  if (plan.windows && !isOpen(plan.windows, startAt)) {
    const open = nextOpen(plan.windows, startAt);
    notes.push(`the start (${iso(startAt)}) is outside the plan's rollout windows: its first step waits for the window${open !== undefined ? ` (${iso(open)})` : ''}`);
  }
  return { startAt, source, notes };
}

/**
 * When the plan would end if it started at `startAt` (healthy metrics, gates approved at once:
 * `rollout plan`'s timeline), for a scheduled run's announcement ("Target: 100% by [End Date]").
 * Only for plans that announce; undefined when the simulation does not complete.
 */
export async function estimateEnd(plan: Plan, now: number, startAt: number | undefined): Promise<number | undefined> {
  if (startAt === undefined || !plan.notify.announce) return undefined;
  const { simulatePlan } = await import('./simulate.js');
  const r = await simulatePlan(plan, { start: now, startAt, scripted: false });
  return r.state.status === 'completed' ? r.endedAt : undefined;
}
