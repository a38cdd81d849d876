/**
 * `rollout worker` processes sharing one real PostgreSQL: every run driven by exactly one
 * worker, a SIGKILLed worker's runs taken over within lease + poll, a worker stopped past its
 * lease (SIGSTOP) fenced out when it wakes, SIGTERM finishing the action in flight, and
 * controls from other processes reaching a worker-held run. Real processes, default lease
 * (15 s) and renewal (5 s).
 */
import { spawn as spawnChild, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { createDatabaseAt } from '../services/postgres.js';
import { BIN, cli, tempDir, write } from '../cli/helpers.js';
import { PgStore } from '../../src/state/pg.js';
import { loadPlan } from '../../src/plan/load.js';
import { drive } from '../../src/runner/session.js';
import type { RunEvent } from '../../src/engine/types.js';

let url: string;
let dir: string;
let cleanup: () => Promise<void>;
let store: PgStore;
const procs: ChildProcess[] = [];

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  // Each test its own database: its workers see only its runs.
  url = await createDatabaseAt(inject('pgUrl'), `rollout_workers_${randomBytes(4).toString('hex')}`);
  store = await PgStore.open(url);
});
afterEach(async () => {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await store.close();
  await cleanup();
});

const stateUrl = () => url;

interface Worker {
  proc: ChildProcess;
  id: string;
  log: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A `rollout worker` process on this test's store. */
function startWorker(id: string, extra: string[] = []): Worker {
  const proc = spawnChild(process.execPath, [BIN, 'worker', '--id', id, ...extra], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1', CI: '1', ROLLOUT_STATE_URL: url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(proc);
  let out = '';
  proc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  proc.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return { proc, id, log: () => out, exited };
}

async function until<T>(what: string, f: () => Promise<T | undefined | false>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function plan(name: string, o: { hold: string; steps?: string; extra?: string; series?: string } = { hold: '1s' }): string {
  return `name: ${name}
backend: { type: local, path: ${join(dir, 'flags.json')} }
metrics:
  sim:
    type: simulated
    series:
${o.series ?? '      errors: 0.1'}
defaults: { hold: ${o.hold}, interval: 500ms, maxJump: 100 }
checks:
  - { name: errors, provider: sim, query: errors, max: 5, tier: critical }
phases:
  - name: main
    flags: [flag-${name}]
    steps: ${o.steps ?? '[10, 50, 100]'}
${o.extra ?? ''}`;
}

/** Create runs the way `rollout advance plan.yaml` does (first step applied), in-process. */
async function createRuns(names: string[], o?: Parameters<typeof plan>[1]): Promise<string[]> {
  const ids: string[] = [];
  for (const n of names) {
    const { plan: p } = await loadPlan(await write(dir, `${n}.yaml`, plan(n, o)));
    const s = await drive({ plan: p, store, cwd: dir, log: () => undefined, onEvent: () => undefined, mode: 'advance' });
    ids.push(s.id);
  }
  return ids;
}

/** Each step applied exactly once, and the log without gaps or doubles. */
async function expectCleanLog(id: string, steps = 3): Promise<RunEvent[]> {
  const events = await store.events(id);
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => events[0]!.seq + i));
  const applied = events.filter((e) => e.type === 'step.applied').map((e) => `${String(e.data?.phase)}/${String(e.data?.step)}`);
  expect(applied, id).toEqual(Array.from({ length: steps }, (_, i) => `0/${i}`));
  return events;
}

const holders = async () => new Map((await store.leases()).map((l) => [l.owner, l.worker ?? `pid ${l.pid}`]));

describe('rollout worker on PostgreSQL', () => {
  it('3 workers, 30 runs on distinct flags with 1 s holds: all complete, every step exactly once', { timeout: 150_000 }, async () => {
    const ids = await createRuns(Array.from({ length: 30 }, (_, i) => `r${i}`));
    const ws = ['wa', 'wb', 'wc'].map((id) => startWorker(id, ['--concurrency', '10']));
    const seen = new Map<string, Set<string>>();
    await until(
      'all 30 runs to complete',
      async () => {
        for (const [run, w] of await holders()) (seen.get(w) ?? seen.set(w, new Set()).get(w)!).add(run);
        const runs = await store.list();
        return runs.length === 30 && runs.every((r) => r.status === 'completed' && !r.pending.length);
      },
      120_000,
    );
    for (const id of ids) await expectCleanLog(id);
    // The work was shared, and `rollout workers` lists all three.
    expect([...seen.keys()].sort()).toEqual(['wa', 'wb', 'wc']);
    const listed = JSON.parse((await cli(['workers', '--json'], { cwd: dir, env: { ROLLOUT_STATE_URL: stateUrl() } })).stdout);
    expect(listed.workers.map((w: { id: string }) => w.id).sort()).toEqual(['wa', 'wb', 'wc']);
    for (const w of ws) w.proc.kill('SIGTERM');
    for (const w of ws) expect((await w.exited).code, w.log()).toBe(0);
    expect(await store.workers()).toEqual([]);
  });

  it('kill -9 of one worker: its runs are taken over in < 20 s and complete, none doubled', { timeout: 150_000 }, async () => {
    const ids = await createRuns(Array.from({ length: 24 }, (_, i) => `k${i}`), { hold: '8s' });
    // Room for every run on each worker: the survivors can take the victim's runs at once.
    const ws = ['ka', 'kb', 'kc'].map((id) => startWorker(id, ['--concurrency', '24']));
    // Every run held, four by each worker.
    const held = await until('every run to have a worker', async () => {
      const h = await holders();
      return ids.every((id) => h.has(id)) && h;
    });
    const victim = ws[0]!;
    const itsRuns = [...held].filter(([, w]) => w === victim.id).map(([r]) => r);
    expect(itsRuns.length).toBeGreaterThan(0);
    const t0 = Date.now();
    victim.proc.kill('SIGKILL');
    await until(
      "the victim's runs to be driven by the others",
      async () => {
        const h = await holders();
        const runs = await store.list();
        return itsRuns.every((r) => (h.get(r) && h.get(r) !== victim.id) || runs.find((x) => x.id === r)?.status === 'completed');
      },
      30_000,
    );
    const takeoverMs = Date.now() - t0;
    console.log(`[workers] kill -9 takeover of ${itsRuns.length} runs: ${takeoverMs} ms (lease 15 s, renew 5 s, poll 1 s)`);
    expect(takeoverMs).toBeLessThan(20_000);
    await until('all runs to complete', async () => (await store.list()).every((r) => r.status === 'completed' && !r.pending.length), 90_000);
    for (const id of ids) await expectCleanLog(id);
  });

  it('a worker stopped past its lease (SIGSTOP) is fenced out when it wakes: it writes nothing more to the run', { timeout: 120_000 }, async () => {
    const [id] = await createRuns(['fence'], { hold: '1h' });
    const a = startWorker('stopped');
    const before = await until('worker A to hold the run', async () => (await store.driver(id!))?.worker === 'stopped' && (await store.driver(id!)));
    const b = startWorker('taker');
    a.proc.kill('SIGSTOP');
    const after = await until('worker B to take the run over', async () => {
      const d = await store.driver(id!);
      return d?.worker === 'taker' && d;
    }, 40_000);
    expect(after.epoch).toBeGreaterThan(before.epoch!);
    // B moves the run on (a control through the inbox), so A's view is now stale.
    const env = { ROLLOUT_STATE_URL: stateUrl() };
    expect((await cli(['promote', id!], { cwd: dir, env })).code).toBe(0);
    await until('50 %', async () => (await store.load(id!)).flags['flag-fence']?.percentage === 50);
    const seqBefore = (await store.load(id!)).seq;
    a.proc.kill('SIGCONT');
    await until("A to notice it lost the lease", async () => /lease lost/.test(a.log()), 20_000);
    // A's stale decisions (it still believes the run is at 10 %) were refused: the run is as B left it.
    const s = await store.load(id!);
    expect(s.flags['flag-fence']?.percentage).toBe(50);
    expect(s.seq).toBeGreaterThanOrEqual(seqBefore);
    expect((await store.driver(id!))?.worker).toBe('taker');
    expect(a.log()).toMatch(/nothing more written/);
    expect((await cli(['promote', id!, '--full'], { cwd: dir, env })).code).toBe(0);
    await until('completion', async () => (await store.load(id!)).status === 'completed');
    await expectCleanLog(id!);
    a.proc.kill('SIGKILL');
    b.proc.kill('SIGTERM');
    expect((await b.exited).code).toBe(0);
  });

  it('SIGTERM: the action in flight is completed and recorded, leases released, exit 0', { timeout: 90_000 }, async () => {
    const slow = `[node, -e, "require('fs').writeFileSync('cmd-started',''); setTimeout(() => require('fs').writeFileSync('cmd-finished',''), 3000)"]`;
    const [id] = await createRuns(['term'], {
      hold: '1h',
      series: "      errors:\n        - { after: 0s, value: 0.1 }\n        - { after: 2s, value: 9 }",
      extra: `rollback:\n  commands:\n    - { name: slow, run: ${slow}, timeout: 30s }\n`,
    });
    const w = startWorker('term');
    await until('the rollback command to start', async () => existsSync(join(dir, 'cmd-started')), 40_000);
    w.proc.kill('SIGTERM');
    const exit = await w.exited;
    expect(exit.code, w.log()).toBe(0);
    expect(existsSync(join(dir, 'cmd-finished'))).toBe(true);
    const events = await store.events(id!);
    expect(events.some((e) => e.type === 'command.finished' && /slow/.test(e.msg))).toBe(true);
    expect(await store.driver(id!)).toBeUndefined();
    expect(await store.workers()).toEqual([]);
    // Another worker carries the rollback to its end.
    const next = startWorker('next');
    await until('rolled back', async () => {
      const s = await store.load(id!);
      return s.status === 'rolled-back' && !s.pending.length;
    }, 40_000);
    expect(events.filter((e) => e.type === 'command.finished')).toHaveLength(1);
    expect((await store.events(id!)).filter((e) => e.type === 'command.finished')).toHaveLength(1);
    next.proc.kill('SIGTERM');
    await next.exited;
  });

  it('an incomplete rollback is retried by the worker on its own, with backoff, escalating again until it completes', { timeout: 120_000 }, async () => {
    const gated = `[node, -e, "process.exit(require('fs').existsSync('fixed') ? 0 : 1)"]`;
    const [id] = await createRuns(['retry'], {
      hold: '1h',
      series: "      errors:\n        - { after: 0s, value: 0.1 }\n        - { after: 1s, value: 9 }",
      extra: `rollback:\n  commands:\n    - { name: gated, run: ${gated}, timeout: 30s }\n`,
    });
    const w = startWorker('retrier');
    await until('the rollback to be incomplete', async () => (await store.load(id!)).status === 'rollback-incomplete', 40_000);
    await until('a first retry by the worker, failed again', async () => {
      const s = await store.load(id!);
      return (s.rollback?.retries ?? 0) >= 1 && s.status === 'rollback-incomplete';
    }, 30_000);
    await write(dir, 'fixed', '');
    await until('the rollback to complete', async () => (await store.load(id!)).status === 'rolled-back', 60_000);
    const events = await store.events(id!);
    const retries = events.filter((e) => e.type === 'rollback.retry');
    expect(retries.length).toBeGreaterThanOrEqual(2);
    // Backoff: the second retry came later after the first than the first after the failure.
    const incomplete = events.filter((e) => e.type === 'rollback.incomplete');
    expect(retries[1]!.at - incomplete[1]!.at).toBeGreaterThan(retries[0]!.at - incomplete[0]!.at);
    expect(events.filter((e) => e.type === 'rollback.escalated').length).toBeGreaterThanOrEqual(2);
    expect(w.log()).toMatch(/rollback incomplete .*retrying, attempt 2/);
    w.proc.kill('SIGTERM');
    expect((await w.exited).code).toBe(0);
  });

  it('controls from another process reach a worker-held run within a poll; start --detach hands a run to the workers', { timeout: 120_000 }, async () => {
    const w = startWorker('ctl');
    await until('the worker to be alive', async () => (await store.workers()).length === 1);
    const env = { ROLLOUT_STATE_URL: stateUrl() };
    const f = await write(dir, 'ctl.yaml', plan('ctl', { hold: '1h' }));
    const det = await cli(['start', f, '--detach'], { cwd: dir, env });
    expect(det.stderr + det.stdout).toMatch(/handed to worker ctl/);
    const id = (await store.list())[0]!.id;
    await until('the worker to hold it', async () => (await store.driver(id))?.worker === 'ctl');
    const st = JSON.parse((await cli(['status', '--all', '--json'], { cwd: dir, env })).stdout);
    expect(st.runs[0].driver).toMatchObject({ worker: 'ctl' });
    const t0 = Date.now();
    const paused = await cli(['pause', id, '--reason', 'looking'], { cwd: dir, env });
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stdout).toMatch(/sent to pid \d+/);
    expect((await store.load(id)).status).toBe('paused');
    const resumed = await cli(['resume', id], { cwd: dir, env });
    expect(resumed.stdout + resumed.stderr).toMatch(/running/);
    expect((await store.load(id)).status).toBe('running');
    expect((await cli(['promote', id, '--full'], { cwd: dir, env })).code).toBe(0);
    await until('completed', async () => (await store.load(id)).status === 'completed');
    console.log(`[workers] pause, resume and promote --full through a worker: ${Date.now() - t0} ms including 3 CLI starts`);
    // Still one driver throughout: the worker.
    const events = await expectCleanLog(id);
    expect(events.filter((e) => e.type === 'control.refused')).toEqual([]);
    w.proc.kill('SIGTERM');
    expect((await w.exited).code).toBe(0);
  });
});
