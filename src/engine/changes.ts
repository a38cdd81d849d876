/**
 * From a step to flag changes: what a plan step writes to the backend, queuing it, and the
 * percentages a run is at (for notices and partial rollbacks), and the exclusion a partial rollback
 * for some users adds to every write of its flags.
 */
import type { Exclusion, FlagChange } from '../adapters/types.js';
import type { Plan } from '../plan/model.js';
import { fmt, type Draft } from './draft.js';
import { stepLabel } from './steps.js';
import type { RunState } from './types.js';

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
    ...(p.variants ? { variants: p.variants } : {}),
  }));
  for (const [flag, v] of Object.entries(own.set)) {
    const pct = v === true ? 100 : v === false ? 0 : v;
    changes.push({ flag, enabled: pct > 0, percentage: pct });
  }
  return changes;
}

/** Queue the flag writes of the next step (the gates let it through). */
export function queueStep(d: Draft, nxt: { phase: number; step: number }): void {
  const { s, plan } = d;
  const target = plan.phases[nxt.phase]!;
  // Cohorts rolled back in this run stay out: every step's write carries the exclusion.
  const all = withExclusion(plan, s, stepChanges(plan, nxt.phase, nxt.step));
  // Flags a scoped rollback took out of the run (afterRollback: continue) stay off.
  const changes = s.dropped?.length ? all.filter((c) => !s.dropped!.includes(c.flag)) : all;
  if (all.length && !changes.length) {
    s.phase = nxt.phase;
    s.step = nxt.step;
    s.holdUntil = d.now;
    s.lastTickAt = undefined; // due at once: the next step does not wait for anything this one did
    s.waitingFor = undefined;
    d.emit('step.skipped', `${target.name} ${stepLabel(plan, nxt.phase, nxt.step)} skipped: ${all.map((c) => c.flag).join(', ')} rolled back earlier in this run`, { phase: nxt.phase, step: nxt.step });
    return;
  }
  d.enqueue({ kind: 'apply-flags', purpose: 'step', changes, phase: nxt.phase, step: nxt.step });
  d.emit('step.intent', `applying ${target.name} ${stepLabel(plan, nxt.phase, nxt.step)}: checks pass (${target.checks.map((c) => `${c.name}=${fmt(s.checks[c.name]?.value)}`).join(', ') || 'no checks'})`, {
    phase: nxt.phase,
    step: nxt.step,
    changes,
  });
  s.waitingFor = `applying ${stepLabel(plan, nxt.phase, nxt.step)}`;
  s.waiting = { kind: 'applying' };
}

export function currentPercentage(d: Draft): number | null {
  const p = d.plan.phases[d.s.phase];
  const f = p?.flags[0] ?? Object.keys(d.s.flags)[0];
  return f && d.s.flags[f] ? d.s.flags[f].percentage : null;
}

export function pctOf(plan: Plan, phase: number, step: number): number | null {
  const st = plan.phases[phase]?.steps[step];
  if (!st) return null;
  if (st.percent !== undefined) return st.percent;
  const flag = plan.phases[phase]!.flags[0];
  const ch = stepChanges(plan, phase, step).find((c) => c.flag === flag);
  return ch ? (ch.enabled ? (ch.percentage ?? 100) : 0) : null;
}

// ——— a partial rollback's exclusion (cohorts.ts) rides on every write of the flags it covers ———

/** The exclusion every flag write of this run carries (undefined: the run never excluded anyone). */
export function exclusionOf(s: RunState): Exclusion | undefined {
  if (!s.excluded) return undefined;
  return { segments: s.excluded.filter((c) => c.kind === 'segment').map((c) => c.name), rings: s.excluded.filter((c) => c.kind === 'ring').map((c) => c.name) };
}

/** The flags an exclusion applies to: the plan's rollback flags that are still in the run. */
export function cohortFlags(plan: Plan, s: RunState): string[] {
  return plan.rollback.flags.filter((f) => !s.dropped?.includes(f));
}

/** Add the run's exclusion to the changes of the flags it applies to (a step must not undo it). */
export function withExclusion(plan: Plan, s: RunState, changes: FlagChange[]): FlagChange[] {
  const ex = exclusionOf(s);
  if (!ex) return changes;
  const flags = cohortFlags(plan, s);
  return changes.map((c) => (flags.includes(c.flag) ? { ...c, exclude: ex } : c));
}
