/**
 * A short-lived cross-process mutex: holding it = having created `dir` (mkdir is atomic).
 * A lock directory older than `staleMs` belongs to a process that died holding it and is
 * removed. Waits with jittered backoff up to `waitMs`, then throws `busy()`.
 */
import { mkdir, rm, stat } from 'node:fs/promises';

export async function withDirLock<T>(dir: string, opts: { staleMs: number; waitMs: number; busy: () => Error }, f: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + opts.waitMs;
  for (let i = 0; ; i++) {
    try {
      await mkdir(dir, { mode: 0o700 });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const st = await stat(dir).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > opts.staleMs) await rm(dir, { recursive: true, force: true });
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
