/**
 * The engine: pure decisions. Given the plan, the run's state, what was observed and the
 * time, it returns the new state (with any side effects queued in `pending`) and the events
 * that explain each decision. No I/O, no timers, no Date.now(): the runner supplies `now`.
 */
import type { FlagChange } from '../adapters/types.js';
import { describeThreshold, judge, type CheckRecord } from '../analysis/judge.js';
import type { Check, Plan } from '../plan/model.js';
import { isOpenCached as isOpen, nextOpen } from './windows.js';
import { nextStep, stepLabel } from './steps.js';
import { formatDuration } from '../util/duration.js';

export { nextStep, stepLabel };
import {
  FINAL_STATUSES,
  STATE_SCHEMA_VERSION,
  type Action,
  type ActionInput,
  type Control,
  type Decision,
  type Incident,
  type Observations,
  type Outcome,
  type RunEvent,
  type RunState,
} from './types.js';

const iso = (t: number) => new Date(t).toISOString();

/**
 * Copy-on-decide: the engine never mutates its input. Decisions replace nested records
 * (checks, flags, approval) rather than editing them, so copying the containers is enough —
 * and it is what keeps a multi-day simulation (tens of thousands of ticks) fast.
 */
function cloneState(s: RunState): RunState {
  return {
    ...s,
    plan: { ...s.plan },
    approved: [...s.approved],
    flags: { ...s.flags },
    checks: { ...s.checks },
    pending: [...s.pending],
    ...(s.approval ? { approval: { ...s.approval } } : {}),
    ...(s.rollback ? { rollback: { ...s.rollback, failures: [...s.rollback.failures] } } : {}),
    ...(s.reportsAt ? { reportsAt: { ...s.reportsAt } } : {}),
  };
}

class Draft {
  readonly s: RunState;
  readonly events: RunEvent[] = [];
  constructor(
    state: RunState,
    readonly plan: Plan,
    readonly now: number,
  ) {
    this.s = cloneState(state);
    this.s.updatedAt = now;
  }
  emit(type: string, msg: string, data?: Record<string, unknown>) {
    this.events.push({ seq: this.s.seq++, at: this.now, type, msg, ...(data ? { data } : {}) });
  }
  enqueue(a: ActionInput) {
    const action = { ...a, id: this.s.nextActionId++ } as Action;
    this.s.pending.push(action);
    return action;
  }
  /** Move a queued action to the front: it runs before everything already pending. */
  first(action: Action) {
    this.s.pending = [action, ...this.s.pending.filter((a) => a !== action)];
    return action;
  }
  done(): Decision {
    return { state: this.s, events: this.events };
  }
}

export function createRun(plan: Plan, id: string, now: number): Decision {
  const state: RunState = {
    schema: STATE_SCHEMA_VERSION,
    id,
    plan: { name: plan.name, file: plan.file, hash: plan.hash },
    status: 'running',
    phase: 0,
    step: -1,
    approved: [],
    flags: {},
    checks: {},
    pending: [],
    startedAt: now,
    updatedAt: now,
    seq: 1,
    nextActionId: 1,
  };
  const d = new Draft(state, plan, now);
  d.emit('run.started', `run ${id} of plan ${plan.name} started: ${plan.phases.length} phase(s), flags ${plan.flags.join(', ')}`, {
    planHash: plan.hash,
    phases: plan.phases.map((p) => p.name),
  });
  notify(d, 'run.started', 'info');
  return d.done();
}

// ——— queries the runner uses ———

/** Checks to sample now: the current phase's and, at a phase boundary, the next phase's. */
export function activeChecks(plan: Plan, s: RunState): Check[] {
  if (!['running', 'paused', 'awaiting-approval'].includes(s.status)) return [];
  const out = new Map<string, Check>();
  const cur = plan.phases[s.phase];
  if (cur) for (const c of cur.checks) out.set(c.name, c);
  const nxt = nextStep(plan, s);
  if (nxt && nxt.phase !== s.phase) for (const c of plan.phases[nxt.phase]!.checks) if (!out.has(c.name)) out.set(c.name, c);
  return [...out.values()];
}

/** Flags whose backend state the engine needs (the next phase's `requires:`). */
export function flagsToRead(plan: Plan, s: RunState): string[] {
  if (s.status !== 'running') return [];
  const nxt = nextStep(plan, s);
  return nxt && nxt.step === 0 ? plan.phases[nxt.phase]!.requires : [];
}

