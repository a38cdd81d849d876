/**
 * The interface every state store implements (the file store and the PostgreSQL store): what
 * the runner, the commands and the workers need. Types only — index.ts opens a store and
 * re-exports this, so implementations import their contract from here, not from index.ts.
 */
import type { Control, RunEvent, RunState } from '../engine/types.js';
import type { StateError } from '../errors.js';
import type { Plan } from '../plan/model.js';
import type { Fence, Lease, LockInfo, WorkerInfo } from './lease.js';


export interface Store {
  /** Where the state lives, for display (a directory, or the URL without credentials). */
  readonly dir: string;
  /** A store kept in files on this machine: its directory (e.g. to watch it for changes). */
  readonly localDir?: string;

  // ——— runs and their event logs ———
  /**
   * Record events and the run in one step (events first / one transaction). With a `fence`
   * the write happens only while that lease is still the run's current one: a driver that
   * lost its lease (paused, partitioned, taken over) gets LeaseLostError and writes nothing.
   */
  save(state: RunState, events: RunEvent[], fence?: Fence): Promise<void>;
  load(id: string): Promise<RunState>;
  events(id: string): Promise<RunEvent[]>;
  /** Every readable run, newest first. */
  list(): Promise<RunState[]>;
  /** Runs whose record cannot be used (corrupt, wrong shape, another schema), with why. */
  broken(): Promise<Array<{ id: string; error: StateError }>>;
  /** A run id, a plan name (its latest run) or nothing (the one active run / the latest). */
  resolve(ref?: string): Promise<string>;
  /** `key`: a stable name for this incident (the same action performed again rewrites it). */
  writeIncident(id: string, incident: unknown, key?: string): Promise<string>;
  /** Remove a run that never started (it lost the race for a flag lock). */
  discard(id: string): Promise<void>;

  // ——— the plan a run uses (stored without secrets: see planSnapshot) ———
  writePlan(id: string, plan: Plan): Promise<void>;
  readPlan(id: string): Promise<Plan | undefined>;

  // ——— control inbox: requests from other processes and machines ———
  pending(id: string): Promise<boolean>;
  post(id: string, ctl: Control): Promise<void>;
  /**
   * Take (and remove) waiting requests, oldest first: each is taken by exactly one reader.
   * With a fence, only while that lease is current (a stale driver takes nothing).
   */
  take(id: string, fence?: Fence): Promise<Control[]>;

  // ——— flag locks (owned by a run) ———
  readLock(kind: 'flag' | 'run', name: string): Promise<LockInfo | undefined>;
  lockFlags(runId: string, flags: string[], opts: { takeover?: boolean; now: number }): Promise<void>;
  unlockFlags(runId: string, flags: string[]): Promise<void>;

  // ——— run leases (owned by a driver: a foreground command or a worker) ———
  /**
   * Take the run's lease (LockError naming the holder and until when if a live driver has
   * it, unless `takeover`). Each grant increments the run's epoch: the fencing token.
   */
  lockRun(runId: string, opts: { takeover?: boolean; leaseMs?: number; now: number; worker?: string }): Promise<Lease>;
  /** The live driver of a run, if any. */
  driver(runId: string): Promise<LockInfo | undefined>;
  /** Extend leases still ours; returns the run ids whose lease was lost (taken over or gone). */
  renew(leases: Fence[], leaseMs?: number): Promise<Set<string>>;
  /** Hand a lease back (only if it is still ours). */
  release(lease: Fence): Promise<void>;
  /** Live leases, for `status --all` and `rollout workers`. */
  leases(): Promise<LockInfo[]>;

  // ——— workers ———
  /**
   * Claim up to `limit` runs that want a driver (active, or with side effects in flight) and
   * have no live lease, for worker `worker`. Claims never overlap between workers.
   */
  claim(worker: string, limit: number, leaseMs?: number): Promise<Lease[]>;
  heartbeat(w: WorkerInfo): Promise<void>;
  /** Workers seen within the last lease period, with the runs each holds. */
  workers(): Promise<WorkerInfo[]>;
  /** A worker leaving (SIGTERM): forget it. */
  leave(worker: string): Promise<void>;

  close?(): Promise<void>;
}
