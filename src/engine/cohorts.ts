/**
 * A partial rollback for some users (seed 002: "Partial Rollback (Specific User Segments) …
 * Targeted Flag Update: Disable new architecture for specific cohorts"; seed 000: "Rollback
 * affected users"): the run's flags go off for a segment or ring while everybody else keeps
 * their percentage, and stay off for it through every later step until it is restored.
 *
 * The flags it acts on are the plan's rollback flags still in the run. The write restates each
 * flag as it stands (the last step that wrote it, at the percentage the run has it at) plus the
 * exclusion, so it changes nothing else.
 */
import type { FlagChange } from '../adapters/types.js';
import type { Plan } from '../plan/model.js';
import { cohortFlags, exclusionOf, stepChanges } from './changes.js';
import { iso, type Draft } from './draft.js';
import { notify } from './notice.js';
import { pause } from './transitions.js';
import type { Cohort, ExcludedCohort, RunState } from './types.js';

export const cohortName = (c: Cohort) => `${c.kind} ${c.name}`;
const same = (a: Cohort, b: Cohort) => a.kind === b.kind && a.name === b.name;

/**
 * The flag as the run has it now: the last step (up to the current one) that wrote it, with the
 * percentage the run recorded (a `--to` partial rollback may have stepped it down).
 */
export function currentChange(plan: Plan, s: RunState, flag: string): FlagChange | undefined {
  const rec = s.flags[flag];
  if (!rec) return undefined;
  for (let p = Math.min(s.phase, plan.phases.length - 1); p >= 0; p--) {
    const last = p === s.phase ? s.step : plan.phases[p]!.steps.length - 1;
    for (let k = last; k >= 0; k--) {
      const ch = stepChanges(plan, p, k).find((c) => c.flag === flag);
      if (ch) return { ...ch, enabled: rec.enabled, percentage: rec.percentage, ...(rec.rings ? { rings: rec.rings } : {}) };
    }
  }
  return { flag, enabled: rec.enabled, percentage: rec.percentage, ...(rec.rings ? { rings: rec.rings } : {}) };
}

/** Check cohort names against the plan: a ring must be one of its rings, and not "everybody else". */
export function cohortProblem(plan: Plan, cohorts: Cohort[]): { error: string; hint?: string } | undefined {
  if (!cohorts.length) return { error: 'name the cohort to roll back: a segment or a ring', hint: 'e.g. `rollout rollback --segment beta-users --reason "…"`.' };
  for (const c of cohorts) {
    if (!c.name.trim()) return { error: `a ${c.kind} name is empty` };
    if (c.kind !== 'ring') continue;
    const ring = plan.rings[c.name];
    const rings = Object.keys(plan.rings);
    if (!ring) return { error: `unknown ring "${c.name}"`, hint: rings.length ? `The plan's rings: ${rings.join(', ')}.` : 'The plan has no rings: (roll back a segment with --segment).' };
    if (!ring.users?.length && !ring.segments?.length)
      return { error: `ring "${c.name}" is everybody else: rolling it back is rolling back everybody`, hint: 'Use `rollout rollback --reason …` (without --ring), or `--to <percent>`.' };
  }
  return undefined;
}

/**
 * Roll `cohorts` back: recorded (who, when, why), the flags rewritten with the exclusion, a
 * pending step write amended to carry it, an incident record and a `rollback.cohort` notice.
 * The run keeps its status (`pause` also pauses it).
 */
export function excludeCohorts(d: Draft, cohorts: Cohort[], o: { reason: string; by?: string; trigger: 'manual' | 'check'; check?: string; pause?: boolean }): { error: string; hint?: string } | undefined {
  const { s, plan, now } = d;
  if (s.status !== 'running' && s.status !== 'paused' && s.status !== 'awaiting-approval')
    return { error: `run ${s.id} is ${s.status}; rolling back a cohort needs a run in progress`, hint: s.status === 'rollback-incomplete' ? 'Finish the rollback first: `rollout rollback <run> --reason …` retries it.' : undefined };
  const bad = cohortProblem(plan, cohorts);
  if (bad) return bad;
  const had = cohorts.filter((c) => s.excluded?.some((x) => same(x, c)));
  if (had.length) {
    const x = s.excluded!.find((e) => same(e, had[0]!))!;
    return { error: `${cohortName(had[0]!)} is already rolled back (since ${iso(x.at)}${x.by ? ` by ${x.by}` : ''}: ${x.reason})`, hint: `\`rollout rollback ${s.id} --${had[0]!.kind} ${had[0]!.name} --undo\` brings it back.` };
  }
  const added: ExcludedCohort[] = cohorts.map((c) => ({ kind: c.kind, name: c.name, reason: o.reason, at: now, trigger: o.trigger, ...(o.by ? { by: o.by } : {}), ...(o.check ? { check: o.check } : {}) }));
  s.excluded = [...(s.excluded ?? []), ...added];
  const words = cohorts.map(cohortName);
  const flags = cohortFlags(plan, s);
  const written = rewrite(d, words.join(', '));
  const who = o.check ? `check ${o.check}` : o.by ? `by ${o.by}` : 'by hand';
  const keep = written.length ? `; everybody else keeps ${written.map((c) => `${c.flag} ${c.enabled ? `${c.percentage ?? 100}%` : 'off'}`).join(', ')}` : '; no flag is on yet: every step from now on leaves them out';
  d.emit('rollback.cohort', `PARTIAL ROLLBACK for ${words.join(', ')} (${who}): ${flags.join(', ')} off for them${keep} — ${o.reason}`, {
    cohorts: added,
    flags,
    trigger: o.trigger,
    ...(o.by ? { by: o.by } : {}),
    ...(o.check ? { check: o.check } : {}),
  });
  d.enqueue({
    kind: 'record-incident',
    incident: {
      severity: o.trigger === 'check' ? 'critical' : 'warning',
      reason: o.reason,
      ...(o.by ? { by: o.by } : {}),
      trigger: o.trigger === 'check' ? 'check' : 'manual',
      phase: plan.phases[s.phase]?.name ?? null,
      percentage: written[0]?.percentage ?? null,
      at: iso(now),
      checks: Object.fromEntries(Object.entries(s.checks).map(([n, r]) => [n, { value: r.value, reason: r.reason }])),
      flags,
      cohorts: words,
    },
  });
  notify(d, 'rollback.cohort', 'warning', { reason: `${flags.join(', ')} rolled back for ${words.join(', ')} (${who}): ${o.reason}`, cohorts: words.join(', ') });
  if (o.pause && (s.status === 'running' || s.status === 'awaiting-approval')) pause(d, `${words.join(', ')} rolled back (${o.reason}); \`rollout resume\` goes on with ${cohorts.length > 1 ? 'them' : 'it'} left out`, s.approval ? { keepApproval: s.approval } : {});
  return undefined;
}

