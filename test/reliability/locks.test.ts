/**
 * Lock exclusivity: 20 `rollout start` processes racing for one flag in one state directory —
 * exactly one proceeds, 19 exit 5 naming the holder. A run whose driver was SIGKILLed keeps its
 * flags from other runs (the error names the run, the dead pid and that it is not running)
 * until --takeover.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, quickPlan, spawn, tempDir, write } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

const RACERS = 20;

async function until(what: string, f: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function statusJson(ref?: string): Promise<{ run: string; plan: string; status: string; driver: { pid: number } | null; flags: Record<string, { percentage: number }> }> {
  const r = await cli(['status', ...(ref ? [ref] : []), '--json'], { cwd: dir });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

/**
 * Start RACERS processes at once on plans that all roll out `race-flag` with a 1 h hold (the
 * winner holds its lock while the others try), wait for the losers, then let the winner
 * finish with `promote --full`.
 */
async function race(planFor: (i: number) => string) {
  const t0 = Date.now();
  const files = await Promise.all(Array.from({ length: RACERS }, (_, i) => write(dir, `p${i}.yaml`, planFor(i))));
  const procs = files.map((f) => spawn(['start', f], { cwd: dir, timeoutMs: 120_000 }));
  const settled = new Map<number, { code: number; stderr: string }>();
  procs.forEach((p, i) => void p.then((r) => settled.set(i, { code: r.exitCode ?? -1, stderr: String(r.stderr) })));
  await until('19 racers to give up', async () => settled.size >= RACERS - 1, 100_000);
  const running = procs.map((_, i) => i).filter((i) => !settled.has(i));
  const losers = [...settled.values()];
  expect(running).toHaveLength(1);
  const winner = procs[running[0]!]!;
  let st = await statusJson();
  await until('the winner to apply its first step', async () => (st = await statusJson()).flags['race-flag']?.percentage === 10);
  expect(st.status).toBe('running');
  expect(st.driver?.pid).toBe(winner.pid);
  expect((await cli(['promote', '--full'], { cwd: dir })).code).toBe(0);
  const w = await winner;
  expect(w.exitCode, String(w.stderr)).toBe(0);
  const runs = await readdir(join(dir, '.rollout/runs'));
  const locks = existsSync(join(dir, '.rollout/locks')) ? await readdir(join(dir, '.rollout/locks')) : [];
  return { winnerRun: st.run, winnerPid: winner.pid!, losers, runs, locks, ms: Date.now() - t0 };
}

