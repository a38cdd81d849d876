/**
 * Crash safety (local backend; the Unleash sweeps are in crash-unleash.test.ts, so both run in parallel): a run killed (SIGKILL, via ROLLOUT_CRASH_AT=N) at any side-effect point — before
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
import { describe, expect, it } from 'vitest';
import { crashPlan, crashRun, pool } from './helpers.js';
import { CONCURRENCY, sweep } from './crash-sweep.js';

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

