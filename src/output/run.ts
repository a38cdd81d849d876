/** How a run is shown: the end-of-run summary and the JSON forms (the `status` view is output/live.ts). */
import { describeThreshold } from '../analysis/judge.js';
import { nextStep, stepLabel } from '../engine/steps.js';
import { FINAL_STATUSES, type RunState } from '../engine/types.js';
import type { Plan } from '../plan/model.js';
import { formatDuration } from '../util/duration.js';
import { redactDeep } from '../util/redact.js';
import { safeText } from '../util/terminal.js';
import { statusColor, style } from './style.js';

const iso = (t?: number) => (t === undefined ? null : new Date(t).toISOString());

export function runJson(plan: Plan | undefined, s: RunState, extra: Record<string, unknown> = {}) {
  const phase = plan?.phases[s.phase];
  const nxt = plan && !FINAL_STATUSES.includes(s.status) ? nextStep(plan, s) : null;
  return redactDeep({
    run: s.id,
    plan: s.plan.name,
    planFile: s.plan.file,
    status: s.status,
    reason: s.reason ?? null,
    waitingFor: s.waitingFor ?? null,
    phase: phase?.name ?? null,
    step: plan && s.step >= 0 ? stepLabel(plan, s.phase, s.step) : null,
    nextStep: plan && nxt ? { phase: plan.phases[nxt.phase]!.name, step: stepLabel(plan, nxt.phase, nxt.step), at: iso(s.holdUntil), ...(s.holdLeftMs !== undefined ? { holdLeftMs: s.holdLeftMs } : {}) } : null,
    flags: s.flags,
    frozen: s.frozen ?? [],
    /** Cohorts rolled back while the rest keep their percentage: who asked (or which check), when, why. */
    excluded: (s.excluded ?? []).map((x) => ({ kind: x.kind, name: x.name, reason: x.reason, at: iso(x.at), by: x.by ?? null, trigger: x.trigger, check: x.check ?? null })),
    checks: Object.fromEntries(
      Object.entries(s.checks).map(([n, r]) => {
        const check = plan?.phases.flatMap((p) => p.checks).find((c) => c.name === n);
        return [n, { value: r.value, baseline: r.baseline ?? null, verdict: r.verdict, breached: r.breached, threshold: check ? describeThreshold(check) : null, reason: r.reason, at: iso(r.at), noDataSince: iso(r.noDataSince), ...(r.inconclusive ? { inconclusive: true } : {}), ...(r.stats ? { stats: r.stats } : {}) }];
      }),
    ),
    approval: s.approval ? { ...s.approval, requestedAt: iso(s.approval.requestedAt), deadline: iso(s.approval.deadline), ...(s.approval.checklist ? { checklist: checklistJson(s.approval.checklist) } : {}) } : null,
    /** The checklist the run waits at (null otherwise): every item, ticked or not, with who and when. */
    checklist: s.approval?.checklist ? { key: s.approval.key, items: checklistJson(s.approval.checklist) } : null,
    rollback: s.rollback ? { ...s.rollback, startedAt: iso(s.rollback.startedAt), nextAt: iso(s.rollback.nextAt) } : null,
    /** An incomplete rollback: what failed and how to retry it (null otherwise). */
    rollbackIncomplete: s.status === 'rollback-incomplete' ? { failures: s.rollback?.failures ?? [], failed: s.rollback?.failed ?? [], retries: s.rollback?.retries ?? 0, retry: retryCommand(s) } : null,
    /** Pages (notify.escalation), oldest first: `open` ones are still escalating. */
    pages: (s.pages ?? []).map((p) => ({
      id: p.id,
      severity: p.severity,
      open: !p.ack && !p.closed,
      reason: p.reason,
      check: p.check ?? null,
      openedAt: iso(p.openedAt),
      paging: p.paged.at(-1)?.targets ?? [],
      paged: p.paged.map((x) => ({ level: x.level, targets: x.targets, at: iso(x.at), ...(x.repeat ? { repeat: true } : {}) })),
      deadline: iso(p.deadline),
      acknowledged: p.ack ? { by: p.ack.name, typedBy: p.ack.by ?? null, at: iso(p.ack.at), note: p.ack.note ?? null, via: p.ack.via } : null,
      closed: p.closed ? { at: iso(p.closed.at), why: p.closed.why } : null,
    })),
    /** A scheduled start: when it starts, when the announcement is due / went out and to whom (null: started at once). */
    schedule: s.schedule
      ? {
          startsAt: iso(s.schedule.at),
          scheduledAt: iso(s.schedule.scheduledAt),
          source: s.schedule.source,
          announceAt: iso(s.schedule.announceAt),
          announcedAt: iso(s.schedule.announcedAt),
          announcedLate: s.schedule.announcedLate ?? false,
          announcedTo: s.schedule.announcedTo ?? null,
          startedAt: iso(s.schedule.startedAt),
          estimatedEnd: iso(s.schedule.endsAt),
          cancelled: s.status === 'aborted' && s.schedule.startedAt === undefined,
        }
      : null,
    pendingActions: s.pending.map((a) => a.kind),
    startedAt: iso(s.startedAt),
    startedBy: s.startedBy ?? null,
    updatedAt: iso(s.updatedAt),
    finishedAt: iso(s.finishedAt),
    ...extra,
  });
}

