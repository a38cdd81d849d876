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
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { UnleashAdmin } from '../adapters/unleash-admin.js';
import { crashPlan, crashRun, pool, type CrashRun } from './helpers.js';

const CONCURRENCY = 4;

interface Variant {
  text: string;
  flags: [string, string];
}

/** Flag names → A/B, so runs on differently named flags compare. */
function byRole<T>(v: Variant, rec: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(rec).map(([k, x]) => [k === v.flags[0] ? 'A' : k === v.flags[1] ? 'B' : k, x]));
}

interface Sweep {
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
async function sweep(label: string, variant: (n: number) => Variant, opts: { env?: Record<string, string>; extra?: (v: Variant, r: CrashRun) => Promise<unknown> } = {}): Promise<Sweep> {
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

describe('crash safety: local backend', () => {
  it('a run that completes', async () => {
    const s = await sweep('local, completes', () => ({ text: crashPlan({ name: 'crash-ok', flags: ['crash-a', 'crash-b'], breach: false }), flags: ['crash-a', 'crash-b'] }));
    expect(s.rollbackReruns).toEqual([]);
  }, 300_000);

  it('a run that breaches and rolls back', async () => {
    const s = await sweep('local, rolls back', () => ({ text: crashPlan({ name: 'crash-rb', flags: ['crash-a', 'crash-b'], breach: true }), flags: ['crash-a', 'crash-b'] }));
    expect(s.rollbackReruns.length).toBe(1);
  }, 300_000);
});

describe('crash safety: repeated crashes (local)', () => {
  it('recoveries that crash again (at their 1st, 2nd or 3rd point) still converge to the same outcome', async () => {
    const t0 = Date.now();
    const text = crashPlan({ name: 'crash-again', flags: ['crash-a', 'crash-b'], breach: true });
    const base = await crashRun(text, 0);
    const points = 2 * base.outcome.actions;
    // First crash at a spread of points; every recovery but the last crashes too.
    const cases = [1, 4, 7, 12, 14, 18, points - 1].map((n, i) => ({ n, again: [1 + (i % 3), 2, 1 + ((i + 1) % 3)] }));
    const runs = await pool(cases, CONCURRENCY, (c) => crashRun(text, c.n, { recoveryCrashAt: c.again, via: c.n % 2 ? 'resume' : 'start' }));
    let crashes = 0;
    for (const r of runs) {
      const where = `crash at ${r.n}, recovery ${JSON.stringify(r.recovery)}`;
      expect(r.crashed, where).toBe(true);
      crashes += 1 + r.recovery.filter((x) => x.code === -9).length;
      expect(r.finalCode, where).toBe(base.finalCode);
      expect(r.outcome.status, where).toBe(base.outcome.status);
      expect(r.outcome.flags, where).toEqual(base.outcome.flags);
      expect(r.outcome.localFlags, where).toEqual(base.outcome.localFlags);
      expect(r.outcome.steps, where).toEqual(base.outcome.steps);
      expect(r.outcome.eventTypes, where).toEqual(base.outcome.eventTypes);
      expect(r.outcome.incidents, where).toBe(1);
      expect(r.outcome.pending, where).toEqual([]);
      expect(r.outcome.rollbackRuns, where).toBeLessThanOrEqual(2);
    }
    console.log(`[crash] local, repeated crashes: ${cases.length} runs, ${crashes} SIGKILLs in total, all converged to ${base.outcome.status}; ${Date.now() - t0} ms`);
  }, 300_000);
});

describe('crash safety: real Unleash', () => {
  const url = inject('unleashUrl');
  const token = inject('unleashAdminToken');
  const admin = new UnleashAdmin(url, token);
  const env = { UNLEASH_TOKEN: token };
  const backend = `{ type: unleash, url: "${url}", token: "\${UNLEASH_TOKEN}", create: true, environment: development, timeoutMs: 5000, retryBudgetMs: 3000 }`;
  const tag = randomBytes(3).toString('hex');
  const variant = (kind: string, breach: boolean) => (n: number): Variant => {
    const flags: [string, string] = [`crash-${kind}-${tag}-${n}-a`, `crash-${kind}-${tag}-${n}-b`];
    return { text: crashPlan({ name: `crash-${kind}`, flags, breach, backend }), flags };
  };

  /** What Unleash itself holds and has seen: state per flag and its change history. */
  const inUnleash = async (v: Variant) => {
    const out: Record<string, unknown> = {};
    for (const [role, flag] of [['A', v.flags[0]], ['B', v.flags[1]]] as const) {
      const e = await admin.env(flag);
      const history = (await admin.call('GET', `/api/admin/events/${encodeURIComponent(flag)}`)).json() as {
        events: Array<{ id: number; type: string; environment?: string; data?: { parameters?: { rollout?: string }; title?: string } | null }>;
      };
      out[role] = {
        enabled: e.enabled,
        strategies: e.strategies.map((s) => ({ title: s.title, rollout: s.parameters?.rollout })),
        // Oldest first: every change rollout made, with the rollout percentage it set.
        history: history.events
          .filter((x) => x.environment === 'development' || x.type.startsWith('feature-created'))
          .sort((a, b) => a.id - b.id)
          .map((x) => `${x.type}${x.data?.parameters?.rollout !== undefined ? `:${x.data.parameters.rollout}` : ''}`),
      };
    }
    return out;
  };

  it('a run that completes', async () => {
    const s = await sweep('unleash, completes', variant('ok', false), { env, extra: (v) => inUnleash(v) });
    expect(s.rollbackReruns).toEqual([]);
    expect(s.baseExtra).toMatchObject({ A: { enabled: true, strategies: [{ title: 'managed by rollout', rollout: '100' }] }, B: { enabled: true, strategies: [{ rollout: '100' }] } });
    const history = (s.baseExtra as { A: { history: string[] } }).A.history;
    expect(history.filter((h) => h.startsWith('feature-strategy-')).map((h) => h.split(':')[1])).toEqual(['10', '30', '60', '100']);
  }, 600_000);

  it('a run that breaches and rolls back', async () => {
    const s = await sweep('unleash, rolls back', variant('rb', true), { env, extra: (v) => inUnleash(v) });
    expect(s.rollbackReruns.length).toBe(1);
    expect(s.baseExtra).toMatchObject({ A: { enabled: false }, B: { enabled: false } });
    const history = (s.baseExtra as { A: { history: string[] } }).A.history;
    expect(history.filter((h) => h.startsWith('feature-strategy-')).map((h) => h.split(':')[1])).toEqual(['10', '30']);
    expect(history[history.length - 1]).toBe('feature-environment-disabled');
  }, 600_000);
});
