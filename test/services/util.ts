/**
 * Small helpers shared by the service starters: free ports, bounded waiting, child processes
 * that are always stopped (SIGTERM, then SIGKILL), and last-resort cleanup when the test
 * process itself exits.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A TCP port that was free on 127.0.0.1 a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `rollout-${prefix}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
}

/**
 * Poll `probe` until it returns a value other than undefined, at most `timeoutMs`. `probe`
 * may throw: that counts as "not yet" and the last error is reported on timeout. `abort`
 * (e.g. "the child process exited") ends the wait early with its message.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  opts: { timeoutMs: number; intervalMs?: number; abort?: () => string | undefined },
): Promise<T> {
  const started = Date.now();
  let last: unknown;
  for (let n = 0; ; n++) {
    const why = opts.abort?.();
    if (why) throw new Error(`${what}: ${why}`);
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() - started > opts.timeoutMs) {
      const detail = last instanceof Error ? `: last error: ${last.message}` : '';
      throw new Error(`${what}: not ready after ${opts.timeoutMs} ms${detail}`);
    }
    await sleep(Math.min(opts.intervalMs ?? 100, 25 * 2 ** Math.min(n, 6)));
  }
}

/** GET with a short timeout; returns status and body text, never throws on HTTP status. */
export async function probeHttp(url: string, timeoutMs = 2000): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: res.status, text: await res.text() };
}

/** Keeps the last `max` characters a child wrote, for error messages. */
export class OutputTail {
  private buf = '';
  constructor(private readonly max = 4000) {}
  push(chunk: Buffer | string): void {
    this.buf = (this.buf + chunk.toString()).slice(-this.max);
  }
  toString(): string {
    return this.buf.trim();
  }
}

// ---- last-resort cleanup -------------------------------------------------------------------
// If the test process dies (uncaught error, Ctrl-C), synchronous hooks still stop what we
// started, so no postgres/prometheus/unleash is left behind holding ports and temp dirs.
const exitHooks = new Set<() => void>();
let hooked = false;
function runExitHooks(): void {
  for (const h of [...exitHooks]) {
    try {
      h();
    } catch {
      /* best effort */
    }
  }
  exitHooks.clear();
}
export function onProcessExit(hook: () => void): () => void {
  if (!hooked) {
    hooked = true;
    process.once('exit', runExitHooks);
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(sig, () => {
        runExitHooks();
        process.kill(process.pid, sig);
      });
    }
  }
  exitHooks.add(hook);
  return () => exitHooks.delete(hook);
}

export function removeDirSync(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    /* best effort */
  }
}

export interface Child {
  proc: ChildProcess;
  tail: OutputTail;
  /** Why the process ended, or undefined while it runs. */
  exited(): string | undefined;
  /** SIGTERM, wait up to `graceMs`, then SIGKILL and wait again (bounded). */
  stop(graceMs?: number): Promise<void>;
}

/** Spawn a long-running child; it is killed on test-process exit if nobody stopped it. */
export function spawnChild(cmd: string, args: string[], opts: SpawnOptions = {}): Child {
  const tail = new OutputTail();
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let exit: string | undefined;
  const exitedP = new Promise<void>((resolve) => {
    proc.once('exit', (code, signal) => {
      exit = signal ? `exited on ${signal}` : `exited with code ${code}`;
      resolve();
    });
    proc.once('error', (err) => {
      exit = `failed to start: ${err.message}`;
      resolve();
    });
  });
  proc.stdout?.on('data', (d: Buffer) => tail.push(d));
  proc.stderr?.on('data', (d: Buffer) => tail.push(d));
  const unhook = onProcessExit(() => {
    if (!exit) proc.kill('SIGKILL');
  });
  const waitExit = (ms: number) =>
    Promise.race([exitedP.then(() => true), sleep(ms).then(() => false)]);
  return {
    proc,
    tail,
    exited: () => exit,
    async stop(graceMs = 5000) {
      try {
        if (exit) return;
        proc.kill('SIGTERM');
        if (await waitExit(graceMs)) return;
        proc.kill('SIGKILL');
        await waitExit(5000);
      } finally {
        unhook();
        proc.stdout?.destroy();
        proc.stderr?.destroy();
      }
    },
  };
}

/** Run a short command to completion (bounded); rejects with its output on failure. */
export function run(cmd: string, args: string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const tail = new OutputTail(8000);
    const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.stdout?.on('data', (d: Buffer) => tail.push(d));
    proc.stderr?.on('data', (d: Buffer) => tail.push(d));
    proc.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`${cmd}: ${err.message}`));
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(tail.toString());
      else
        reject(
          new Error(
            `${cmd} ${args.join(' ')} ${signal ? `killed (${signal}${signal === 'SIGKILL' ? `, timeout ${timeoutMs} ms?` : ''})` : `exited with code ${code}`}\n${tail.toString()}`,
          ),
        );
    });
  });
}

/** Run cleanup steps in order; all run even if some fail; the first error is rethrown. */
export async function cleanupAll(steps: Array<() => Promise<void> | void>): Promise<void> {
  let first: unknown;
  for (const s of steps) {
    try {
      await s();
    } catch (err) {
      first ??= err;
    }
  }
  if (first) throw first;
}
