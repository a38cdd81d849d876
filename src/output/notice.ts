/**
 * The words of a notice: the template variables (docs/notifications) rendered from the facts
 * the engine recorded when it decided to send it — status colour, step "n/m", the checks line,
 * how long the run has taken, and the command a human runs next.
 */
import { describeThreshold } from '../analysis/judge.js';
import { stepLabel } from '../engine/steps.js';
import type { Action, NoticeFacts } from '../engine/types.js';
import type { Plan } from '../plan/model.js';
import { formatDuration } from '../util/duration.js';
import { zoneName } from './time.js';

export type NoticeVars = Record<string, string | number | null>;

const iso = (t: number) => new Date(t).toISOString();
const fmt = (v: number | null | undefined) => (v === null || v === undefined ? 'no data' : String(Math.round(v * 10000) / 10000));

/** "2d3h", "1h5m", "42s": how long a run has been going, in a notice. */
export function noticeDuration(ms: number): string {
  if (ms >= 86400_000) return `${Math.floor(ms / 86400_000)}d${Math.floor((ms % 86400_000) / 3600_000)}h`;
  if (ms >= 3600_000) return `${Math.floor(ms / 3600_000)}h${Math.floor((ms % 3600_000) / 60_000)}m`;
  return `${Math.round(ms / 1000)}s`;
}

/** "Mon 7 Dec 2026" and "09:00 CET": the day and time of `t` in the plan's zone (windows.timezone, else UTC). */
export function dayAndTime(t: number, timeZone: string): { date: string; time: string } {
  const parts = new Intl.DateTimeFormat('en-GB', { timeZone, weekday: 'short', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' }).formatToParts(t);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return { date: `${get('weekday')} ${get('day')} ${get('month')} ${get('year')}`, time: `${get('hour')}:${get('minute')} ${zoneName(t, timeZone, get('timeZoneName'))}` };
}

/** The whole plan in one line: "canary 1% → 5% → 25%; full 100%". */
export function planSummary(plan: Plan): string {
  return plan.phases.map((p, i) => `${p.name} ${p.steps.map((_, j) => stepLabel(plan, i, j)).join(' → ')}`).join('; ');
}

export function noticeVars(plan: Plan, f: NoticeFacts): NoticeVars {
  const p = plan.phases[f.phase];
  const measured = f.checks.map((r) => {
    const c = p?.checks.find((x) => x.name === r.name);
    return `${r.name} ${fmt(r.value)}${c?.unit ?? ''}${c ? ` (${describeThreshold(c)})` : ''} ${r.verdict === 'pass' ? 'ok' : r.breached ? 'BREACH' : r.verdict}`;
  });
  // Before the first measurement (run.started, an announcement) the phase's checks are
  // configured but have no value yet: name them with their thresholds, never "no checks".
  const checks = measured.length ? measured : (p?.checks ?? []).map((c) => `${c.name} (${describeThreshold(c)})`);
  const anyBad = f.checks.some((r) => r.breached);
  const anyWarn = f.checks.some((r) => r.verdict !== 'pass');
  const rolling = f.status === 'rolling-back' || f.status === 'rolled-back';
  return {
    plan: plan.name,
    run: f.run,
    phase: p?.name ?? null,
    step: p && f.step >= 0 ? `${f.step + 1}/${p.steps.length}` : null,
    flags: (p?.flags.length ? p.flags : plan.flags).join(', '),
    percentage: f.percentage,
    previousPercentage: f.previousPercentage,
    nextPercentage: f.nextPercentage,
    nextAt: f.status === 'awaiting-approval' ? 'after approval' : f.nextAt !== undefined ? iso(f.nextAt) : null,
    targetPercentage: f.targetPercentage,
    steps: p ? p.steps.map((_, i) => stepLabel(plan, f.phase, i)).join(' → ') : null,
    status: anyBad || rolling ? 'red' : anyWarn || f.status === 'paused' ? 'yellow' : 'green',
    checks: checks.join('; ') || null,
    reason: f.reason ?? null,
    failed: f.failures?.join('; ') || null,
    command: f.status === 'awaiting-approval' ? `rollout approve ${f.run}` : f.status === 'paused' ? `rollout resume ${f.run} (or rollout rollback ${f.run} --reason …)` : null,
    duration: noticeDuration(Math.max(0, f.at - f.startedAt)),
    startedAt: iso(f.startedAt),
    now: iso(f.at),
    // When the run starts (a scheduled start, else its start): the announcement's [Date] at [Time].
    startsAt: iso(f.startsAt ?? f.startedAt),
    ...dayAndTime(f.startsAt ?? f.startedAt, plan.windows?.timezone ?? 'UTC'),
    endDate: f.endsAt !== undefined ? dayAndTime(f.endsAt, plan.windows?.timezone ?? 'UTC').date : null,
    lead: f.leadMs !== undefined ? (f.leadMs >= 1000 ? formatDuration(f.leadMs) : '0s') : null,
    summary: planSummary(plan),
    ...f.extra,
  };
}

/** The variables of a queued notice (actions saved before notices carried facts hold their words). */
export function noticeVarsOf(plan: Plan, a: Extract<Action, { kind: 'notify' }>): NoticeVars {
  return a.vars ?? (a.facts ? noticeVars(plan, a.facts) : {});
}
