/**
 * The CLI in a temp directory: `run` calls main(argv, io) in-process (fast: no node start, no
 * module loading per call); `cli`/`spawn` start the built binary (dist/, built by `npm test`)
 * for what only a process shows — signals, crashes, two processes racing for a lock.
 */
import type { RunEvent } from '../../src/engine/types.js';
import { loadPlan } from '../../src/plan/load.js';
import type { Clock, VirtualClock } from '../../src/runner/clock.js';
import { runWorker } from '../../src/runner/worker.js';
import { openStore } from '../../src/state/index.js';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { execa, type ResultPromise } from 'execa';

export const BIN = resolve(import.meta.dirname, '../../bin/rollout.js');
export const ROOT = resolve(import.meta.dirname, '../..');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'rollout-cli-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function write(dir: string, file: string, text: string): Promise<string> {
  const p = join(dir, file);
  await mkdir(dirname(p), { recursive: true });
  await writeFile(p, text);
  return p;
}

export function spawn(args: string[], opts: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): ResultPromise {
  return execa('node', [BIN, ...args], {
    cwd: opts.cwd,
    env: { NO_COLOR: '1', CI: '1', ...opts.env },
    reject: false,
    timeout: opts.timeoutMs ?? 30_000,
    stdin: 'ignore',
  });
}

export async function cli(args: string[], opts: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): Promise<Run> {
  const r = await spawn(args, opts);
  return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
}

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (b: Buffer) => chunks.push(b));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8').replace(/\n$/, '') };
}

/**
 * Run the CLI in-process: the same main() the binary calls, with captured streams, the
 * binary's test environment (NO_COLOR, CI), no terminal, no signals and no prompt.
 */
export async function run(args: string[], opts: { cwd: string; env?: Record<string, string>; clock?: Clock }): Promise<Run> {
  const { main } = await import('../../src/cli.js');
  const out = capture();
  const err = capture();
  const code = await main(args, {
    cwd: opts.cwd,
    env: { ...process.env, NO_COLOR: '1', CI: '1', ...opts.env },
    ...(opts.clock ? { clock: opts.clock } : {}),
    stdout: out.stream,
    stderr: err.stream,
    tty: false,
    signals: () => () => undefined,
    prompt: async () => {
      throw new Error('no prompt in an in-process test');
    },
    exit: (c) => {
      throw new Error(`exit(${c}) requested in an in-process test`);
    },
  });
  await new Promise((r) => setImmediate(r));
  return { code, stdout: out.text(), stderr: err.text() };
}

/** A small plan on the local store with simulated metrics; `over` replaces top-level keys. */
export function quickPlan(o: { name?: string; flags?: string[]; steps?: string; hold?: string; interval?: string; series?: string; extra?: string; rollbackCommands?: string } = {}): string {
  return `name: ${o.name ?? 'quick'}
backend: { type: local }
metrics:
  sim:
    type: simulated
    series:
${o.series ?? '      errors: 0.1'}
defaults: { hold: ${o.hold ?? '200ms'}, interval: ${o.interval ?? '100ms'}, maxJump: 100 }
checks:
  - { name: errors, provider: sim, query: errors, max: 5, unit: '%', tier: critical }
phases:
  - name: main
    flags: [${(o.flags ?? ['quick-flag']).join(', ')}]
    steps: ${o.steps ?? '[10, 50, 100]'}
rollback:
  commands:
${o.rollbackCommands ?? '    - [node, -e, "require(\'fs\').writeFileSync(\'rollback-ran.json\', JSON.stringify({reason: process.env.ROLLOUT_REASON, run: process.env.ROLLOUT_RUN_ID, argv: process.argv.slice(1)}))"]'}
${o.extra ?? ''}`;
}

/**
 * A worker (`rollout worker`'s loop, in-process) driving every run in `dir`'s store on the
 * virtual `clock`, until `stop(event)` returns a reason, or 30 s of real time pass (the test
 * guard). Only the run's own loop moves virtual time: the worker's outer poll waits a few real
 * ms instead, so it does not push the run's clock past its wakes. Returns why it stopped.
 */
export async function workerOnVirtualClock(dir: string, clock: VirtualClock, o: { pollMs: number; stop: (e: RunEvent) => string | undefined }): Promise<unknown> {
  const ac = new AbortController();
  const guard = setTimeout(() => ac.abort('test guard: 30 s of real time'), 30_000);
  const store = await openStore({ dir: join(dir, '.rollout') });
  try {
    await runWorker({
      store,
      id: 'w1',
      pollMs: o.pollMs,
      cwd: dir,
      clock: { now: () => clock.now(), sleep: (ms: number, signal?: AbortSignal) => (signal === ac.signal ? new Promise<void>((r) => setTimeout(r, 5)) : clock.sleep(ms)) },
      loadPlan: async (st) => (await loadPlan(st.plan.file, { env: {}, cwd: dir })).plan,
      log: () => undefined,
      onEvent: (e) => {
        const why = o.stop(e);
        if (why) ac.abort(why);
      },
      signal: ac.signal,
    });
  } finally {
    clearTimeout(guard);
    await store.close?.();
  }
  return ac.signal.reason;
}
