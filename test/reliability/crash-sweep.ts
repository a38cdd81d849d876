/**
 * Crash safety: a run killed (SIGKILL, via ROLLOUT_CRASH_AT=N) at any side-effect point — before
 * and after each action it performs — and then recovered (`rollout resume`, or `rollout start`
 * again) ends exactly where the uninterrupted run ends: same status, same flags, the same steps
 * applied once each in order, the same event log; and against Unleash the same sequence of
 * changes in Unleash's own event log (a step written again after the crash changes nothing).
 *
 * Every N from 1 up to the number of points (2 × the actions of the uninterrupted run) is
 * covered; N = points + 1 must no longer crash. Two plans per backend: one that completes and
 * one that always breaches at the phase boundary and rolls back (flags off, incident, rollback
 * command, health check, notices), so rollback side effects are covered too.
 */
import { expect } from 'vitest';
import { crashRun, pool, type CrashRun } from './helpers.js';

export const CONCURRENCY = 4;

export interface Variant {
  text: string;
  flags: [string, string];
}

/** Flag names → A/B, so runs on differently named flags compare. */
export function byRole<T>(v: Variant, rec: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(rec).map(([k, x]) => [k === v.flags[0] ? 'A' : k === v.flags[1] ? 'B' : k, x]));
}

export interface Sweep {
  points: number;
  passed: number;
  rollbackReruns: number[];
  recoveredBy: Record<string, number>;
  ms: number;
  /** What `extra` found after the uninterrupted run. */
  baseExtra: unknown;
}

/**
 * The uninterrupted run, then one crash run per point. `variant(n)` makes the plan for crash
 * point n (0: uninterrupted); `extra` adds backend-specific comparisons.
 */
export async function sweep(label: string, variant: (n: number) => Variant, opts: { env?: Record<string, string>; extra?: (v: Variant, r: CrashRun) => Promise<unknown> } = {}): Promise<Sweep> {
  const t0 = Date.now();
  const v0 = variant(0);
  const base = await crashRun(v0.text, 0, { env: opts.env });
  expect(base.crashed).toBe(false);
  expect(base.outcome.pending).toEqual([]);
  const baseExtra = await opts.extra?.(v0, base);
  const points = 2 * base.outcome.actions;
  expect(points).toBeGreaterThan(10);

  const ns = Array.from({ length: points + 1 }, (_, i) => i + 1);
  const variants = new Map(ns.map((n) => [n, variant(n)]));
  // Odd points recover with `rollout resume`, even ones with `rollout start` again.
  const runs = await pool(ns, CONCURRENCY, (n) => crashRun(variants.get(n)!.text, n, { env: opts.env, via: n % 2 ? 'resume' : 'start' }));

  let passed = 0;
  const rollbackReruns: number[] = [];
  const recoveredBy: Record<string, number> = {};
  for (const r of runs) {
    const v = variants.get(r.n)!;
    const where = `crash at point ${r.n} of ${points} (${label}); recovery: ${JSON.stringify(r.recovery)}`;
    // Every point up to `points` is reached; the one after is not (the count is exact).
    expect(r.crashed, where).toBe(r.n <= points);
    if (r.crashed) expect(r.recovery.length, where).toBeGreaterThan(0);
    for (const x of r.recovery) recoveredBy[x.args[0]!] = (recoveredBy[x.args[0]!] ?? 0) + 1;
    expect(r.finalCode, where).toBe(base.finalCode);
    const o = r.outcome;
    expect(o.status, where).toBe(base.outcome.status);
    expect(o.pending, where).toEqual([]);
    expect(byRole(v, o.flags), where).toEqual(byRole(v0, base.outcome.flags));
    if (base.outcome.localFlags) expect(byRole(v, o.localFlags ?? {}), where).toEqual(byRole(v0, base.outcome.localFlags));
    // No step skipped, none applied twice: the same steps, in the same order, once each.
    expect(o.steps, where).toEqual(base.outcome.steps);
    expect(new Set(o.steps).size, where).toBe(o.steps.length);
    // The whole event log has the same shape (orphan events of the killed process are dropped).
    expect(o.eventTypes, where).toEqual(base.outcome.eventTypes);
    expect(o.actions, where).toBe(base.outcome.actions);
    // One incident record, even when the process died right after writing it.
    expect(o.incidents, where).toBe(base.outcome.incidents);
    // The rollback command is at-least-once: it runs again only if the process died after it
    // finished and before its outcome was recorded.
    if (o.rollbackRuns !== base.outcome.rollbackRuns) {
      expect(o.rollbackRuns, where).toBe(base.outcome.rollbackRuns + 1);
      rollbackReruns.push(r.n);
    }
    if (opts.extra) expect(await opts.extra(v, r), where).toEqual(baseExtra);
    passed++;
  }
  expect(rollbackReruns.length).toBeLessThanOrEqual(1);
  const s: Sweep = { points, passed, rollbackReruns, recoveredBy, ms: Date.now() - t0, baseExtra };
  console.log(
    `[crash] ${label}: ${points} side-effect points covered, ${passed - 1}/${points} crash runs recovered to the uninterrupted outcome (${base.outcome.status}, exit ${base.finalCode}), point ${points + 1} ran through; recoveries ${JSON.stringify(recoveredBy)}; rollback command re-run after crash at point(s) ${rollbackReruns.join(', ') || 'none'}; ${s.ms} ms`,
  );
  return s;
}

