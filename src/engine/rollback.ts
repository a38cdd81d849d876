/**
 * Rollback sequencing: starting a rollback (immediate or gradual, whole plan or scoped),
 * stepping a gradual one down, the rollback commands and health check, escalation, and the
 * partial rollback (`rollout rollback --to`).
 */
import type { Check, Plan } from '../plan/model.js';
import { formatDuration } from '../util/duration.js';
import { currentPercentage, withExclusion } from './changes.js';
import { blocksStep, judgeChecks } from './verdicts.js';
import { iso, type Draft } from './draft.js';
import { notify } from './notice.js';
import { openPage } from './pages.js';
import { finish, freeze, pause } from './transitions.js';
import type { Incident, Readings, RunState } from './types.js';

/**
 * Partial rollback (seed 004's "Rollback to 25%"): the current phase's flags go down to `to`
 * percent and the run pauses there, rewound to the last step at or below `to`, whose hold
 * starts again; `rollout resume` climbs from there, `rollout rollback` turns everything off.
 */
export function partialRollback(d: Draft, to: number, reason: string): { error: string; hint?: string } | undefined {
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
  // A go given before the problem does not carry over: every gate the run climbs past again
  // (the steps above `back` in this phase, and the phase's own gate when it starts over) asks again.
  const phase = s.phase;
  const regated = s.approved.filter((k) => {
    const m = /^p(\d+)(?:s(\d+))?$/.exec(k);
    return m !== null && Number(m[1]) === phase && (m[2] === undefined ? back < 0 : Number(m[2]) > back);
  });
  s.approved = s.approved.filter((k) => !regated.includes(k));
  s.step = back;
  s.stepAppliedAt = back >= 0 ? d.now : undefined;
  s.holdUntil = back >= 0 ? d.now + p.steps[back]!.holdMs : undefined;
  d.emit('rollback.partial', `PARTIAL ROLLBACK of ${p.flags.join(', ')} from ${cur}% to ${to}%: ${reason}${regated.length ? `; ${regated.length} go/no-go approval(s) given before it will be asked again` : ''}`, { from: cur, to, phase: p.name, step: back, ...(regated.length ? { approvalsWithdrawn: regated } : {}) });
  pause(d, `partially rolled back to ${to}% (${reason}). \`rollout resume\` climbs again after the hold, \`rollout rollback\` turns the flags off`);
  d.runNext(d.enqueue({ kind: 'apply-flags', purpose: 'partial', changes: withExclusion(d.plan, s, p.flags.map((flag) => ({ flag, enabled: to > 0, percentage: to }))), phase: s.phase }));
  // A frozen flag refuses a new percentage: release it first.
  if (s.frozen?.length) d.runNext(freeze(d, false)!);
  return undefined;
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

/**
 * `reason` is what the rollback is for, verbatim (commands get exactly it as $ROLLOUT_REASON);
 * `by`, for a manual rollback, who asked: shown with it, recorded apart.
 */
export function startRollback(d: Draft, reason: string, trigger: Incident['trigger'], mode: 'immediate' | 'gradual', scope?: string[], by?: string, continueAfter = false) {
  const s = d.s;
  const pct = currentPercentage(d);
  const shown = by ? `${reason} by ${by}` : reason;
  s.pending = s.pending.filter((a) => a.kind !== 'apply-flags' || a.purpose !== 'step');
  s.status = 'rolling-back';
  s.reason = shown;
  s.approval = undefined;
  s.holdUntil = undefined;
  s.holdLeftMs = undefined;
  s.holdSeenAt = undefined;
  s.waitingFor = 'rollback to finish';
  s.waiting = { kind: 'rollback' };
  const gradual = mode === 'gradual' && d.plan.rollback.steps.length > 0;
  const flags = scope ? rollbackScope(d.plan, scope) : undefined;
  s.rollback = { reason, trigger, mode: gradual ? 'gradual' : 'immediate', startedAt: d.now, stage: 0, failures: [], escalated: false, ...(flags ? { flags } : {}), ...(by ? { by } : {}), ...(flags && continueAfter ? { continue: true } : {}) };
  d.emit('rollback.started', `ROLLBACK (${gradual ? 'gradual' : 'immediate'}${flags ? ` of ${flags.join(', ')} only` : ''}): ${shown}`, { trigger, phase: d.plan.phases[s.phase]?.name, percentage: pct, flags: rollbackFlags(d) });
  if (!gradual) {
    // Flags first: the fastest way back to safety. Then the record, the notice, the commands.
    d.runNext(d.enqueue({ kind: 'apply-flags', purpose: 'rollback', changes: rollbackFlags(d).map((flag) => ({ flag, enabled: false, percentage: 0 })) }));
  }
  d.enqueue({
    kind: 'record-incident',
    incident: {
      severity: trigger === 'manual' ? 'warning' : 'critical',
      reason,
      ...(by ? { by } : {}),
      trigger,
      phase: d.plan.phases[s.phase]?.name ?? null,
      percentage: pct,
      at: iso(d.now),
      checks: Object.fromEntries(Object.entries(s.checks).map(([n, r]) => [n, { value: r.value, reason: r.reason }])),
      flags: rollbackFlags(d),
    },
  });
  notify(d, 'rollback.started', 'critical', { reason: shown });
  // Frozen flags (a breach pause came first): a gradual rollback must be able to change their
  // percentage, so they are unfrozen before its first stage; an immediate one turns them off
  // first (off is always allowed) and unfreezes after.
  if (s.frozen?.length) {
    const un = freeze(d, false)!;
    if (gradual) d.runNext(un);
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
  d.plan.rollback.commands.forEach((command, index) => d.enqueue({ kind: 'run-command', purpose: 'rollback', command, env, index }));
  const hc = d.plan.rollback.healthCheck;
  if (hc) d.enqueue({ kind: 'health-check', command: hc.command, http: hc.http, retries: hc.retries, intervalMs: hc.intervalMs, timeoutMs: hc.timeoutMs, env });
  d.s.rollback!.tailQueued = true;
}

/**
 * A health-gated rollback stage: judge the phase's checks (no action is taken on them — the
 * run is already rolling back) and say whether the next stage may come: every check has passed
 * for `stableFor`, or the stage's `maxWait` is over (then it moves on, and says it was not stable).
 */
export function waitForStable(d: Draft, checks: Check[], obs: Readings): boolean {
  const { s, now } = d;
  const rb = s.rollback!;
  const st = rb.stable!;
  judgeChecks(d, checks, obs);
  const failing = checks.filter((c) => blocksStep(c, s.checks[c.name]));
  const since = failing.length ? undefined : (st.since ?? now);
  rb.stable = { ...st, ...(since !== undefined ? { since } : {}) };
  if (since === undefined) delete rb.stable.since;
  if (since !== undefined && now - since >= st.forMs) {
    d.emit('rollback.stable', `rollback: checks have passed for ${formatDuration(now - since)}; next stage`, { since });
    rb.stable = undefined;
    s.checks = {};
    return true;
  }
  if (now >= st.until) {
    const why = failing.map((c) => `${c.name}: ${s.checks[c.name]?.reason ?? 'not measured'}`).join('; ') || 'the checks had not passed long enough';
    d.emit('rollback.unstable', `rollback: not stable within the stage's maximum wait (${why}); moving on to the next stage`, { failing: failing.map((c) => c.name) });
    notify(d, 'breach.detected', 'warning', { reason: `gradual rollback was not stable within its maximum wait (${why}); moving on` });
    rb.stable = undefined;
    s.checks = {};
    return true;
  }
  s.waiting = { kind: 'rollback-stable', until: st.until };
  s.waitingFor = `gradual rollback: checks to pass for ${formatDuration(st.forMs)}${since !== undefined ? ` (passing since ${iso(since)})` : failing.length ? ` (failing: ${failing.map((c) => c.name).join(', ')})` : ''}, at most until ${iso(st.until)}`;
  return false;
}

export function progressRollback(d: Draft) {
  const s = d.s;
  const rb = s.rollback!;
  const steps = d.plan.rollback.steps;
  if (rb.mode === 'gradual' && rb.stage < steps.length) {
    if (rb.nextAt !== undefined && d.now < rb.nextAt) {
      s.waitingFor = `gradual rollback: next step at ${iso(rb.nextAt)}`;
      s.waiting = { kind: 'rollback-step', until: rb.nextAt };
      return;
    }
    // Step down only flags that are above this stage; a stage that changes nothing is skipped
    // without its wait (a run stopped at 10% goes straight to the stages below 10%). The final
    // 0% stage also turns off flags this run never wrote, to be safe.
    for (; rb.stage < steps.length; rb.stage++) {
      const st = steps[rb.stage]!;
      // A stage above 0 % keeps a partial rollback's cohorts out (a backend whose write replaces
      // the whole flag would otherwise give them the stage's share again).
      const changes = withExclusion(
        d.plan,
        s,
        rollbackFlags(d)
          .filter((f) => {
            const cur = s.flags[f];
            if (!cur) return st.percent === 0;
            return cur.enabled && (cur.percentage > st.percent || st.percent === 0);
          })
          .map((flag) => ({ flag, enabled: st.percent > 0, percentage: st.percent })),
      );
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
    // One page per rollback: a retry that fails again (a worker retries on its own, with backoff)
    // does not page anew once someone has the page — acknowledged or still escalating.
    if (d.plan.rollback.escalate.severity && !(s.pages ?? []).some((p) => !p.check && p.openedAt >= rb.startedAt)) openPage(d, d.plan.rollback.escalate.severity, why, 'rollback');
    return;
  }
  if (rb.failures.length) {
    incomplete(d);
    return;
  }
  if (rb.continue) {
    continueWithout(d);
    return;
  }
  finish(d, 'rolled-back', rb.retries ? `${shownReason(rb)} (completed on retry ${rb.retries})` : shownReason(rb));
}

/**
 * After a scoped rollback whose check says `afterRollback: continue` (seed 004: "Rollback
 * recovery feature" — only that feature): the rolled-back flags leave the run for good, and the
 * rest of the rollout goes on from where it was, holding the current step afresh.
 */
function continueWithout(d: Draft) {
  const s = d.s;
  const flags = rollbackFlags(d);
  const why = shownReason(s.rollback!);
  s.dropped = [...new Set([...(s.dropped ?? []), ...flags])];
  s.rollback = undefined;
  s.status = 'running';
  s.reason = undefined;
  s.waitingFor = undefined;
  s.checks = {};
  s.lastTickAt = undefined;
  const st = d.plan.phases[s.phase]?.steps[s.step];
  s.holdUntil = d.now + (st?.holdMs ?? 0);
  d.emit('rollback.scoped-done', `rolled back ${flags.join(', ')} (${why}); the rollout goes on without ${flags.length > 1 ? 'them' : 'it'}`, { flags });
  notify(d, 'rollback.completed', 'warning', { reason: `${flags.join(', ')} rolled back (${why}); the rest of the rollout goes on` });
}

const shownReason = (rb: NonNullable<RunState['rollback']>) => (rb.by ? `${rb.reason} by ${rb.by}` : rb.reason);

/** What a retry runs, in words: "flags off, command restart-api, the health check". */
export function retryPlan(plan: Plan, rb: NonNullable<RunState['rollback']>): string[] {
  const failed = rb.failed ?? [];
  const out: string[] = [];
  if (failed.some((f) => f.step === 'flags')) out.push('flags off');
  for (const f of failed) if (f.step === 'command') out.push(`command "${f.name}"`);
  if (plan.rollback.healthCheck) out.push('the health check');
  return out;
}

/**
 * Some rollback steps failed: the run is not over. It keeps its flag locks and waits for a
 * retry (`rollout rollback` / `resume` / `advance`, or a worker), which repeats what failed.
 */
function incomplete(d: Draft) {
  const s = d.s;
  const rb = s.rollback!;
  s.status = 'rollback-incomplete';
  s.reason = `${shownReason(rb)} — rollback INCOMPLETE: ${rb.failures.join('; ')}`;
  s.waiting = { kind: 'rollback-retry' };
  s.waitingFor = `a retry of the failed rollback steps: \`rollout rollback ${s.id} --reason …\` (or \`rollout resume ${s.id}\`, \`rollout advance ${s.id}\`)`;
  s.holdUntil = undefined;
  d.emit('rollback.incomplete', `rollback INCOMPLETE${rb.retries ? ` after retry ${rb.retries}` : ''}: ${rb.failures.join('; ')}. Still to do: ${retryPlan(d.plan, rb).join(', ')}. The run keeps its flag locks; \`rollout rollback ${s.id} --reason …\` retries`, {
    failures: rb.failures,
    failed: rb.failed ?? [],
    retries: rb.retries ?? 0,
  });
}

/**
 * Retry an incomplete rollback: the flags off again (if that failed), the rollback commands that
 * failed, then the health check. With `escalate`, a retry that still fails escalates again.
 * Records written before this existed have no `failed` list: everything is repeated.
 */
export function retryRollback(d: Draft, opts: { by?: string; reason?: string; escalate?: boolean }): void {
  const s = d.s;
  const rb = s.rollback!;
  const plan = d.plan;
  const failed = rb.failed ?? [{ step: 'flags' as const, detail: '' }, ...plan.rollback.commands.map((c, index) => ({ step: 'command' as const, index, name: c.name, detail: '' }))];
  const retries = (rb.retries ?? 0) + 1;
  s.rollback = { ...rb, failures: [], failed: [], retries, escalated: !opts.escalate, stage: plan.rollback.steps.length, nextAt: undefined, stable: undefined };
  s.rollback!.tailQueued = true;
  s.status = 'rolling-back';
  s.waitingFor = 'the rollback retry to finish';
  s.waiting = { kind: 'rollback' };
  const what = retryPlan(plan, { ...rb, failed });
  d.emit('rollback.retry', `retrying the rollback (retry ${retries}${opts.by ? ` by ${opts.by}` : ''}${opts.reason ? `: ${opts.reason}` : ''}): ${what.join(', ') || 'nothing failed that can be repeated'}`, {
    retry: retries,
    steps: what,
    ...(opts.by ? { by: opts.by } : {}),
  });
  const env = rollbackEnv(d);
  if (failed.some((f) => f.step === 'flags')) d.enqueue({ kind: 'apply-flags', purpose: 'rollback', changes: rollbackFlags(d).map((flag) => ({ flag, enabled: false, percentage: 0 })) });
  for (const f of failed) {
    if (f.step !== 'command') continue;
    const command = plan.rollback.commands[f.index] ?? plan.rollback.commands.find((c) => c.name === f.name);
    if (command) d.enqueue({ kind: 'run-command', purpose: 'rollback', command, env, index: plan.rollback.commands.indexOf(command) });
  }
  const hc = plan.rollback.healthCheck;
  if (hc) d.enqueue({ kind: 'health-check', command: hc.command, http: hc.http, retries: hc.retries, intervalMs: hc.intervalMs, timeoutMs: hc.timeoutMs, env });
}