/** When the runner should call tick() next (epoch ms), or undefined when the run is over. */
export function nextWake(plan: Plan, s: RunState, now: number): number | undefined {
  if (s.pending.length) return now;
  if (FINAL_STATUSES.includes(s.status)) return undefined;
  if (s.status === 'rolling-back') return s.rollback?.nextAt !== undefined ? Math.max(now, s.rollback.nextAt) : now;
  if (s.status === 'running' && (s.lastTickAt === undefined || (s.holdUntil !== undefined && s.holdUntil <= now && s.lastTickAt < s.holdUntil))) return now;
  // Checks are re-judged every interval, counted from the last judgment (not from whenever we ask).
  const candidates = [Math.max(now, (s.lastTickAt ?? now) + plan.intervalMs)];
  if (s.holdUntil !== undefined && s.holdUntil > now) candidates.push(s.holdUntil);
  // A decision window matters only while the run awaits the decision (a paused run keeps its gate).
  if (s.status === 'awaiting-approval' && s.approval?.deadline !== undefined) candidates.push(Math.max(now, s.approval.deadline));
  if (s.status === 'running' && plan.windows && (s.holdUntil ?? 0) <= now) {
    const open = nextOpen(plan.windows, now);
    if (open !== undefined && open > now) candidates.push(open);
  }
  // A report whose clock has not started (the run just entered its phase) is due at once, so
  // its clock starts now and not at the next judgment (which a simulation may skip ahead to).
  (plan.notify.reports ?? []).forEach((r, i) => {
    if (!reportActive(plan, s, i)) return;
    const at = s.reportsAt?.[i];
    candidates.push(at === undefined ? now : Math.max(now, at + r.everyMs));
  });
  return Math.min(...candidates);
}

export function stepChanges(plan: Plan, phaseIdx: number, stepIdx: number): FlagChange[] {
  const p = plan.phases[phaseIdx]!;
  const own = p.steps[stepIdx]!;
  // A step with only `set:` does not move the phase's flags: they stay where the last
  // percent/rings step of this phase put them (none yet: they are not written).
  let src = stepIdx;
  while (src >= 0 && p.steps[src]!.percent === undefined && !p.steps[src]!.rings) src--;
  const st = src >= 0 ? p.steps[src]! : own;
  const phaseFlags = src >= 0 ? p.flags : [];
  const everyoneElse = Object.entries(plan.rings).find(([, r]) => !r.users?.length && !r.segments?.length)?.[0];
  const rings = st.rings ? Object.fromEntries(Object.entries(st.rings).filter(([n]) => n !== everyoneElse)) : undefined;
  const percentage = st.percent ?? (st.rings && everyoneElse ? (st.rings[everyoneElse] ?? 0) : 0);
  const allow = Boolean(p.users?.length || p.segments?.length);
  const changes: FlagChange[] = phaseFlags.map((flag) => ({
    flag,
    enabled: percentage > 0 || allow || Object.values(rings ?? {}).some((v) => v > 0),
    percentage,
    ...(rings && Object.keys(rings).length ? { rings } : {}),
    ...(p.users?.length ? { users: p.users } : {}),
    ...(p.segments?.length ? { segments: p.segments } : {}),
    ...(p.stickiness ? { stickiness: p.stickiness } : {}),
  }));
  for (const [flag, v] of Object.entries(own.set)) {
    const pct = v === true ? 100 : v === false ? 0 : v;
    changes.push({ flag, enabled: pct > 0, percentage: pct });
  }
  return changes;
}

// ——— decisions ———

