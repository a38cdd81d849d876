/**
 * Workers at scale (issue 12): BENCH_WORKER_RUNS (default 1000) concurrent runs on distinct
 * flags of the local flag store, simulated metrics (cheap), a 1 s check interval, driven by 4
 * `rollout worker` processes sharing the harness PostgreSQL on this machine. Printed:
 *   - lateness of each step relative to its due time (the previous step's hold end): p50, p99
 *     (goal: p99 < 1 interval = 1 s)
 *   - takeover after kill -9 of one worker: until every run it held is held by another
 *     (goal < 20 s with the default 15 s lease)
 *   - database statements per run per second (counted by the workers, ROLLOUT_PG_COUNT=1) and
 *     transactions per run per second (pg_stat_database)
 *   - worker RSS (goal < 150 MB each, flat over time): first and last sample, max
 * Runs are created in-process the way `rollout advance plan.yaml` does (first step applied).
 */
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import '../test/services/provided.d.ts';
import { createDatabaseAt } from '../test/services/postgres.js';
import { BIN, tempDir, write } from '../test/cli/helpers.js';
import { PgStore } from '../src/state/pg.js';
import { parsePlanText } from '../src/plan/load.js';
import { drive } from '../src/runner/session.js';

const RUNS = Number(process.env.BENCH_WORKER_RUNS ?? 1000);
const WORKERS = 4;
const HOLD_S = Number(process.env.BENCH_WORKER_HOLD_S ?? 40);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const figures: string[] = [];
const procs: ChildProcess[] = [];
afterAll(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  console.log(`\n=== workers bench ===\n${figures.join('\n')}\n=====================`);
});

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
};
const rssMb = (pid: number) => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
};

