/**
 * A short-lived cross-process mutex: holding it = having created `dir` (mkdir is atomic).
 * A lock directory older than `staleMs` belongs to a process that died holding it and is
 * removed. Waits with jittered backoff up to `waitMs`, then throws `busy()`.
 *
 * Breaking a stale lock happens under a second lock (`<dir>.break`), and the lock's age is
 * checked again under it: without that, two waiters that both saw the same stale lock could
 * each remove it, the second one removing the fresh lock a third waiter had just taken.
 */
import { mkdir, rm, stat } from 'node:fs/promises';

const isStale = async (path: string, staleMs: number) => {
  const st = await stat(path).catch(() => undefined);
  return st !== undefined && Date.now() - st.mtimeMs > staleMs;
};

async function breakIfStale(dir: string, staleMs: number): Promise<void> {
  const breaker = `${dir}.break`;
  try {
    await mkdir(breaker, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Another waiter is breaking it; or a breaker died, and its leftover is stale in turn.
    if (await isStale(breaker, staleMs)) await rm(breaker, { recursive: true, force: true });
    return;
  }
  try {
    if (await isStale(dir, staleMs)) await rm(dir, { recursive: true, force: true });
  } finally {
    await rm(breaker, { recursive: true, force: true });
  }
}

export async function withDirLock<T>(dir: string, opts: { staleMs: number; waitMs: number; busy: () => Error }, f: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + opts.waitMs;
  for (let i = 0; ; i++) {
    try {
      await mkdir(dir, { mode: 0o700 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (await isStale(dir, opts.staleMs)) await breakIfStale(dir, opts.staleMs);
      if (Date.now() > deadline) throw opts.busy();
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 + Math.min(i, 20) * 2));
    }
  }
  try {
    return await f();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
