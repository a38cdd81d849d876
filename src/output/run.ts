/** How a run is shown: the end-of-run summary, the `status` view, and their JSON forms. */
import { describeThreshold } from '../analysis/judge.js';
import { nextStep, stepLabel } from '../engine/steps.js';
import { FINAL_STATUSES, type RunState } from '../engine/types.js';
import type { Plan } from '../plan/model.js';
import { formatDuration } from '../util/duration.js';
import { redactDeep } from '../util/redact.js';
import { safeText } from '../util/terminal.js';
import { statusColor, style, tableStyle } from './style.js';

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
    checks: Object.fromEntries(
      Object.entries(s.checks).map(([n, r]) => {
        const check = plan?.phases.flatMap((p) => p.checks).find((c) => c.name === n);
        return [n, { value: r.value, baseline: r.baseline ?? null, verdict: r.verdict, breached: r.breached, threshold: check ? describeThreshold(check) : null, reason: r.reason, at: iso(r.at), noDataSince: iso(r.noDataSince), ...(r.inconclusive ? { inconclusive: true } : {}), ...(r.stats ? { stats: r.stats } : {}) }];
      }),
    ),
    approval: s.approval ? { ...s.approval, requestedAt: iso(s.approval.requestedAt), deadline: iso(s.approval.deadline) } : null,
    rollback: s.rollback ? { ...s.rollback, startedAt: iso(s.rollback.startedAt), nextAt: iso(s.rollback.nextAt) } : null,
    /** An incomplete rollback: what failed and how to retry it (null otherwise). */
    rollbackIncomplete: s.status === 'rollback-incomplete' ? { failures: s.rollback?.failures ?? [], failed: s.rollback?.failed ?? [], retries: s.rollback?.retries ?? 0, retry: retryCommand(s) } : null,
    pendingActions: s.pending.map((a) => a.kind),
    startedAt: iso(s.startedAt),
    startedBy: s.startedBy ?? null,
    updatedAt: iso(s.updatedAt),
    finishedAt: iso(s.finishedAt),
    ...extra,
  });
}

/** Who has signed a named-approver gate and who has not (empty for an ordinary gate). */
function signoffs(a: NonNullable<RunState['approval']>): string {
  if (!a.approvers?.length) return '';
  const signed = a.signed ?? [];
  const missing = a.approvers.filter((n) => !signed.some((x) => x.name === n));
  const lines = signed.map((x) => `  ✓ ${safeText(x.name)}${x.by && x.by !== x.name ? ` (by ${safeText(x.by)})` : ''} at ${new Date(x.at).toISOString()}`);
  for (const n of missing) lines.push(`  · ${safeText(n)}: not signed`);
  return `\nsign-offs: ${signed.length} of ${a.quorum ?? a.approvers.length} needed\n${lines.join('\n')}`;
}

export const retryCommand = (s: RunState) => `rollout rollback ${s.id} --reason "…"`;

