/**
 * Crash safety (local backend; the Unleash sweeps are in crash-unleash*.test.ts, the
 * repeated-crash and killed-rollback cases in crash-recovery.test.ts, so they run in
 * parallel): a run killed (SIGKILL, via ROLLOUT_CRASH_AT=N) at any side-effect point — before
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
import { crashPlan } from './helpers.js';
import { sweep } from './crash-sweep.js';

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
