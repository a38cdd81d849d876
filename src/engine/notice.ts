/**
 * Notices: the `notify` action and the variables its templates are rendered with.
 */
import { describeThreshold } from '../analysis/judge.js';
import { currentPercentage, pctOf } from './changes.js';
import { fmt, iso, type Draft } from './draft.js';
import { nextStep, stepLabel } from './steps.js';

function vars(d: Draft, extra: Record<string, string | number | null> = {}): Record<string, string | number | null> {
  const s = d.s;
  const plan = d.plan;
  const p = plan.phases[s.phase];
  const nxt = s.status === 'completed' ? null : nextStep(plan, s);
  const pct = currentPercentage(d);
  const prev = s.step > 0 ? pctOf(plan, s.phase, s.step - 1) : null;
  const checks = Object.entries(s.checks).map(([n, r]) => {
    const c = p?.checks.find((x) => x.name === n);
    return `${n} ${fmt(r.value)}${c?.unit ?? ''}${c ? ` (${describeThreshold(c)})` : ''} ${r.verdict === 'pass' ? 'ok' : r.breached ? 'BREACH' : r.verdict}`;
  });
  const anyBad = Object.values(s.checks).some((r) => r.breached);
  const anyWarn = Object.values(s.checks).some((r) => r.verdict !== 'pass');
  const rolling = s.status === 'rolling-back' || s.status === 'rolled-back';
  const nextPct = rolling ? 0 : nxt ? pctOf(plan, nxt.phase, nxt.step) : null;
  const dur = d.now - s.startedAt;
  return {
    plan: plan.name,
    run: s.id,
    phase: p?.name ?? null,
    step: p && s.step >= 0 ? `${s.step + 1}/${p.steps.length}` : null,
    flags: (p?.flags.length ? p.flags : plan.flags).join(', '),
    percentage: pct ?? 0,
    previousPercentage: prev,
    nextPercentage: nextPct,
    nextAt: s.status === 'awaiting-approval' ? 'after approval' : s.holdUntil && nxt ? iso(s.holdUntil) : null,
    targetPercentage: p ? pctOf(plan, s.phase, p.steps.length - 1) : 100,
    steps: p ? p.steps.map((_, i) => stepLabel(plan, s.phase, i)).join(' → ') : null,
    status: anyBad || rolling ? 'red' : anyWarn || s.status === 'paused' ? 'yellow' : 'green',
    checks: checks.join('; ') || null,
    reason: s.reason ?? null,
    failed: s.rollback?.failures.join('; ') || null,
    command: s.status === 'awaiting-approval' ? `rollout approve ${s.id}` : s.status === 'paused' ? `rollout resume ${s.id} (or rollout rollback ${s.id} --reason …)` : null,
    duration: dur >= 86400_000 ? `${Math.floor(dur / 86400_000)}d${Math.floor((dur % 86400_000) / 3600_000)}h` : dur >= 3600_000 ? `${Math.floor(dur / 3600_000)}h${Math.floor((dur % 3600_000) / 60_000)}m` : `${Math.round(dur / 1000)}s`,
    startedAt: iso(s.startedAt),
    now: iso(d.now),
    ...extra,
  };
}

export function notify(d: Draft, event: string, severity: 'info' | 'warning' | 'critical', extra: Record<string, string | number | null> = {}, targets?: string[]) {
  if (!Object.keys(d.plan.notify.targets).length) return;
  d.enqueue({ kind: 'notify', event, severity, vars: vars(d, extra), ...(targets ? { targets } : {}) });
}
