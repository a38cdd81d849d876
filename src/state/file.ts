/**
 * The default state store, for one machine: files under .rollout/ (override with --state-dir
 * or ROLLOUT_STATE_DIR).
 *   runs/<id>/state.json    the run record, written atomically (temp, fsync, rename), mode 0600
 *   runs/<id>/events.jsonl  the append-only event log (the audit trail)
 *   runs/<id>/plan.json     the plan the run uses, secrets stripped (for status)
 *   runs/<id>/inbox/        control requests (pause, approve, rollback …) from other shells
 *   locks/                  one lock per flag (owned by a run) and one lease per run (owned by a
 *                           driver: a process, or a worker), with its epoch (fencing token)
 *   workers/<id>.json       live workers' heartbeats
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { LockError, StateError } from '../errors.js';
import { FINAL_STATUSES, type RunState } from '../engine/types.js';
import { withDirLock } from '../util/dirlock.js';
import type { Store } from './types.js';
import {
  LEASE_MS,
  flagLockedError,
  holderAlive,
  pidAlive,
  runLockedError,
  unreadableHolderError,
  wantsDriver,
  type Fence,
  type Lease,
  type LockInfo,
  type WorkerInfo,
} from './lease.js';
import { FileRuns, safeName, writeAtomic } from './file-runs.js';

export { pidAlive, type LockInfo };

/** Runs, events, incidents, plans, inbox and reading locks: file-runs.ts. Here: taking locks, run leases, workers. */
export class FileStore extends FileRuns implements Store {
  // ——— locks ———
  /**
   * Create a lock file, complete or not at all: the content goes to a private temp file that is
   * then hard-linked into place (link() fails with EEXIST when the lock exists). A reader never
   * sees an empty or half-written lock, which it would take for a stale one and remove.
   * Filesystems without hard links fall back to an exclusive create.
   */
  private async tryCreate(file: string, info: LockInfo): Promise<boolean> {
    const text = JSON.stringify(info);
    const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
      await link(tmp, file);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    } finally {
      await rm(tmp, { force: true });
    }
    try {
      const fh = await open(file, 'wx', 0o600);
      try {
        await fh.writeFile(text);
      } finally {
        await fh.close();
      }
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  }

  /**
   * Lock every flag for `runId`. A flag locked by another run that is still active blocks
   * (LockError naming the holder) unless `takeover`; locks of finished or vanished runs are
   * stale and replaced. All or nothing.
   */
  async lockFlags(runId: string, flags: string[], opts: { takeover?: boolean; now: number }): Promise<void> {
    await mkdir(join(this.dir, 'locks'), { recursive: true, mode: 0o700 });
    // Judging a lock stale and replacing it must not interleave with another process doing
    // the same, or both could win: the whole acquisition runs under one store-wide mutex.
    await this.withMutex(() => this.lockFlagsUnsafe(runId, flags, opts));
  }

  /** A short-lived store-wide mutex. A holder dead for 10 s is broken. */
  private async withMutex<T>(f: () => Promise<T>): Promise<T> {
    await mkdir(join(this.dir, 'locks'), { recursive: true, mode: 0o700 });
    const dir = join(this.dir, 'locks', '.mutex');
    return withDirLock(dir, { staleMs: 10_000, waitMs: 30_000, busy: () => new LockError(`the lock table in ${this.dir}/locks is busy`, `If no other rollout is running, remove ${dir}.`) }, f);
  }

  private async lockFlagsUnsafe(runId: string, flags: string[], opts: { takeover?: boolean; now: number }): Promise<void> {
    const taken: string[] = [];
    const info: LockInfo = { owner: runId, host: hostname(), pid: process.pid, acquiredAt: new Date(opts.now).toISOString(), leaseUntil: Number.MAX_SAFE_INTEGER };
    try {
      for (const flag of [...flags].sort()) {
        const file = this.lockFile('flag', flag);
        for (let attempt = 0; attempt < 3; attempt++) {
          if (await this.tryCreate(file, info)) {
            taken.push(flag);
            break;
          }
          const holder = await this.readLock('flag', flag);
          if (holder?.owner === runId) break; // ours already (resume)
          let active = false;
          let held: RunState | undefined;
          if (holder) {
            try {
              held = await this.load(holder.owner);
              active = !FINAL_STATUSES.includes(held.status);
            } catch (err) {
              // A vanished run's lock is stale; one whose state is unreadable is not known to be
              // finished, so it keeps its flags (until --takeover).
              if (err instanceof StateError && !opts.takeover) throw unreadableHolderError(flag, holder.owner, err);
              active = false;
            }
          }
          if (active && !opts.takeover) {
            const drv = await this.driver(holder!.owner);
            // The last process known to drive it: its run lease, else whoever took the flag lock.
            throw flagLockedError(flag, holder!, drv, drv ?? (await this.readLock('run', holder!.owner)) ?? holder!, held);
          }
          await rm(file, { force: true });
        }
      }
    } catch (err) {
      for (const f of taken) await rm(this.lockFile('flag', f), { force: true });
      throw err;
    }
  }

  async unlockFlags(runId: string, flags: string[]): Promise<void> {
    for (const flag of flags) {
      const holder = await this.readLock('flag', flag);
      if (holder?.owner === runId) await rm(this.lockFile('flag', flag), { force: true });
    }
  }

  // ——— run leases ———