export function summary(plan: Plan, s: RunState) {
  const c = statusColor(s.status);
  const lines = [`${style.bold(`run ${safeText(s.id)}`)}: ${c(s.status)}${s.reason ? ` — ${safeText(s.reason)}` : ''}`];
  const flags = Object.entries(s.flags);
  if (flags.length) lines.push(`flags: ${flags.map(([f, r]) => `${safeText(f)}=${r.enabled ? `${r.percentage}%` : 'off'}${s.frozen?.includes(f) ? ' (frozen)' : ''}`).join(', ')}`);
  if (s.rollback?.failures.length) lines.push(style.red(`rollback failures: ${safeText(s.rollback.failures.join('; '))}`));
  if (s.status === 'rollback-incomplete') lines.push(style.red(`rollback INCOMPLETE: the run keeps its flags; retry the failed steps with: ${retryCommand(s)}`));
  if (s.finishedAt) lines.push(`took ${formatDuration(s.finishedAt - s.startedAt)}`);
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

export async function statusTable(plan: Plan | undefined, s: RunState, driver: DriverView | undefined): Promise<string> {
  const { default: Table } = await import('cli-table3');
  const j = runJson(plan, s);
  const t = new Table({ style: tableStyle() });
  const c = statusColor(s.status);
  const flagText =
    Object.entries(s.flags)
      .map(([f, r]) => `${safeText(f)}: ${r.enabled ? `${r.percentage}%` : 'off'}${r.rings ? ` (${Object.entries(r.rings).map(([k, v]) => `${safeText(k)} ${v}%`).join(', ')})` : ''}${s.frozen?.includes(f) ? ' — frozen' : ''}`)
      .join('\n') || '(none written yet)';
  const rows: Array<[string, string]> = [
    ['run', safeText(s.id)],
    ['plan', `${safeText(s.plan.name)} (${safeText(s.plan.file)})`],
    ['status', c(s.status) + (undriven(s, driver) ? style.yellow(` — ${UNDRIVEN}`) : '') + (s.reason ? `\n${safeText(s.reason)}` : '')],
    ['phase', j.phase ? `${safeText(j.phase)}${j.step ? ` at ${safeText(j.step)}` : ' (not started)'}${plan ? ` — phase ${s.phase + 1} of ${plan.phases.length}` : ''}` : '-'],
    ['flags', flagText],
    [
      'next step',
      j.nextStep
        ? `${safeText(j.nextStep.phase)} ${safeText(j.nextStep.step)}${s.holdUntil ? ` at ${j.nextStep.at} (in ${formatDuration(Math.max(0, s.holdUntil - Date.now()))})` : ''}${s.holdLeftMs !== undefined ? ` after ${formatDuration(s.holdLeftMs)} more of the hold (paused: it counts only while checks run and pass)` : ''}`
        : s.status === 'completed'
          ? 'none: done'
          : '-',
    ],
    ['waiting for', safeText(s.waitingFor) ?? '-'],
    ['driven by', driver ? safeText(driverText(driver)) : ['completed', 'rolled-back', 'aborted'].includes(s.status) ? '-' : s.status === 'rollback-incomplete' ? style.red(`nothing: waiting for a retry (${retryCommand(s)})`) : style.yellow('no live process or worker: `rollout resume`, `rollout advance` or a `rollout worker` picks it up')],
    ['started', `${j.startedAt}${s.finishedAt ? `, finished ${j.finishedAt}` : ''}`],
  ];
  if (s.approval) rows.push(['approval', `${safeText(s.approval.message ?? s.approval.key)}${s.approval.deadline ? ` (decide by ${j.approval?.deadline})` : ''}${signoffs(s.approval)}`]);
  if (s.rollback) rows.push(['rollback', `${s.rollback.mode}, ${s.rollback.trigger}: ${safeText(s.rollback.reason)}${s.rollback.by ? ` (by ${safeText(s.rollback.by)})` : ''}${s.rollback.retries ? `, retried ${s.rollback.retries}×` : ''}${s.rollback.failures.length ? `\nfailures: ${safeText(s.rollback.failures.join('; '))}` : ''}`]);
  if (s.status === 'rollback-incomplete') rows.push(['rollback incomplete', style.red(`failed: ${safeText(s.rollback?.failures.join('; ') ?? '')}\nretry with: ${retryCommand(s)}\n(or rollout resume / rollout advance ${s.id})`)]);
  for (const r of rows) t.push({ [style.bold(r[0])]: r[1] } as never);
  let out = t.toString();
  const checks = Object.entries(j.checks);
  if (checks.length) {
    const ct = new Table({ head: ['check', 'value', 'baseline', 'threshold', 'verdict'], style: tableStyle(), wordWrap: true, colWidths: [null, null, null, 36, 40] as never });
    for (const [n, r] of checks) {
      const verdict = r.breached ? style.red('BREACH') : r.verdict === 'pass' ? style.green('pass') : r.verdict === 'fail' ? style.yellow('failing') : style.yellow(`${'inconclusive' in r && r.inconclusive ? 'inconclusive' : 'no data'}${r.noDataSince ? ` since ${r.noDataSince.slice(11, 19)}` : ''}`);
      // A statistical check's value is its effect vs control, in %.
      const value = r.value === null ? 'no data' : 'stats' in r && r.stats ? `${r.value >= 0 ? '+' : ''}${round(r.value)}% vs control` : String(round(r.value));
      ct.push([safeText(n), value, r.baseline === null ? '-' : String(round(r.baseline)), safeText(r.threshold) ?? '-', `${verdict}\n${safeText(r.reason)}`]);
    }
    out += '\n' + ct.toString();
  }
  return out;
}

const round = (n: number) => Math.round(n * 10000) / 10000;
