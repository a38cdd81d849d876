/**
 * Crash safety, local backend (split from crash.test.ts so the files run in parallel; what each
 * case asserts is unchanged): recoveries that crash again still converge, and a `rollout
 * rollback` killed at each of its side-effect points is finished by the next one.
 */
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../cli/helpers.js';
import { ACTION_EVENTS, cli, crashPlan, crashRun, outcome, pool, rawState, spawn, tempDir, write } from './helpers.js';
import { CONCURRENCY } from './crash-sweep.js';

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


describe('crash safety: a driver killed mid-rollback, then `rollout rollback` again (local)', () => {
  /**
   * A run holding at its first step; `rollout rollback` killed at each of its side-effect points
   * (ROLLOUT_CRASH_AT counts from the rollback process's first); then `rollout rollback --reason`
   * again continues it (it used to answer "already rolling-back", exit 2). Every point must end
   * rolled back (exit 0), flags off, one incident, the rollback command run once or twice.
   */
  async function killedRollback(n: number) {
    const { dir, cleanup } = await tempDir();
    try {
      const plan = await write(dir, 'plan.yaml', crashPlan({ name: 'crash-mid-rb', flags: ['crash-a', 'crash-b'], breach: false }).replace('hold: 100ms', 'hold: 1h'));
      const first = await cli(['advance', plan], { cwd: dir, timeoutMs: 60_000 });
      if (first.code !== 6) throw new Error(`advance exited ${first.code}: ${first.stderr}`);
      const killed = await spawn(['rollback', '--reason', 'first try'], { cwd: dir, env: n ? { ROLLOUT_CRASH_AT: String(n) } : {}, timeoutMs: 60_000 });
      const crashed = killed.signal === 'SIGKILL';
      const after = (await rawState(dir)).status;
      // The second `rollback` and the reads need no process of their own: in-process (the
      // first `advance` stays one, so the lock it leaves names a dead pid, as in real use).
      const again = crashed ? await run(['rollback', '--reason', 'second try'], { cwd: dir }) : undefined;
      const o = await outcome(dir);
      const log = JSON.parse((await run(['log', '--json'], { cwd: dir })).stdout) as { events: Array<{ type: string }> };
      const actionsAfterRollback = log.events.slice(log.events.findIndex((e) => e.type === 'rollback.started')).filter((e) => ACTION_EVENTS.has(e.type)).length;
      const flags = JSON.parse(await readFile(join(dir, '.rollout/flags.json'), 'utf8')) as Record<string, { enabled: boolean }>;
      return { n, crashed, after, again, o, actionsAfterRollback, flags, firstCode: killed.exitCode };
    } finally {
      await cleanup();
    }
  }

  it('every side-effect point of the rollback: the second `rollback` finishes it (exit 0, flags off, one incident)', async () => {
    const t0 = Date.now();
    const base = await killedRollback(0);
    expect(base.crashed).toBe(false);
    expect(base.firstCode).toBe(0);
    expect(base.o.status).toBe('rolled-back');
    const points = 2 * base.actionsAfterRollback;
    expect(points).toBeGreaterThanOrEqual(6);
    const runs = await pool(
      Array.from({ length: points }, (_, i) => i + 1),
      CONCURRENCY,
      (n) => killedRollback(n),
    );
    const continuedFrom: Record<string, number> = {};
    for (const r of runs) {
      const where = `killed at point ${r.n} of ${points}; status then ${r.after}; second rollback: exit ${r.again?.code} ${r.again?.stderr ?? ''}`;
      expect(r.crashed, where).toBe(true);
      continuedFrom[r.after] = (continuedFrom[r.after] ?? 0) + 1;
      expect(r.again?.code, where).toBe(0);
      expect(r.o.status, where).toBe('rolled-back');
      expect(r.o.pending, where).toEqual([]);
      expect(r.flags['crash-a']?.enabled, where).toBe(false);
      expect(r.o.incidents, where).toBe(1);
      expect(r.o.rollbackRuns, where).toBeGreaterThanOrEqual(1);
      expect(r.o.rollbackRuns, where).toBeLessThanOrEqual(2);
    }
    console.log(`[crash] local, killed mid-rollback: ${points} points, every second \`rollback\` finished it (status when killed: ${JSON.stringify(continuedFrom)}); ${Date.now() - t0} ms`);
  }, 300_000);
});
