/**
 * Gates: why the run does not advance. After the checks are judged, a step (or completion)
 * goes ahead only when every gate lets it through, in this order: a pending approval or checklist
 * (and its decision window), the step's hold, blocking checks, the next step's checklist, the
 * rollout windows, the step's weekday schedule, the next phase's `requires:`, and the next
 * step's approval gate. Each gate that stops the run says so in
 * `waitingFor` (and an event when that is news).
 */
import type { Check, Plan } from '../plan/model.js';
import { iso, type Draft } from './draft.js';
import { notify } from './notice.js';
import { startRollback } from './rollback.js';
import { holdForCohorts } from './cohorts.js';
import { activeChecks } from './schedule.js';
import { blocksStep } from './verdicts.js';
import { nextStep, stepLabel } from './steps.js';
import { finish, pause } from './transitions.js';
import type { Readings } from './types.js';
import { isOpenCached as isOpen, nextOpen } from './windows.js';
import { checklistFor, checklistKey, checklistWaiting, isChecklist, requestChecklist } from './checklist.js';
import { describeSchedule, isScheduled, stepOpensAt } from './calendar.js';

/**
 * The step the run may take now, or undefined when a gate holds it (or the run completed,
 * was paused, rolled back or aborted here). Call only for a running or awaiting-approval run.
 */
export function passGates(d: Draft, obs: Readings, verdictChanged: boolean): { phase: number; step: number } | undefined {
  const { s, now, plan } = d;
  // 2. Approval deadlines.
  if (s.status === 'awaiting-approval') {
    const a = s.approval!;
    if (isChecklist(a)) {
      s.waitingFor = checklistWaiting(plan, a);
      s.waiting = { kind: 'checklist', gate: a.key };
      return undefined;
    }
    if (a.deadline !== undefined && now >= a.deadline) {
      const gate = approvalFor(plan, a.phase, a.step);
      const why = `no decision within the approval window (deadline ${iso(a.deadline)})`;
      d.emit('approval.timeout', why, { key: a.key, onTimeout: gate?.onTimeout ?? 'pause' });
      s.approval = undefined;
      if (gate?.onTimeout === 'abort') finish(d, 'aborted', why);
      else if (gate?.onTimeout === 'rollback') startRollback(d, why, 'approval-timeout', plan.rollback.mode);
      else pause(d, `${why}; \`rollout approve\` still lets it go on`, { keepApproval: a });
    } else {
      s.waitingFor = approvalWaiting(plan, a);
      s.waiting = { kind: a.review ? 'review' : 'approval', gate: a.review ?? a.key, ...(a.deadline !== undefined ? { until: a.deadline } : {}) };
    }
    return undefined;
  }

  // 3. Holding?
  if (s.holdUntil !== undefined && now < s.holdUntil) {
    s.waitingFor = `hold until ${iso(s.holdUntil)}`;
    s.waiting = { kind: 'hold', until: s.holdUntil };
    return undefined;
  }

  // 4. Next step (or completion), if every gate lets it through.
  const nxt = nextStep(plan, s);
  // Every active check gates the step: the current phase's (leaving it) and the next one's
  // (entering it). Completing is gated the same way: "held healthy" means the checks pass.
  const blocking = activeChecks(plan, s).filter((c) => blocksStep(c, s.checks[c.name]));
  if (blocking.length) {
    const why = blocking.map((c) => `${c.name}: ${s.checks[c.name]?.reason ?? 'not measured'}`).join('; ');
    // Once per blocking streak (and again when a verdict changes), not every interval as the
    // values and "failing for" durations in the reason move.
    if (s.waiting?.kind !== 'checks' || verdictChanged) d.emit('step.blocked', `${nxt ? `not advancing to ${stepLabel(plan, nxt.phase, nxt.step)}` : 'not completing'}: ${why}`);
    s.waitingFor = `checks: ${why}`;
    s.waiting = { kind: 'checks', checks: blocking.map((c) => c.name) };
    return undefined;
  }
  if (!nxt) {
    // A cohort still rolled back: the plan's end state ("everybody") is not reached.
    if (holdForCohorts(d)) return undefined;
    finish(d, 'completed', 'every phase reached its final step and held healthy');
    return undefined;
  }
  const target = plan.phases[nxt.phase]!;
  // A checklist before this step is asked as soon as the step is next (people tick items while a
  // rollout window is still closed); every item confirmed, then the window, the schedule,
  // `requires:` and the go/no-go (if any) at the same point.
  const list = checklistFor(plan, nxt.phase, nxt.step);
  const listKey = checklistKey(plan, nxt.phase, nxt.step);
  if (list && listKey && !s.approved.includes(listKey)) {
    requestChecklist(d, nxt.phase, nxt.step, listKey, list);
    return undefined;
  }
  if (plan.windows && !isOpen(plan.windows, now)) {
    const open = nextOpen(plan.windows, now);
    const w = `rollout window (opens ${open ? iso(open) : 'not within 60 days'})`;
    if (s.waiting?.kind !== 'window' || s.waiting.until !== open) d.emit('window.closed', `outside the rollout window; next step waits until ${open ? iso(open) : 'never (check windows:)'}`);
    s.waitingFor = w;
    s.waiting = { kind: 'window', ...(open !== undefined ? { until: open } : {}) };
    return undefined;
  }
  // A weekday schedule on the step ("Monday: 50%"): wait for its day and time.
  const st = target.steps[nxt.step]!;
  if (isScheduled(st)) {
    const open = stepOpensAt(plan, st, now);
    if (open !== now) {
      const w = `schedule: ${stepLabel(plan, nxt.phase, nxt.step)} on ${describeSchedule(st)} (${open ? iso(open) : 'not within 60 days'})`;
      if (s.waiting?.kind !== 'schedule' || s.waiting.until !== open) d.emit('step.scheduled', `${target.name} ${stepLabel(plan, nxt.phase, nxt.step)} is scheduled for ${describeSchedule(st)}; waiting until ${open ? iso(open) : 'never (check day:/at: and windows:)'}`, { at: open ?? null });
      s.waitingFor = w;
      s.waiting = { kind: 'schedule', ...(open !== undefined ? { until: open } : {}) };
      return undefined;
    }
  }
  if (nxt.step === 0) {
    for (const r of target.requires) {
      const need = target.requiresAtLeast?.[r] ?? 100;
      const seen = obs.flags?.[r];
      const own = s.flags[r];
      const on = seen ? seen.exists && seen.enabled && seen.percentage >= need : own ? own.enabled && own.percentage >= need : false;
      if (!on) {
        const at = seen ? (seen.exists ? (seen.enabled ? `${seen.percentage}%` : 'off') : 'missing') : own ? (own.enabled ? `${own.percentage}%` : 'off') : 'unknown';
        pause(d, `phase "${target.name}" requires ${r} ${need >= 100 ? 'fully on' : `on at ${need}% or more`}, but it is ${at}. Roll it out first, then \`rollout resume\``);
        return undefined;
      }
    }
  }
  const gate = approvalFor(plan, nxt.phase, nxt.step);
  const key = gateKey(plan, nxt.phase, nxt.step);
  if (gate && key && !s.approved.includes(key)) {
    s.status = 'awaiting-approval';
    s.approval = {
      key,
      phase: nxt.phase,
      step: nxt.step,
      requestedAt: now,
      ...(gate.timeoutMs !== undefined ? { deadline: now + gate.timeoutMs } : {}),
      ...(gate.message ? { message: gate.message } : {}),
      ...(gate.approvers?.length ? { approvers: gate.approvers, quorum: gate.quorum ?? gate.approvers.length, signed: [] } : {}),
    };
    s.waitingFor = approvalWaiting(plan, s.approval);
    s.waiting = { kind: 'approval', gate: key, ...(s.approval.deadline !== undefined ? { until: s.approval.deadline } : {}) };
    const what = nxt.step === 0 && target.approval ? `phase ${target.name}` : `step ${stepLabel(plan, nxt.phase, nxt.step)}`;
    const signers = gate.approvers?.length ? ` — sign-off by ${gate.quorum ?? gate.approvers.length} of ${gate.approvers.join(', ')} (\`rollout approve --as <name>\`)` : '';
    d.emit('approval.requested', `go/no-go: ${gate.message ?? `approve ${what}`}${signers}${gate.timeoutMs ? ` (decision window until ${iso(now + gate.timeoutMs)})` : ''}`, { key, approvers: gate.approvers, quorum: s.approval.quorum });
    notify(d, 'approval.requested', 'warning');
    return undefined;
  }
  return nxt;
}