/** Bring rolled-back cohorts back: the flags rewritten without them; a run paused only for them resumes. */
export function restoreCohorts(d: Draft, cohorts: Cohort[], o: { reason?: string; by?: string }): { error: string; hint?: string } | undefined {
  const { s } = d;
  if (s.status !== 'running' && s.status !== 'paused' && s.status !== 'awaiting-approval') return { error: `run ${s.id} is ${s.status}; a cohort is restored only on a run in progress` };
  // Only "is it rolled back in this run?": a cohort the plan no longer names (edited plan, or
  // taken over from an aborted run) must still be restorable, or the run could never complete.
  const missing = cohorts.filter((c) => !s.excluded?.some((x) => same(x, c)));
  if (missing.length) {
    const now = (s.excluded ?? []).map(cohortName);
    return { error: `${cohortName(missing[0]!)} is not rolled back in run ${s.id}`, hint: now.length ? `Rolled back: ${now.join(', ')}.` : 'No cohort is rolled back in this run.' };
  }
  s.excluded = s.excluded!.filter((x) => !cohorts.some((c) => same(x, c)));
  const words = cohorts.map(cohortName);
  const written = rewrite(d, `${words.join(', ')} restored`);
  d.emit('rollback.cohort-restored', `${words.join(', ')} restored${o.by ? ` by ${o.by}` : ''}${o.reason ? ` (${o.reason})` : ''}: ${written.length ? written.map((c) => `${c.flag} ${c.enabled ? `${c.percentage ?? 100}%` : 'off'}`).join(', ') : 'the flags'} for them again`, {
    cohorts: cohorts.map((c) => ({ kind: c.kind, name: c.name })),
    ...(o.by ? { by: o.by } : {}),
    ...(o.reason ? { reason: o.reason } : {}),
    left: s.excluded.map(cohortName),
  });
  notify(d, 'rollback.cohort', 'info', { reason: `${words.join(', ')} restored${o.reason ? `: ${o.reason}` : ''}`, cohorts: words.join(', ') });
  // Paused at the end only because a cohort was still out: with none left, it goes on (and completes).
  if (s.status === 'paused' && s.waiting?.kind === 'cohort' && !s.excluded.length) {
    s.status = 'running';
    s.reason = undefined;
    s.waitingFor = undefined;
    s.waiting = undefined;
    s.lastTickAt = undefined;
    d.emit('run.resumed', `resumed: no cohort is rolled back any more`);
  }
  return undefined;
}

/**
 * Rewrite the run's flags that are written and on with the exclusion as it is now, first in
 * the queue; a step, partial or cohort write already queued is amended to carry it too (an
 * older cohort write running after this one must not bring back the exclusion it had). Returns the changes.
 */
function rewrite(d: Draft, what: string): FlagChange[] {
  const { s, plan } = d;
  const ex = exclusionOf(s) ?? {};
  const flags = cohortFlags(plan, s);
  s.pending = s.pending.map((a) => (a.kind === 'apply-flags' && (a.purpose === 'step' || a.purpose === 'partial' || a.purpose === 'cohort') ? { ...a, changes: a.changes.map((c) => (flags.includes(c.flag) ? { ...c, exclude: ex } : c)) } : a));
  const changes = flags
    .map((f) => currentChange(plan, s, f))
    .filter((c): c is FlagChange => c !== undefined && c.enabled)
    .map((c) => ({ ...c, exclude: ex }));
  if (changes.length) d.runNext(d.enqueue({ kind: 'apply-flags', purpose: 'cohort', changes, cohorts: what }));
  return changes;
}

/** Write the exclusion again (resume after a failed write; idempotent). */
export function reassertCohorts(d: Draft): void {
  if (d.s.excluded?.length) rewrite(d, `${d.s.excluded.map(cohortName).join(', ')} (written again)`);
}

/** At the end of the plan: a cohort still rolled back keeps the run from completing. */
export function holdForCohorts(d: Draft): boolean {
  const s = d.s;
  if (!s.excluded?.length) return false;
  const words = s.excluded.map(cohortName);
  pause(d, `every phase reached its final step, but ${words.join(', ')} ${words.length > 1 ? 'are' : 'is'} still rolled back`);
  s.waitingFor = `${words.join(', ')} to be restored (\`rollout rollback ${s.id} ${s.excluded.map((c) => `--${c.kind} ${c.name}`).join(' ')} --undo\`; the run then completes) or \`rollout abort\` to end it as it is`;
  s.waiting = { kind: 'cohort' };
  return true;
}