  /**
   * The lease on a run: one driver at a time. A dead driver on this host, or a lease that
   * lapsed, is replaced. Judging and replacing run under the store-wide mutex (as for flags):
   * two processes both replacing a dead driver's lease could otherwise both win. A released
   * lease's file is removed, so its epoch cannot simply count up: a new epoch is the previous
   * one + 1 or the current time in ms, whichever is larger, and so still larger than any epoch
   * granted before (a driver stopped long ago cannot come back with a matching one).
   */
  async lockRun(runId: string, opts: { takeover?: boolean; leaseMs?: number; now: number; worker?: string }): Promise<Lease> {
    return this.withMutex(async () => {
      const lease = await this.grantUnsafe(runId, opts.leaseMs ?? LEASE_MS, opts.worker, opts.takeover ?? false);
      if (!lease.granted) throw runLockedError(runId, lease.holder);
      return lease.lease;
    });
  }

  private async grantUnsafe(runId: string, leaseMs: number, worker: string | undefined, takeover: boolean): Promise<{ granted: true; lease: Lease } | { granted: false; holder: LockInfo }> {
    const file = this.lockFile('run', runId);
    const now = Date.now();
    const h = await this.readLock('run', runId);
    if (h && holderAlive(h, now) && !takeover) return { granted: false, holder: h };
    const info: LockInfo = { owner: runId, host: hostname(), pid: process.pid, acquiredAt: new Date(now).toISOString(), leaseUntil: now + leaseMs, epoch: Math.max((h?.epoch ?? 0) + 1, now), ...(worker ? { worker } : {}) };
    await writeAtomic(file, JSON.stringify(info), false);
    return { granted: true, lease: { runId, epoch: info.epoch!, until: info.leaseUntil, ...(worker ? { worker } : {}) } };
  }

  async renew(leases: Fence[], leaseMs = LEASE_MS): Promise<Set<string>> {
    const lost = new Set<string>();
    if (!leases.length) return lost;
    // Under the mutex: a renewal must not overwrite a takeover that landed after our read.
    await this.withMutex(async () => {
      const until = Date.now() + leaseMs;
      for (const f of leases) {
        const h = await this.readLock('run', f.runId);
        if (!h || h.epoch !== f.epoch || h.leaseUntil === 0) lost.add(f.runId);
        else await writeAtomic(this.lockFile('run', f.runId), JSON.stringify({ ...h, leaseUntil: until }), false);
      }
    });
    return lost;
  }

  async release(f: Fence): Promise<void> {
    await this.withMutex(async () => {
      const h = await this.readLock('run', f.runId);
      if (h && h.epoch === f.epoch) await rm(this.lockFile('run', f.runId), { force: true });
    });
  }

  /** Is some live process driving this run right now? */
  async driver(runId: string): Promise<LockInfo | undefined> {
    const h = await this.readLock('run', runId);
    return h && holderAlive(h, Date.now()) ? h : undefined;
  }

  async leases(): Promise<LockInfo[]> {
    let names: string[] = [];
    try {
      names = (await readdir(join(this.dir, 'locks'))).filter((n) => n.startsWith('run-') && n.endsWith('.lock'));
    } catch {
      return [];
    }
    const now = Date.now();
    const out: LockInfo[] = [];
    for (const n of names) {
      try {
        const h = JSON.parse(await readFile(join(this.dir, 'locks', n), 'utf8')) as LockInfo;
        if (holderAlive(h, now)) out.push(h);
      } catch {
        /* removed meanwhile */
      }
    }
    return out;
  }

  // ——— workers ———

  async claim(worker: string, limit: number, leaseMs = LEASE_MS): Promise<Lease[]> {
    if (limit <= 0) return [];
    const now = Date.now();
    const want: RunState[] = [];
    for (const r of (await this.list()).reverse()) {
      // Oldest first; a quick look outside the mutex skips runs with a live driver.
      if (!wantsDriver(r)) continue;
      const h = await this.readLock('run', r.id);
      if (!h || !holderAlive(h, now)) want.push(r);
    }
    if (!want.length) return [];
    return this.withMutex(async () => {
      const out: Lease[] = [];
      for (const r of want) {
        if (out.length >= limit) break;
        const g = await this.grantUnsafe(r.id, leaseMs, worker, false);
        if (g.granted) out.push(g.lease);
      }
      return out;
    });
  }

  private workerFile(id: string) {
    return join(this.dir, 'workers', `${safeName(id)}.json`);
  }

  async heartbeat(w: WorkerInfo): Promise<void> {
    await mkdir(join(this.dir, 'workers'), { recursive: true, mode: 0o700 });
    const { heartbeatAgeMs: _a, runs: _r, ...rest } = w;
    await writeAtomic(this.workerFile(w.id), JSON.stringify({ ...rest, heartbeatAt: Date.now() }), false);
  }

  async workers(): Promise<WorkerInfo[]> {
    let names: string[] = [];
    try {
      names = (await readdir(join(this.dir, 'workers'))).filter((n) => n.endsWith('.json'));
    } catch {
      return [];
    }
    const now = Date.now();
    const leases = await this.leases();
    const out: WorkerInfo[] = [];
    for (const n of names) {
      try {
        const w = JSON.parse(await readFile(join(this.dir, 'workers', n), 'utf8')) as WorkerInfo & { heartbeatAt: number };
        const age = now - w.heartbeatAt;
        if (age > LEASE_MS || (w.host === hostname() && !pidAlive(w.pid))) continue;
        const { heartbeatAt: _h, ...info } = w;
        out.push({ ...info, heartbeatAgeMs: age, runs: leases.filter((l) => l.worker === w.id).length });
      } catch {
        /* removed meanwhile */
      }
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  async leave(worker: string): Promise<void> {
    await rm(this.workerFile(worker), { force: true });
  }
}

export function stateDir(opt?: string): string {
  return opt ?? process.env.ROLLOUT_STATE_DIR ?? '.rollout';
}


