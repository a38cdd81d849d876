/**
 * Run leases with fencing, and the lock policy both stores apply (written once, here).
 *
 * A run is driven by one process at a time: whoever holds its lease. A lease lasts LEASE_MS
 * and its holder renews it every RENEW_MS; on PostgreSQL both are measured on the database's
 * clock, so hosts with skewed clocks agree. Every grant increments the run's epoch — the
 * fencing token — and every state write of a driver names the epoch it holds: a driver that
 * was paused past its lease (SIGSTOP, a frozen VM, a network split) and taken over finds the
 * epoch moved on and writes nothing (LeaseLostError).
 */
import { hostname } from 'node:os';
import { LockError } from '../errors.js';
import { FINAL_STATUSES, type RunState } from '../engine/types.js';

/** How long a lease lasts without renewal. */
export const LEASE_MS = Number(process.env.ROLLOUT_LEASE_MS) || 15_000;
/** How often a driver renews its leases. */
export const RENEW_MS = Number(process.env.ROLLOUT_RENEW_MS) || Math.max(100, Math.floor(LEASE_MS / 3));

export interface LockInfo {
  owner: string; // run id
  host: string;
  pid: number;
  acquiredAt: string;
  /** ms since the epoch (the database's clock on PostgreSQL); 0 once released. */
  leaseUntil: number;
  /** Run leases: the fencing token, incremented on every grant. */
  epoch?: number;
  /** Run leases held by a worker: its id. */
  worker?: string;
}

/** What a state write must present: the run and the epoch its driver holds. */
export interface Fence {
  runId: string;
  epoch: number;
}

export interface Lease extends Fence {
  /** ms since the epoch when it lapses unless renewed (store clock). */
  until: number;
  worker?: string;
}

export interface WorkerInfo {
  id: string;
  host: string;
  pid: number;
  startedAt: number;
  concurrency: number;
  /** Filled by Store.workers(): ms since its last heartbeat, and how many runs it holds. */
  heartbeatAgeMs?: number;
  runs?: number;
}

/** The driver was taken over (or its lease is gone): it must stop driving, without writing. */
export class LeaseLostError extends LockError {
  constructor(
    readonly runId: string,
    held: number,
    now?: LockInfo,
  ) {
    super(
      `run ${runId}: this process lost its lease (epoch ${held})${now ? ` to ${describeHolder(now)}` : ''}; it wrote nothing more and stops driving the run`,
      'Another driver has the run. `rollout status --all` shows who drives it.',
    );
    this.name = 'LeaseLostError';
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Is the holder of a run lease alive? Its lease must not have lapsed (`now` on the store's
 * clock), and a holder on this host must still be running: a driver killed here is replaced
 * at once, one on another host when its lease lapses.
 */
export function holderAlive(h: LockInfo, now: number, here = hostname()): boolean {
  if (h.leaseUntil <= now) return false;
  return h.host !== here || pidAlive(h.pid);
}

export function describeHolder(h: LockInfo): string {
  return `pid ${h.pid} on ${h.host}${h.worker ? ` (worker ${h.worker})` : ''}`;
}

/** The conflict when a live driver holds the run: who, since when, until when, and what to do. */
export function runLockedError(runId: string, h: LockInfo, here = hostname()): LockError {
  const until = h.leaseUntil ? new Date(h.leaseUntil).toISOString() : 'unknown';
  return new LockError(
    `run ${runId} is being driven by ${describeHolder(h)} (since ${h.acquiredAt}, lease until ${until})`,
    h.host === here
      ? 'Use `rollout pause|rollback|approve` to steer it; they reach the running process.'
      : `If that process is gone, its lease lapses at ${until} (renewed every few seconds while it lives); then any command takes the run over. Or pass --takeover.`,
  );
}

/** The conflict when a flag belongs to another active run. */
export function flagLockedError(flag: string, holder: LockInfo, drv: LockInfo | undefined, last: LockInfo, run?: Pick<RunState, 'status' | 'schedule'>): LockError {
  // A scheduled run holds its flags from the moment it was started: say when it starts, and how to cancel it.
  if (run?.status === 'scheduled')
    return new LockError(
      `flag ${flag} is locked by run ${holder.owner}, scheduled to start at ${run.schedule ? new Date(run.schedule.at).toISOString() : 'a later time'} (${drv ? `driven by ${describeHolder(drv)}` : 'no live process drives it yet'}; locked since ${holder.acquiredAt})`,
      `A scheduled run holds its flags until it ends. Let it run, or cancel it: \`rollout abort ${holder.owner} --reason …\` (\`rollout status ${holder.owner}\` shows it).`,
    );
  return new LockError(
    `flag ${flag} is locked by run ${holder.owner} (${drv ? `driven by ${describeHolder(drv)}, alive` : `no live process drives it: its driver pid ${last.pid} on ${last.host} is not running`}; locked since ${holder.acquiredAt})`,
    drv
      ? `Wait for that run to finish, or steer it: \`rollout status ${holder.owner}\`, \`rollout abort ${holder.owner}\`.`
      : `Resume it (\`rollout resume ${holder.owner}\`), abort it (\`rollout abort ${holder.owner}\`), or pass --takeover to take its flags.`,
  );
}

/** The conflict when the holder of a flag is a run whose record cannot be read. */
export function unreadableHolderError(flag: string, owner: string, err: { message: string; hint?: string }): LockError {
  return new LockError(`flag ${flag} is locked by run ${owner}, whose state cannot be read: ${err.message}`, `${err.hint ?? ''} Or pass --takeover to take its flags.`.trim());
}

/** A run wants a driver while it is active, or finished with side effects still in flight. */
export function wantsDriver(s: RunState): boolean {
  return !FINAL_STATUSES.includes(s.status) || s.pending.length > 0;
}