describe('workers at scale', () => {
  it(`${RUNS} runs, ${WORKERS} workers on one PostgreSQL`, { timeout: 1_200_000 }, async () => {
    const { dir, cleanup } = await tempDir();
    const url = await createDatabaseAt(inject('pgUrl'), `rollout_wbench_${randomBytes(4).toString('hex')}`);
    const store = await PgStore.open(url, { max: 8 });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      // 1. Create the runs (each with its first step applied), as `rollout advance` would.
      const t0 = Date.now();
      const flags = join(dir, 'flags.json');
      const file = await write(dir, 'plan.yaml', '# replaced per run\n');
      const ids: string[] = [];
      for (let i = 0; i < RUNS; i++) {
        const text = `name: b${i}
backend: { type: local, path: ${flags} }
metrics:
  sim: { type: simulated, series: { errors: 0.1 } }
defaults: { hold: ${HOLD_S}s, interval: 1s, maxJump: 100 }
checks:
  - { name: errors, provider: sim, query: errors, max: 5, tier: critical }
phases:
  - { name: main, flags: [bf-${i}], steps: [10, 50, 100] }
`;
        const planFile = await write(dir, `p${i}.yaml`, text);
        const { plan } = await parsePlanText(text, planFile, planFile);
        const s = await drive({ plan, store, cwd: dir, log: () => undefined, onEvent: () => undefined, mode: 'advance' });
        ids.push(s.id);
      }
      void file;
      const createdMs = Date.now() - t0;
      figures.push(`created ${RUNS} runs (first step applied) in ${(createdMs / 1000).toFixed(1)} s`);

      // 2. Four workers, counting their statements.
      const xact0 = Number((await admin.query(`SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()`)).rows[0].n);
      const logs = new Map<string, string>();
      const start = (id: string) => {
        const p = spawnChild(process.execPath, [BIN, 'worker', '--id', id, '--concurrency', String(RUNS)], {
          cwd: dir,
          env: { ...process.env, NO_COLOR: '1', CI: '1', ROLLOUT_STATE_URL: url, ROLLOUT_PG_COUNT: '1' },
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        logs.set(id, '');
        p.stderr!.on('data', (b: Buffer) => logs.set(id, logs.get(id)! + b.toString()));
        procs.push(p);
        return p;
      };
      const ws = Array.from({ length: WORKERS }, (_, i) => ({ id: `bw${i}`, proc: start(`bw${i}`) }));
      const tWork = Date.now();
      const rss = new Map<string, number[]>(ws.map((w) => [w.id, []]));
      let runSeconds = 0;
      let lastSample = Date.now();
      let killedAt = 0;
      let takeoverMs: number | undefined;
      let victimRuns: string[] = [];
      const victim = ws[0]!;
      for (let tick = 0; tick < 2_000; tick++) {
        await sleep(1000);
        const leases = await store.leases();
        const now = Date.now();
        runSeconds += (leases.length * (now - lastSample)) / 1000;
        lastSample = now;
        for (const w of ws) if (w.proc.exitCode === null && w.proc.signalCode === null) rss.get(w.id)!.push(rssMb(w.proc.pid!));
        const active = Number((await admin.query(`SELECT count(*) AS n FROM rollout.runs WHERE status NOT IN ('completed','rolled-back','aborted')`)).rows[0].n);
        // kill -9 one worker once every run is held and the first holds have started passing.
        if (!killedAt && leases.length >= active && now - tWork > (HOLD_S * 1000) / 2) {
          victimRuns = leases.filter((l) => l.worker === victim.id).map((l) => l.owner);
          if (victimRuns.length) {
            victim.proc.kill('SIGKILL');
            killedAt = Date.now();
          }
        }
        if (killedAt && takeoverMs === undefined) {
          const byRun = new Map(leases.map((l) => [l.owner, l.worker]));
          const done = new Set((await store.list()).filter((r) => r.status === 'completed').map((r) => r.id));
          if (victimRuns.every((r) => done.has(r) || (byRun.get(r) && byRun.get(r) !== victim.id))) takeoverMs = Date.now() - killedAt;
        }
        if (active === 0) break;
      }
      const workMs = Date.now() - tWork;
      const xact1 = Number((await admin.query(`SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()`)).rows[0].n);
      for (const w of ws.slice(1)) w.proc.kill('SIGTERM');
      await Promise.all(ws.slice(1).map((w) => new Promise((r) => (w.proc.exitCode !== null ? r(undefined) : w.proc.on('exit', r)))));
      const statements = ws.slice(1).reduce((n, w) => n + Number(/store queries: (\d+)/.exec(logs.get(w.id)!)?.[1] ?? NaN), 0);

      // 3. Lateness of every step after the first: applied at vs the previous step's hold end.
      // The killed worker's runs are late by design (until their lease lapses): apart.
      const late: number[] = [];
      const lateTaken: number[] = [];
      const decide: number[] = []; // step.intent (the decision) vs due
      const apply: number[] = []; // step.applied vs step.intent (the flag write, incl. waiting for the flag store)
      const taken = new Set(victimRuns);
      let doubled = 0;
      for (const id of ids) {
        const all = await store.events(id);
        const ev = all.filter((e) => e.type === 'step.applied');
        const intents = all.filter((e) => e.type === 'step.intent');
        if (!taken.has(id))
          for (let k = 1; k < ev.length && k < intents.length; k++) {
            decide.push(intents[k]!.at - Number(ev[k - 1]!.data?.holdUntil));
            apply.push(ev[k]!.at - intents[k]!.at);
          }
        if (new Set(ev.map((e) => e.data?.step)).size !== ev.length) doubled++;
        for (let k = 1; k < ev.length; k++) (taken.has(id) ? lateTaken : late).push(ev[k]!.at - Number(ev[k - 1]!.data?.holdUntil));
      }
      const runs = await store.list();
      const completed = runs.filter((r) => r.status === 'completed').length;
      const survivorsRunSeconds = runSeconds; // leases of all live workers, sampled each second
      figures.push(`${WORKERS} workers drove ${RUNS} runs (hold ${HOLD_S} s, check interval 1 s) to the end in ${(workMs / 1000).toFixed(1)} s: ${completed} completed, ${doubled} with a doubled step`);
      figures.push(`step lateness vs due time: p50 ${pct(late, 50)} ms, p99 ${pct(late, 99)} ms, max ${Math.max(...late)} ms over ${late.length} steps (goal p99 < 1000 ms)`);
      figures.push(`  of which deciding (step.intent − due): p50 ${pct(decide, 50)} ms, p99 ${pct(decide, 99)} ms; writing the flag (step.applied − step.intent): p50 ${pct(apply, 50)} ms, p99 ${pct(apply, 99)} ms`);
      if (lateTaken.length) figures.push(`  the killed worker's runs: p50 ${pct(lateTaken, 50)} ms, max ${Math.max(...lateTaken)} ms over ${lateTaken.length} steps (late until taken over)`);
      figures.push(`takeover after kill -9 of ${victim.id} (${victimRuns.length} runs): ${takeoverMs ?? 'n/a'} ms (goal < 20000 ms)`);
      figures.push(
        `database: ${(statements / survivorsRunSeconds).toFixed(2)} statements per run per second (3 surviving workers' count over all held run-seconds, ${statements} statements), ${((xact1 - xact0) / survivorsRunSeconds).toFixed(2)} transactions per run per second (pg_stat_database)`,
      );
      for (const [id, xs] of rss) if (xs.length) figures.push(`RSS ${id}: first ${xs[0]!.toFixed(0)} MB, last ${xs[xs.length - 1]!.toFixed(0)} MB, max ${Math.max(...xs.filter(Number.isFinite)).toFixed(0)} MB over ${xs.length} s (goal < 150 MB, flat)`);
      expect(completed).toBe(RUNS);
      expect(doubled).toBe(0);
    } finally {
      await admin.end();
      await store.close();
      await cleanup();
    }
  });
});
