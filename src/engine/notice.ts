/**
 * Notices: the `notify` action, carrying the facts of the moment it was decided (numbers and
 * states). The words — status colour, duration, the command to run — are output's
 * (output/notice.ts), rendered when the notice is sent.
 */
import { currentPercentage, pctOf } from './changes.js';
import type { Draft } from './draft.js';
import { nextStep } from './steps.js';
import type { NoticeFacts } from './types.js';

function facts(d: Draft, extra: Record<string, string | number | null>): NoticeFacts {
  const s = d.s;
  const plan = d.plan;
  const p = plan.phases[s.phase];
  const nxt = s.status === 'completed' ? null : nextStep(plan, s);
  const rolling = s.status === 'rolling-back' || s.status === 'rolled-back';
  return {
    run: s.id,
    status: s.status,
    phase: s.phase,
    step: s.step,
    percentage: currentPercentage(d) ?? 0,
    previousPercentage: s.step > 0 ? pctOf(plan, s.phase, s.step - 1) : null,
    nextPercentage: rolling ? 0 : nxt ? pctOf(plan, nxt.phase, nxt.step) : null,
    targetPercentage: p ? pctOf(plan, s.phase, p.steps.length - 1) : 100,
    ...(s.holdUntil && nxt ? { nextAt: s.holdUntil } : {}),
    checks: Object.entries(s.checks).map(([name, r]) => ({ name, value: r.value, verdict: r.verdict, breached: r.breached })),
    ...(s.reason !== undefined ? { reason: s.reason } : {}),
    ...(s.rollback?.failures.length ? { failures: [...s.rollback.failures] } : {}),
    startedAt: s.startedAt,
    ...(s.schedule ? { startsAt: s.schedule.at, ...(s.schedule.endsAt !== undefined ? { endsAt: s.schedule.endsAt } : {}), ...(s.schedule.announcedAt !== undefined ? { leadMs: Math.max(0, s.schedule.at - s.schedule.announcedAt) } : {}) } : {}),
    at: d.now,
    extra,
  };
}

export function notify(d: Draft, event: string, severity: 'info' | 'warning' | 'critical', extra: Record<string, string | number | null> = {}, targets?: string[]) {
  if (!Object.keys(d.plan.notify.targets).length) return;
  d.enqueue({ kind: 'notify', event, severity, facts: facts(d, extra), ...(targets ? { targets } : {}) });
}