export function tick(plan: Plan, state: RunState, obs: Observations, now: number): Decision {
  const d = new Draft(state, plan, now);
  const s = d.s;
  if (s.pending.length || FINAL_STATUSES.includes(s.status)) return d.done();
  s.lastTickAt = now;

  if (s.status === 'rolling-back') {
    progressRollback(d);
    return d.done();
  }

  // 1. Judge every active check; act on sustained breaches and no-data policies.
  const checks = activeChecks(plan, s);
  let verdictChanged = false;
  for (const c of checks) {
    const prev = s.checks[c.name];
    const rec: CheckRecord & { actedOn?: boolean } = judge(c, obs.samples[c.name], prev, now);
    if (prev && (prev as { actedOn?: boolean }).actedOn && rec.verdict === prev.verdict && (rec.failingSince ?? rec.noDataSince) === (prev.failingSince ?? prev.noDataSince))
      rec.actedOn = true;
    s.checks[c.name] = rec;
    if (!prev || prev.verdict !== rec.verdict || rec.breached !== prev.breached) {
      verdictChanged = true;
      d.emit('check.changed', `check ${c.name}: ${rec.verdict}${rec.breached ? ' (BREACH)' : ''} — ${rec.reason}`, { check: c.name, value: rec.value, baseline: rec.baseline, verdict: rec.verdict, breached: rec.breached });
    }
  }
  for (const name of Object.keys(s.checks)) if (!checks.some((c) => c.name === name)) delete s.checks[name];
  sendReports(d);
  for (const c of checks) {
    if (FINAL_STATUSES.includes(s.status) || (s.status as string) === 'rolling-back') break;
    const rec = s.checks[c.name] as CheckRecord & { actedOn?: boolean };
    if (rec.actedOn) continue;
    if (rec.breached) {
      const why = `check "${c.name}" breached (${c.tier}): ${rec.reason}`;
      d.emit('breach.detected', why, { check: c.name, tier: c.tier, action: c.action, value: rec.value, threshold: describeThreshold(c) });
      rec.actedOn = true;
      if (c.action === 'rollback') startRollback(d, why, 'check', plan.rollback.mode, c.rollbackFlags);
      else if (c.action === 'pause' && (s.status === 'running' || s.status === 'awaiting-approval')) {
        pause(d, `${why}. Investigate, then \`rollout resume\` or \`rollout rollback\``, s.approval ? { keepApproval: s.approval } : {});
        if (c.freeze) freeze(d, true);
      }
      else if (c.action === 'notify') notify(d, 'breach.detected', c.tier === 'critical' ? 'critical' : 'warning', { reason: why, action: 'notify' });
      if (c.action !== 'notify' && c.action !== 'pause') continue;
      if (c.action === 'pause' && s.status === 'paused') notify(d, 'breach.detected', 'warning', { reason: why, action: 'pause' });
    } else if (rec.verdict === 'no-data') {
      const since = rec.noDataSince ?? now;
      const what = `check "${c.name}" has no data (${rec.reason})`;
      if (c.noData === 'rollback') {
        rec.actedOn = true;
        startRollback(d, `${what}; its noData policy is rollback`, 'no-data', plan.rollback.mode);
      } else if (s.status === 'running' && (c.noData === 'pause' || (c.noData === 'hold' && now - since >= c.noDataTimeoutMs))) {
        rec.actedOn = true;
        pause(d, `${what} for ${Math.round((now - since) / 1000)}s; not advancing without data. Fix the provider, then \`rollout resume\``);
      }
    }
  }
  if (s.status !== 'running' && s.status !== 'awaiting-approval') return d.done();

  // 2. Approval deadlines.
  if (s.status === 'awaiting-approval') {
    const a = s.approval!;
    if (a.deadline !== undefined && now >= a.deadline) {
      const gate = approvalFor(plan, a.phase, a.step);
      const why = `no decision within the approval window (deadline ${iso(a.deadline)})`;
      d.emit('approval.timeout', why, { key: a.key, onTimeout: gate?.onTimeout ?? 'pause' });
      s.approval = undefined;
      if (gate?.onTimeout === 'abort') finish(d, 'aborted', why);
      else if (gate?.onTimeout === 'rollback') startRollback(d, why, 'approval-timeout', plan.rollback.mode);
      else pause(d, `${why}; \`rollout approve\` still lets it go on`, { keepApproval: a });
    } else s.waitingFor = `approval for ${a.key === `p${a.phase}` ? `phase ${plan.phases[a.phase]!.name}` : `step ${stepLabel(plan, a.phase, a.step)}`}`;
    return d.done();
  }

  // 3. Holding?
  if (s.holdUntil !== undefined && now < s.holdUntil) {
    s.waitingFor = `hold until ${iso(s.holdUntil)}`;
    return d.done();
  }

  // 4. Next step (or completion), if every gate lets it through.
  const nxt = nextStep(plan, s);
  // Every active check gates the step: the current phase's (leaving it) and the next one's
  // (entering it). Completing is gated the same way: "held healthy" means the checks pass.
  const blocking = activeChecks(plan, s).filter((c) => {
    const r = s.checks[c.name];
    return !r || (r.verdict !== 'pass' && !(r.verdict === 'no-data' && c.noData === 'pass'));
  });
  if (blocking.length) {
    const why = blocking.map((c) => `${c.name}: ${s.checks[c.name]?.reason ?? 'not measured'}`).join('; ');
    // Once per blocking streak (and again when a verdict changes), not every interval as the
    // values and "failing for" durations in the reason move.
    if (!s.waitingFor?.startsWith('checks: ') || verdictChanged) d.emit('step.blocked', `${nxt ? `not advancing to ${stepLabel(plan, nxt.phase, nxt.step)}` : 'not completing'}: ${why}`);
    s.waitingFor = `checks: ${why}`;
    return d.done();
  }
  if (!nxt) {
    finish(d, 'completed', 'every phase reached its final step and held healthy');
    return d.done();
  }
  const target = plan.phases[nxt.phase]!;
  if (plan.windows && !isOpen(plan.windows, now)) {
    const open = nextOpen(plan.windows, now);
    const w = `rollout window (opens ${open ? iso(open) : 'not within 60 days'})`;
    if (s.waitingFor !== w) d.emit('window.closed', `outside the rollout window; next step waits until ${open ? iso(open) : 'never (check windows:)'}`);
    s.waitingFor = w;
    return d.done();
  }
  if (nxt.step === 0) {
    for (const r of target.requires) {
      const seen = obs.flags?.[r];
      const own = s.flags[r];
      const on = seen ? seen.exists && seen.enabled && seen.percentage >= 100 : own ? own.enabled && own.percentage >= 100 : false;
      if (!on) {
        const at = seen ? (seen.exists ? (seen.enabled ? `${seen.percentage}%` : 'off') : 'missing') : own ? `${own.percentage}%` : 'unknown';
        pause(d, `phase "${target.name}" requires ${r} fully on, but it is ${at}. Roll it out first, then \`rollout resume\``);
        return d.done();
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
    };
    s.waitingFor = `approval for ${nxt.step === 0 && target.approval ? `phase ${target.name}` : `step ${stepLabel(plan, nxt.phase, nxt.step)}`}`;
    d.emit('approval.requested', `go/no-go: ${gate.message ?? `approve ${s.waitingFor.replace('approval for ', '')}`}${gate.timeoutMs ? ` (decision window until ${iso(now + gate.timeoutMs)})` : ''}`, { key, approvers: gate.approvers });
    notify(d, 'approval.requested', 'warning');
    return d.done();
  }
  const changes = stepChanges(plan, nxt.phase, nxt.step);
  d.enqueue({ kind: 'apply-flags', purpose: 'step', changes, phase: nxt.phase, step: nxt.step });
  d.emit('step.intent', `applying ${target.name} ${stepLabel(plan, nxt.phase, nxt.step)}: checks pass (${target.checks.map((c) => `${c.name}=${fmt(s.checks[c.name]?.value)}`).join(', ') || 'no checks'})`, {
    phase: nxt.phase,
    step: nxt.step,
    changes,
  });
  s.waitingFor = `applying ${stepLabel(plan, nxt.phase, nxt.step)}`;
  return d.done();
}

export function complete(plan: Plan, state: RunState, actionId: number, outcome: Outcome, now: number): Decision {
  const d = new Draft(state, plan, now);
  const s = d.s;
  const idx = s.pending.findIndex((a) => a.id === actionId);
  if (idx < 0) return d.done();
  const [a] = s.pending.splice(idx, 1) as [Action];
  const rb = s.rollback;
  switch (a.kind) {
    case 'apply-flags': {
      if (outcome.ok) for (const c of a.changes) s.flags[c.flag] = { enabled: c.enabled, percentage: c.enabled ? (c.percentage ?? 100) : 0, ...(c.rings ? { rings: c.rings } : {}) };
      if (a.purpose === 'step') {
        const label = stepLabel(plan, a.phase!, a.step!);
        if (!outcome.ok) {
          d.emit('step.failed', `could not apply ${plan.phases[a.phase!]!.name} ${label}: ${outcome.detail}`, { phase: a.phase, step: a.step, readBack: outcome.readBack });
          if (s.status === 'running') pause(d, `flag backend failed while applying ${label}: ${outcome.detail}. Fix the backend, then \`rollout resume\` retries this step`);
          break;
        }
        const phaseChanged = a.phase !== s.phase || s.step < 0;
        // promote --full covers the phase it was given in, not the next one.
        if (s.promoteFull && a.phase !== s.phase) s.promoteFull = false;
        s.phase = a.phase!;
        s.step = a.step!;
        s.stepAppliedAt = now;
        const st = plan.phases[s.phase]!.steps[s.step]!;
        const lastOfPhase = s.step === plan.phases[s.phase]!.steps.length - 1;
        s.holdUntil = s.promoteFull ? now : now + st.holdMs;
        if (s.promoteFull && lastOfPhase) s.promoteFull = false;
        if (phaseChanged) d.emit('phase.started', `phase ${plan.phases[s.phase]!.name} started`, { phase: s.phase });
        d.emit('step.applied', `${plan.phases[s.phase]!.name}: ${label} applied; holding ${Math.round((s.holdUntil - now) / 1000)}s until ${iso(s.holdUntil)}`, {
          phase: s.phase,
          step: s.step,
          changes: a.changes,
          holdUntil: s.holdUntil,
        });
        if (s.status === 'running') s.waitingFor = `hold until ${iso(s.holdUntil)}`;
        notify(d, 'step.applied', 'info');
      } else if (a.purpose === 'partial') {
        const to = a.changes[0]?.percentage ?? 0;
        if (outcome.ok) d.emit('rollback.partial-done', `partial rollback: ${a.changes.map((c) => c.flag).join(', ')} at ${to}%`, { to });
        else {
          d.emit('rollback.partial-failed', `partial rollback to ${to}% FAILED: ${outcome.detail}`, { to, readBack: outcome.readBack });
          if (s.status === 'paused') s.reason = `partial rollback to ${to}% FAILED (${outcome.detail}); fix the backend and retry, or \`rollout rollback\` to turn the flags off`;
        }
      } else {
        if (!outcome.ok) rb?.failures.push(`flag write failed: ${outcome.detail}`);
        if (rb && rb.mode === 'gradual' && rb.stage < plan.rollback.steps.length) {
          const st = plan.rollback.steps[rb.stage]!;
          rb.stage++;
          rb.nextAt = now + st.waitMs;
          d.emit(outcome.ok ? 'rollback.step' : 'rollback.step-failed', `rollback: flags to ${st.percent}%${outcome.ok ? '' : ` FAILED: ${outcome.detail}`}${st.waitMs ? `; next in ${Math.round(st.waitMs / 1000)}s` : ''}`, { percent: st.percent });
        } else {
          if (rb) rb.stage = plan.rollback.steps.length;
          d.emit(outcome.ok ? 'rollback.flags-off' : 'rollback.flags-failed', outcome.ok ? `rollback: flags off (${a.changes.map((c) => c.flag).join(', ')})` : `rollback: turning flags off FAILED: ${outcome.detail}`, { readBack: outcome.readBack });
        }
      }
      break;
    }
    case 'run-command':
      d.emit(outcome.ok ? 'command.finished' : 'command.failed', `${a.purpose} command "${a.command.name}": ${outcome.detail}`, { argv: a.command.argv, output: outcome.output });
      if (!outcome.ok && rb) rb.failures.push(`${a.command.name}: ${outcome.detail}`);
      break;
    case 'health-check':
      if (rb) rb.healthy = outcome.ok;
      d.emit(outcome.ok ? 'health.ok' : 'health.failed', `health check after rollback: ${outcome.detail}`, { output: outcome.output });
      if (!outcome.ok && rb) rb.failures.push(`health check failed: ${outcome.detail}`);
      break;
    case 'notify':
      d.emit(outcome.ok ? 'notify.sent' : 'notify.failed', `notice ${a.event}: ${outcome.detail}`);
      break;
    case 'freeze-flags': {
      const verb = a.frozen ? 'freeze' : 'unfreeze';
      d.emit(outcome.ok ? (a.frozen ? 'flags.frozen' : 'flags.unfrozen') : 'freeze.failed', `${verb} ${a.flags.join(', ')}: ${outcome.detail}`, { flags: a.flags });
      break;
    }
    case 'record-incident':
      d.emit(outcome.ok ? 'incident.recorded' : 'incident.failed', `incident: ${a.incident.reason} (${outcome.detail})`, { incident: a.incident });
      break;
  }
  return d.done();
}

export function control(plan: Plan, state: RunState, ctl: Control, now: number): Decision & { error?: string; hint?: string } {
  const d = new Draft(state, plan, now);
  const s = d.s;
  const by = ctl.by ? ` by ${ctl.by}` : '';
  const refuse = (error: string, hint?: string) => ({ state, events: [], error, hint });
  const final = FINAL_STATUSES.includes(s.status);
  switch (ctl.kind) {
    case 'pause':
      if (s.status !== 'running' && s.status !== 'awaiting-approval') return refuse(`run ${s.id} is ${s.status}; only a running run can be paused`);
      pause(d, `${ctl.reason}${by}`);
      break;
    case 'resume':
      if (s.status !== 'paused') return refuse(`run ${s.id} is ${s.status}, not paused`, s.status === 'awaiting-approval' ? 'Use `rollout approve`.' : undefined);
      s.status = s.approval ? 'awaiting-approval' : 'running';
      if (s.approval?.deadline !== undefined && s.approval.deadline <= now) {
        // The window passed while paused: resuming opens a new one (else it would time out at once).
        const timeoutMs = approvalFor(plan, s.approval.phase, s.approval.step)?.timeoutMs ?? 0;
        s.approval = { ...s.approval, requestedAt: now, deadline: now + timeoutMs };
      }
      s.reason = undefined;
      s.waitingFor = undefined;
      s.checks = {}; // streaks restart: a paused check must prove itself again
      s.lastTickAt = undefined; // due at once: judge afresh now, not an interval after the last judgment
      d.emit('run.resumed', `resumed${by}`);
      freeze(d, false);
      break;
    case 'approve': {
      const a = s.approval;
      if (!a || (s.status !== 'awaiting-approval' && s.status !== 'paused')) return refuse(`run ${s.id} is not waiting for an approval (it is ${s.status})`);
      // Approving a paused run also resumes it: like resume, its checks must prove themselves again.
      if (s.status === 'paused') s.checks = {};
      s.approved.push(a.key);
      s.approval = undefined;
      s.status = 'running';
      s.lastTickAt = undefined; // due at once
      s.reason = undefined;
      s.waitingFor = undefined;
      d.emit('approval.granted', `go: approved${by}${ctl.note ? ` (${ctl.note})` : ''}`, { key: a.key, by: ctl.by });
      freeze(d, false);
      break;
    }
    case 'reject':
      if (!s.approval || (s.status !== 'awaiting-approval' && s.status !== 'paused')) return refuse(`run ${s.id} is not waiting for an approval`);
      finish(d, 'aborted', `no-go${by}: ${ctl.reason}`);
      freeze(d, false); // the run ends: it releases what it froze
      break;
    case 'abort':
      if (final) return refuse(`run ${s.id} already ${s.status}`);
      if (s.status === 'rolling-back') return refuse(`run ${s.id} is rolling back; a rollback is not aborted halfway`, 'Wait for it to finish; `rollout status` shows progress.');
      s.pending = s.pending.filter((a) => a.kind === 'notify');
      finish(d, 'aborted', `${ctl.reason}${by}; flags left as they are (use \`rollout rollback\` to turn them off)`);
      freeze(d, false); // left as they are, but not frozen: the run ends and releases what it froze
      break;
    case 'rollback':
      if (s.status === 'rolling-back' || s.status === 'rolled-back') return refuse(`run ${s.id} is already ${s.status}`);
      if (ctl.to !== undefined) {
        const no = partialRollback(d, ctl.to, `${ctl.reason}${by}`);
        if (no) return refuse(no.error, no.hint);
        break;
      }
      startRollback(d, `${ctl.reason}${by}`, 'manual', ctl.mode ?? plan.rollback.mode);
      break;
    case 'promote':
      if (s.status !== 'running') return refuse(`run ${s.id} is ${s.status}; only a running run can be promoted`, s.status === 'paused' ? 'Resume it first.' : undefined);
      if (s.holdUntil !== undefined && s.holdUntil > now) s.holdUntil = now;
      if (ctl.full) s.promoteFull = true;
      s.lastTickAt = undefined; // due at once
      d.emit('run.promoted', `promoted${ctl.full ? ' (full: holds skipped to the end of this phase)' : ': hold ended early'}${by}; checks must still pass`);
      break;
  }
  return d.done();
}

// ——— helpers ———

function fmt(v: number | null | undefined): string {
  return v === null || v === undefined ? 'no data' : String(Math.round(v * 10000) / 10000);
}

function approvalFor(plan: Plan, phase: number, step: number) {
  const p = plan.phases[phase];
  return p?.steps[step]?.approval ?? (step === 0 ? p?.approval : undefined);
}

function gateKey(plan: Plan, phase: number, step: number): string | undefined {
  const p = plan.phases[phase];
  if (p?.steps[step]?.approval) return `p${phase}s${step}`;
  if (step === 0 && p?.approval) return `p${phase}`;
  return undefined;
}

/**
 * Partial rollback (seed 004's "Rollback to 25%"): the current phase's flags go down to `to`
 * percent and the run pauses there, rewound to the last step at or below `to`, whose hold
 * starts again; `rollout resume` climbs from there, `rollout rollback` turns everything off.
 */
function partialRollback(d: Draft, to: number, reason: string): { error: string; hint?: string } | undefined {
  const s = d.s;
  const p = d.plan.phases[s.phase];
  const cur = currentPercentage(d);
  if (s.status !== 'running' && s.status !== 'paused' && s.status !== 'awaiting-approval')
    return { error: `run ${s.id} is ${s.status}; a partial rollback needs a run in progress`, hint: 'Without --to, `rollout rollback` turns the flags off.' };
  if (!p || !p.flags.length || s.step < 0 || cur === null) return { error: `run ${s.id} has not rolled out a percentage in this phase yet; there is nothing to step down` };
  if (!(to >= 0 && to < cur)) return { error: `--to ${to}% is not below the current ${cur}% of phase ${p.name}`, hint: `Give a percentage from 0 to ${Math.max(0, cur - 1)}.` };
  let back = -1;
  for (let k = 0; k <= s.step; k++) {
    const pc = p.steps[k]?.percent;
    if (pc !== undefined && pc <= to) back = k;
  }
  s.pending = s.pending.filter((a) => a.kind !== 'apply-flags' || a.purpose !== 'step');
  s.approval = undefined;
  s.promoteFull = false;
  s.step = back;
  s.stepAppliedAt = back >= 0 ? d.now : undefined;
  s.holdUntil = back >= 0 ? d.now + p.steps[back]!.holdMs : undefined;
  d.emit('rollback.partial', `PARTIAL ROLLBACK of ${p.flags.join(', ')} from ${cur}% to ${to}%: ${reason}`, { from: cur, to, phase: p.name, step: back });
  pause(d, `partially rolled back to ${to}% (${reason}). \`rollout resume\` climbs again after the hold, \`rollout rollback\` turns the flags off`);
  d.first(d.enqueue({ kind: 'apply-flags', purpose: 'partial', changes: p.flags.map((flag) => ({ flag, enabled: to > 0, percentage: to })), phase: s.phase }));
  // A frozen flag refuses a new percentage: release it first.
  if (s.frozen?.length) d.first(freeze(d, false)!);
  return undefined;
}

/** Freeze (or unfreeze) the current phase's flags on the backend; unfreezing only what was frozen. */
function freeze(d: Draft, frozen: boolean) {
  const s = d.s;
  const flags = frozen ? (d.plan.phases[s.phase]?.flags ?? []).filter((f) => s.flags[f]?.enabled) : (s.frozen ?? []);
  if (!flags.length) return undefined;
  // Recorded at intent: an unfreeze of a flag whose freeze never landed is harmless.
  s.frozen = frozen ? [...flags] : undefined;
  return d.enqueue({ kind: 'freeze-flags', flags: [...flags], frozen });
}

function pause(d: Draft, reason: string, opts: { keepApproval?: RunState['approval'] } = {}) {
  d.s.status = 'paused';
  d.s.reason = reason;
  d.s.waitingFor = 'a human: `rollout resume`, `rollout rollback` or `rollout abort`';
  if (opts.keepApproval) d.s.approval = opts.keepApproval;
  d.emit('run.paused', `paused: ${reason}`);
  notify(d, 'run.paused', 'warning', { reason });
}

function finish(d: Draft, status: 'completed' | 'aborted' | 'rolled-back', reason: string) {
  d.s.status = status;
  d.s.reason = reason;
  d.s.waitingFor = undefined;
  d.s.finishedAt = d.now;
  d.s.holdUntil = undefined;
  d.s.approval = undefined;
  d.emit(`run.${status}`, `run ${status}: ${reason}`);
  notify(d, status === 'rolled-back' ? 'rollback.completed' : `run.${status}`, status === 'completed' ? 'info' : 'warning', { reason });
}

function currentPercentage(d: Draft): number | null {
  const p = d.plan.phases[d.s.phase];
  const f = p?.flags[0] ?? Object.keys(d.s.flags)[0];
  return f && d.s.flags[f] ? d.s.flags[f].percentage : null;
}

function pctOf(plan: Plan, phase: number, step: number): number | null {
  const st = plan.phases[phase]?.steps[step];
  if (!st) return null;
  if (st.percent !== undefined) return st.percent;
  const flag = plan.phases[phase]!.flags[0];
  const ch = stepChanges(plan, phase, step).find((c) => c.flag === flag);
  return ch ? (ch.enabled ? (ch.percentage ?? 100) : 0) : null;
}

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

const reportActive = (plan: Plan, s: RunState, i: number) => {
  const phases = plan.notify.reports?.[i]?.phases;
  return !phases || phases.includes(plan.phases[s.phase]?.name ?? '');
};

/**
 * Recurring reports (notify.reports) that are due, sent with the checks just judged. A report
 * starts counting when it becomes active (run start, or entering one of its phases).
 */
function sendReports(d: Draft) {
  const s = d.s;
  if (s.status !== 'running' && s.status !== 'paused' && s.status !== 'awaiting-approval') return;
  (d.plan.notify.reports ?? []).forEach((r, i) => {
    const at = s.reportsAt?.[i];
    if (!reportActive(d.plan, s, i)) {
      if (at !== undefined) delete s.reportsAt![i];
      return;
    }
    if (at !== undefined && d.now - at < r.everyMs) return;
    (s.reportsAt ??= {})[i] = d.now;
    if (at === undefined) return;
    d.emit('report.sent', `${r.name ?? 'status report'} (every ${formatDuration(r.everyMs)})`, { report: i });
    notify(d, 'run.report', 'info', { report: r.name ?? null }, r.targets);
  });
}

function notify(d: Draft, event: string, severity: 'info' | 'warning' | 'critical', extra: Record<string, string | number | null> = {}, targets?: string[]) {
  if (!Object.keys(d.plan.notify.targets).length) return;
  d.enqueue({ kind: 'notify', event, severity, vars: vars(d, extra), ...(targets ? { targets } : {}) });
}

/**
 * The flags a rollback scoped to `scope` turns off: those, and (transitively) the flags of every
 * phase that requires one of them — a dependent cannot stay on without what it requires. In
 * the plan's rollback order.
 */
export function rollbackScope(plan: Plan, scope: string[]): string[] {
  const out = new Set(scope);
  for (let grew = true; grew; ) {
    const before = out.size;
    for (const p of plan.phases) if (p.requires.some((r) => out.has(r))) for (const f of p.flags) out.add(f);
    grew = out.size > before;
  }
  return plan.rollback.flags.filter((f) => out.has(f)).concat([...out].filter((f) => !plan.rollback.flags.includes(f)));
}

/** The flags the current rollback acts on. */
const rollbackFlags = (d: Draft) => d.s.rollback?.flags ?? d.plan.rollback.flags;

function startRollback(d: Draft, reason: string, trigger: Incident['trigger'], mode: 'immediate' | 'gradual', scope?: string[]) {
  const s = d.s;
  const pct = currentPercentage(d);
  s.pending = s.pending.filter((a) => a.kind !== 'apply-flags' || a.purpose !== 'step');
  s.status = 'rolling-back';
  s.reason = reason;
  s.approval = undefined;
  s.holdUntil = undefined;
  s.waitingFor = 'rollback to finish';
  const gradual = mode === 'gradual' && d.plan.rollback.steps.length > 0;
  const flags = scope ? rollbackScope(d.plan, scope) : undefined;
  s.rollback = { reason, trigger, mode: gradual ? 'gradual' : 'immediate', startedAt: d.now, stage: 0, failures: [], escalated: false, ...(flags ? { flags } : {}) };
  d.emit('rollback.started', `ROLLBACK (${gradual ? 'gradual' : 'immediate'}${flags ? ` of ${flags.join(', ')} only` : ''}): ${reason}`, { trigger, phase: d.plan.phases[s.phase]?.name, percentage: pct, flags: rollbackFlags(d) });
  if (!gradual) {
    // Flags first: the fastest way back to safety. Then the record, the notice, the commands.
    d.first(d.enqueue({ kind: 'apply-flags', purpose: 'rollback', changes: rollbackFlags(d).map((flag) => ({ flag, enabled: false, percentage: 0 })) }));
  }
  d.enqueue({
    kind: 'record-incident',
    incident: {
      severity: trigger === 'manual' ? 'warning' : 'critical',
      reason,
      trigger,
      phase: d.plan.phases[s.phase]?.name ?? null,
      percentage: pct,
      at: iso(d.now),
      checks: Object.fromEntries(Object.entries(s.checks).map(([n, r]) => [n, { value: r.value, reason: r.reason }])),
      flags: rollbackFlags(d),
    },
  });
  notify(d, 'rollback.started', 'critical', { reason });
  // Frozen flags (a breach pause came first): a gradual rollback must be able to change their
  // percentage, so they are unfrozen before its first stage; an immediate one turns them off
  // first (off is always allowed) and unfreezes after.
  if (s.frozen?.length) {
    const un = freeze(d, false)!;
    if (gradual) d.first(un);
  }
  if (!gradual) queueRollbackTail(d);
}

function rollbackEnv(d: Draft): Record<string, string> {
  const s = d.s;
  return {
    ROLLOUT_REASON: s.rollback?.reason ?? '',
    ROLLOUT_RUN_ID: s.id,
    ROLLOUT_PLAN: d.plan.name,
    ROLLOUT_PHASE: d.plan.phases[s.phase]?.name ?? '',
    ROLLOUT_FLAGS: rollbackFlags(d).join(','),
  };
}

function queueRollbackTail(d: Draft) {
  const env = rollbackEnv(d);
  for (const command of d.plan.rollback.commands) d.enqueue({ kind: 'run-command', purpose: 'rollback', command, env });
  const hc = d.plan.rollback.healthCheck;
  if (hc) d.enqueue({ kind: 'health-check', command: hc.command, http: hc.http, retries: hc.retries, intervalMs: hc.intervalMs, timeoutMs: hc.timeoutMs, env });
  (d.s.rollback as RollbackStateWithTail).tailQueued = true;
}

type RollbackStateWithTail = NonNullable<RunState['rollback']> & { tailQueued?: boolean };

function progressRollback(d: Draft) {
  const s = d.s;
  const rb = s.rollback as RollbackStateWithTail;
  const steps = d.plan.rollback.steps;
  if (rb.mode === 'gradual' && rb.stage < steps.length) {
    if (rb.nextAt !== undefined && d.now < rb.nextAt) {
      s.waitingFor = `gradual rollback: next step at ${iso(rb.nextAt)}`;
      return;
    }
    // Step down only flags that are above this stage; a stage that changes nothing is skipped
    // without its wait (a run stopped at 10% goes straight to the stages below 10%). The final
    // 0% stage also turns off flags this run never wrote, to be safe.
    for (; rb.stage < steps.length; rb.stage++) {
      const st = steps[rb.stage]!;
      const changes = rollbackFlags(d)
        .filter((f) => {
          const cur = s.flags[f];
          if (!cur) return st.percent === 0;
          return cur.enabled && (cur.percentage > st.percent || st.percent === 0);
        })
        .map((flag) => ({ flag, enabled: st.percent > 0, percentage: st.percent }));
      if (changes.length || st.percent === 0) {
        d.emit('rollback.step-intent', `rollback: stepping ${changes.map((c) => c.flag).join(', ') || 'no flag'} down to ${st.percent}%`, { percent: st.percent, changes });
        d.enqueue({ kind: 'apply-flags', purpose: 'rollback', changes });
        return;
      }
      d.emit('rollback.step', `rollback: ${st.percent}% skipped (every flag is already at or below it)`, { percent: st.percent, skipped: true });
    }
    rb.nextAt = undefined;
    progressRollback(d);
    return;
  }
  if (!rb.tailQueued) {
    const n = d.plan.rollback.commands.length;
    if (n || d.plan.rollback.healthCheck) d.emit('rollback.commands', `rollback: flags done; running ${n} rollback command(s)${d.plan.rollback.healthCheck ? ' and the health check' : ''}`);
    queueRollbackTail(d);
    return;
  }
  if (rb.failures.length && !rb.escalated) {
    rb.escalated = true;
    const why = `rollback incomplete: ${rb.failures.join('; ')}`;
    d.emit('rollback.escalated', `ESCALATING: ${why} — manual intervention required`);
    const env = { ...rollbackEnv(d), ROLLOUT_FAILURES: rb.failures.join('\n') };
    for (const command of d.plan.rollback.escalate.commands) d.enqueue({ kind: 'run-command', purpose: 'escalate', command, env });
    notify(d, 'rollback.failed', 'critical', { reason: why }, d.plan.rollback.escalate.notify.length ? d.plan.rollback.escalate.notify : undefined);
    return;
  }
  finish(d, 'rolled-back', rb.failures.length ? `${rb.reason} — rollback INCOMPLETE: ${rb.failures.join('; ')}` : rb.reason);
}
