/**
 * The state store every command, the runner and the workers work through: files under
 * .rollout/ by default (one machine), or PostgreSQL — the shared store for teams — when
 * ROLLOUT_STATE_URL is a postgres:// URL. Both implement `Store` and pass the same contract
 * (test/adapters/state-contract.ts); nothing above this folder asks which one it has.
 */
export type { Store } from './types.js';
export type { Fence, Lease, LockInfo, WorkerInfo } from './lease.js';
export { LeaseLostError, LEASE_MS, RENEW_MS, describeHolder, holderAlive, wantsDriver } from './lease.js';
import type { Store } from './types.js';

export function isPostgresUrl(s: string | undefined): s is string {
  return Boolean(s && /^postgres(ql)?:\/\//i.test(s));
}

/** The store named by `url` (PostgreSQL) or else the state directory `dir`. */
export async function openStore(o: { url?: string; dir: string }): Promise<Store> {
  if (isPostgresUrl(o.url)) {
    const { PgStore } = await import('./pg.js');
    return new PgStore(o.url);
  }
  const { FileStore } = await import('./file.js');
  const { checkStateDir, guardStore } = await import('./fs-guard.js');
  // fs failures (read-only, not a directory, full) become errors naming the directory (exit 8).
  await checkStateDir(o.dir);
  return guardStore(new FileStore(o.dir), o.dir);
}