/** "approval for phase X" — with a named quorum, who has signed and who has not. */
export function approvalWaiting(plan: Plan, a: NonNullable<Draft['s']['approval']>): string {
  if (isChecklist(a)) return checklistWaiting(plan, a);
  if (a.review) return `review: ${a.review} (\`rollout approve\`)`;
  const what = a.key === `p${a.phase}` ? `phase ${plan.phases[a.phase]!.name}` : `step ${stepLabel(plan, a.phase, a.step)}`;
  if (!a.approvers?.length) return `approval for ${what}`;
  const signed = (a.signed ?? []).map((x) => x.name);
  const missing = a.approvers.filter((n) => !signed.includes(n));
  return `approval for ${what}: ${signed.length} of ${a.quorum ?? a.approvers.length} sign-offs (signed: ${signed.join(', ') || 'nobody yet'}; not signed: ${missing.join(', ') || 'nobody'})`;
}

export function approvalFor(plan: Plan, phase: number, step: number) {
  const p = plan.phases[phase];
  return p?.steps[step]?.approval ?? (step === 0 ? p?.approval : undefined);
}

export function gateKey(plan: Plan, phase: number, step: number): string | undefined {
  const p = plan.phases[phase];
  if (p?.steps[step]?.approval) return `p${phase}s${step}`;
  if (step === 0 && p?.approval) return `p${phase}`;
  return undefined;
}
