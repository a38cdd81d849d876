/**
 * Running a seed plan the way its document reads: the real runner on a virtual clock
 * (simulatePlan), or the pure engine (drive) where a test needs a human's exact controls.
 */
import { join, resolve } from 'node:path';
import type { Action, RunEvent, RunState } from '../../src/engine/types.js';
import { noticeVarsOf } from '../../src/output/notice.js';
import { renderer } from '../../src/runner/services.js';
import { loadPlan } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/model.js';
import { scenarioSchema, simulatePlan, type SimulationResult } from '../../src/runner/simulate.js';

export const PLANS = resolve(import.meta.dirname, '../../plans');
export const M = 60_000;
export const H = 60 * M;
export const D = 24 * H;
/** Monday 2025-03-03 08:00 UTC. */
export const MONDAY = Date.parse('2025-03-03T08:00:00Z');

export const load = async (name: string): Promise<Plan> => (await loadPlan(join(PLANS, `${name}.yaml`), { env: {} })).plan;

export const sim = (plan: Plan, scenario: Record<string, unknown> = {}, start = MONDAY): Promise<SimulationResult> =>
  simulatePlan(plan, { start, scenario: scenarioSchema.parse(scenario) });

export const iso = (t: number) => new Date(t).toISOString();
export const weekday = (t: number) => ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'][new Date(t).getUTCDay()]!;

/** "phase pct" → ISO time of each applied step, from step.applied events. */
export function stepDates(events: RunEvent[]): Array<[string, string]> {
  return events.filter((e) => e.type === 'step.applied').map((e) => [e.msg.split(' applied')[0]!, iso(e.at)]);
}

/** Targets a notice went to: the notify.sent event for `event` ("notice run.paused: sent to a, b"). */
export function noticeTargets(events: RunEvent[], event: string): string[][] {
  return events
    .filter((e) => e.type === 'notify.sent' && e.msg.startsWith(`notice ${event}:`))
    .map((e) => e.msg.replace(/^.*sent to /, '').split(', '));
}

/** The flags as the run left them: flag → "off" | "N%" (| rings). */
export function flagStates(s: RunState): Record<string, string> {
  return Object.fromEntries(
    Object.entries(s.flags).map(([f, r]) => [f, r.enabled ? `${r.percentage}%${r.rings ? ` ${Object.entries(r.rings).map(([k, v]) => `${k}:${v}`).join(',')}` : ''}` : 'off']),
  );
}

/** The text of the first `event` notice the run sent: the queued action rendered as the runner renders it. */
export async function noticeText(plan: Plan, event: string, opts: { start: number; startAt?: number }): Promise<{ r: SimulationResult; title: string; text: string }> {
  let action: Extract<Action, { kind: 'notify' }> | undefined;
  const r = await simulatePlan(plan, {
    start: opts.start,
    startAt: opts.startAt,
    scenario: scenarioSchema.parse({}),
    onEvent: (_e, s) => {
      action ??= s.pending.find((a): a is Extract<Action, { kind: 'notify' }> => a.kind === 'notify' && a.event === event);
    },
  });
  if (!action) throw new Error(`no ${event} notice`);
  return { r, ...renderer(plan)(event, noticeVarsOf(plan, action)) };
}