export const checklistJson = (items: NonNullable<NonNullable<RunState['approval']>['checklist']>) =>
  items.map((i) => ({ id: i.id, text: i.text, by: i.by ?? null, confirmed: i.confirmed ? { name: i.confirmed.name, by: i.confirmed.by ?? null, at: iso(i.confirmed.at), note: i.confirmed.note ?? null } : null }));

export const retryCommand = (s: RunState) => `rollout rollback ${s.id} --reason "…"`;

export function summary(plan: Plan, s: RunState) {
  const c = statusColor(s.status);
  const lines = [`${style.bold(`run ${safeText(s.id)}`)}: ${c(s.status)}${s.reason ? ` — ${safeText(s.reason)}` : ''}`];
  const flags = Object.entries(s.flags);
  if (flags.length) lines.push(`flags: ${flags.map(([f, r]) => `${safeText(f)}=${r.enabled ? `${r.percentage}%` : 'off'}${s.frozen?.includes(f) ? ' (frozen)' : ''}`).join(', ')}`);
  if (s.rollback?.failures.length) lines.push(style.red(`rollback failures: ${safeText(s.rollback.failures.join('; '))}`));
  if (s.status === 'rollback-incomplete') lines.push(style.red(`rollback INCOMPLETE: the run keeps its flags; retry the failed steps with: ${retryCommand(s)}`));
  if (s.status === 'scheduled' && s.schedule)
    lines.push(`scheduled: starts ${new Date(s.schedule.at).toISOString()}${s.schedule.announceAt !== undefined ? `; announcement ${s.schedule.announcedAt !== undefined ? `sent ${new Date(s.schedule.announcedAt).toISOString()}` : `due ${new Date(s.schedule.announceAt).toISOString()}`}` : ''}; nothing is written to its flags until then`);
  if (s.finishedAt) lines.push(`took ${formatDuration(Math.max(0, s.finishedAt - s.startedAt))}`);
  return { ...runJson(plan, s), lines };
}

export interface DriverView {
  pid: number;
  host: string;
  worker?: string;
  leaseUntil?: number;
}

/** Who drives a run, in words: a worker or a process, and until when its lease runs. */
export function driverText(d: DriverView): string {
  return `${d.worker ? `worker ${d.worker} (pid ${d.pid} on ${d.host})` : `pid ${d.pid} on ${d.host}`}${d.leaseUntil ? `, lease until ${new Date(d.leaseUntil).toISOString().slice(11, 19)}Z` : ''}`;
}

/** An active run with no live driver does not move: say so wherever its status is shown. */
export function undriven(s: RunState, driver: DriverView | undefined): boolean {
  return !driver && (!['completed', 'rolled-back', 'aborted'].includes(s.status) || s.pending.length > 0) && s.status !== 'paused';
}
export const UNDRIVEN = 'nothing drives it: no live process or worker holds it';