describe('20 processes, one flag', () => {
  it('different plans: exactly one proceeds; 19 exit 5 naming the holder run and its live pid', async () => {
    const r = await race((i) => quickPlan({ name: `racer-${i}`, flags: ['race-flag'], hold: '1h', interval: '100ms' }));
    expect(r.losers.map((l) => l.code)).toEqual(Array(RACERS - 1).fill(5));
    for (const l of r.losers) {
      expect(l.stderr).toContain(`flag race-flag is locked by run ${r.winnerRun}`);
      expect(l.stderr).toContain(`driven by pid ${r.winnerPid}`);
      expect(l.stderr).toMatch(/alive/);
      expect(l.stderr).not.toMatch(/\n\s+at /);
    }
    // The losers' runs were discarded; the winner's run completed and released every lock.
    expect(r.runs).toEqual([r.winnerRun]);
    expect((await statusJson(r.winnerRun)).status).toBe('completed');
    expect(r.locks.filter((l) => !l.startsWith('.'))).toEqual([]);
    console.log(`[locks] ${RACERS} racers, different plans: 1 proceeded (${r.winnerRun}), ${r.losers.length} exited 5 naming it; ${r.ms} ms`);
  }, 180_000);

  it('the same plan: exactly one drives its run; 19 exit 5 naming a run of the plan and a pid; one run left', async () => {
    const r = await race(() => quickPlan({ name: 'same', flags: ['race-flag'], hold: '1h', interval: '100ms' }));
    expect(r.losers.map((l) => l.code)).toEqual(Array(RACERS - 1).fill(5));
    for (const l of r.losers) {
      // Either the run lock (it found the run and its live driver) or the flag lock.
      expect(l.stderr).toMatch(/(run same-\S+ is being driven by pid \d+|flag race-flag is locked by run same-\S+ \(driven by pid \d+)/);
      expect(l.stderr).not.toMatch(/\n\s+at /);
    }
    expect(r.runs).toEqual([r.winnerRun]);
    const log = JSON.parse((await cli(['log', r.winnerRun, '--json'], { cwd: dir })).stdout) as { events: Array<{ type: string }> };
    expect(log.events.filter((e) => e.type === 'step.applied')).toHaveLength(3);
    expect(log.events.filter((e) => e.type === 'run.started')).toHaveLength(1);
    expect(r.locks.filter((l) => !l.startsWith('.'))).toEqual([]);
    console.log(`[locks] ${RACERS} racers, same plan: 1 proceeded (${r.winnerRun}), ${r.losers.length} exited 5; ${r.ms} ms`);
  }, 180_000);
});

describe('a dead holder', () => {
  it('blocks another run (exit 5 naming run, pid, not running) until --takeover', async () => {
    const a = await write(dir, 'a.yaml', quickPlan({ name: 'holder', flags: ['dead-flag'], hold: '1h' }));
    const b = await write(dir, 'b.yaml', quickPlan({ name: 'taker', flags: ['dead-flag'], hold: '100ms' }));
    const p = spawn(['start', a], { cwd: dir });
    await until('the holder to apply its first step', async () => {
      if (!existsSync(join(dir, '.rollout/flags.json'))) return false;
      return (JSON.parse(await readFile(join(dir, '.rollout/flags.json'), 'utf8')) as Record<string, { percentage: number }>)['dead-flag']?.percentage === 10;
    });
    const pid = p.pid!;
    p.kill('SIGKILL');
    const pr = await p;
    expect(pr.signal).toBe('SIGKILL');
    const holder = await statusJson('holder');
    expect(holder.status).toBe('running');
    expect(holder.driver).toBeNull();

    const blocked = await cli(['start', b], { cwd: dir });
    expect(blocked.code).toBe(5);
    expect(blocked.stderr).toContain(`flag dead-flag is locked by run ${holder.run}`);
    expect(blocked.stderr).toContain(`driver pid ${pid}`);
    expect(blocked.stderr).toMatch(/is not running/);
    expect(blocked.stderr).toMatch(/--takeover/);
    expect(blocked.stderr).not.toMatch(/\n\s+at /);
    // Still blocked on a second try: a dead driver does not free the flag by itself.
    expect((await cli(['start', b], { cwd: dir })).code).toBe(5);
    expect(await readdir(join(dir, '.rollout/runs'))).toEqual([holder.run]);

    const taken = await cli(['start', b, '--takeover'], { cwd: dir });
    expect(taken.code, taken.stderr).toBe(0);
    const taker = await statusJson('taker');
    expect(taker.status).toBe('completed');
    expect(taker.flags['dead-flag']?.percentage).toBe(100);
  }, 120_000);

  it('a run whose driver died is picked up by resume (its own run lock is stale), no --takeover needed', async () => {
    const a = await write(dir, 'a.yaml', quickPlan({ name: 'holder', flags: ['dead-flag'], hold: '300ms' }));
    const p = spawn(['start', a], { cwd: dir, env: { ROLLOUT_CRASH_AT: '4' } });
    expect((await p).signal).toBe('SIGKILL');
    const lock = JSON.parse(await readFile(join(dir, '.rollout/locks', (await readdir(join(dir, '.rollout/locks'))).find((f) => f.startsWith('run-'))!), 'utf8')) as { pid: number; owner: string };
    expect(lock.pid).toBe(p.pid);
    const r = await cli(['resume'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect((await statusJson()).status).toBe('completed');
  }, 60_000);
});
