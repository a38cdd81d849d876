/**
 * The PostgreSQL store's locks, run leases and workers (see pg.ts for the guarantees): flag
 * locks and run leases timed on the database's clock, epochs as fencing tokens, claims with
 * FOR UPDATE SKIP LOCKED.
 */
import { hostname } from 'node:os';
import { FINAL_STATUSES, type RunState } from '../engine/types.js';
import { LockError, StateError } from '../errors.js';
import { LEASE_MS, flagLockedError, holderAlive, pidAlive, runLockedError, unreadableHolderError, type Fence, type Lease, type LockInfo, type WorkerInfo } from './lease.js';
import { FINAL_SQL, lockInfo, NOW_MS, PgBase, pgText, type Db, type LockRow } from './pg-base.js';

export class PgLeases extends PgBase {
  // ——— locks ———

  async readLock(kind: 'flag' | 'run', name: string): Promise<LockInfo | undefined> {
    return this.run(`cannot read the ${kind} lock ${name}`, () => this.readLockOn(this.pool, kind, name));
  }

  protected async readLockOn(db: Db, kind: 'flag' | 'run', name: string, forUpdate = false): Promise<LockInfo | undefined> {
    const { rows } = await db.query<LockRow>(
      kind === 'flag'
        ? `SELECT owner, host, pid, acquired_at, lease_until FROM ${this.t('flag_locks')} WHERE flag = $1${forUpdate ? ' FOR UPDATE' : ''}`
        : `SELECT run_id AS owner, host, pid, acquired_at, lease_until, epoch, worker FROM ${this.t('run_locks')} WHERE run_id = $1${forUpdate ? ' FOR UPDATE' : ''}`,
      [name],
    );
    return rows[0] && lockInfo(rows[0]);
  }

  /**
   * Is the run still active? A vanished run is not; one whose record cannot be read is not
   * known to be finished: `unreadable` carries its StateError.
   */
  protected async active(db: Db, runId: string): Promise<{ active: boolean; unreadable?: StateError; state?: RunState }> {
    const { rows } = await db.query<{ state: unknown }>(`SELECT state FROM ${this.t('runs')} WHERE id = $1`, [runId]);
    if (!rows[0]) return { active: false };
    try {
      const state = this.check(runId, rows[0].state);
      return { active: !FINAL_STATUSES.includes(state.status), state };
    } catch (err) {
      if (err instanceof StateError) return { active: false, unreadable: err };
      throw err;
    }
  }

  /**
   * Lock every flag for `runId`. A flag locked by another run that is still active blocks
   * (LockError naming the holder) unless `takeover`, and so does one held by a run whose record
   * cannot be read; locks of finished or vanished runs are stale and replaced. All or nothing:
   * one transaction, flags in sorted order (no deadlock between two acquirers), each contested
   * row judged under its row lock.
   */
  async lockFlags(runId: string, flags: string[], opts: { takeover?: boolean; now: number }): Promise<void> {
    const info: LockInfo = { owner: runId, host: hostname(), pid: process.pid, acquiredAt: new Date(opts.now).toISOString(), leaseUntil: Number.MAX_SAFE_INTEGER };
    await this.run(`cannot lock flags for run ${runId}`, () =>
      this.tx(async (c) => {
        for (const flag of [...new Set(flags)].sort()) {
          for (let attempt = 0; ; attempt++) {
            const ins = await c.query(
              `INSERT INTO ${this.t('flag_locks')} (flag, owner, host, pid, acquired_at, lease_until) VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (flag) DO NOTHING`,
              [flag, info.owner, info.host, info.pid, info.acquiredAt, info.leaseUntil],
            );
            if (ins.rowCount === 1) break;
            const holder = await this.readLockOn(c, 'flag', flag, true);
            if (!holder) {
              // Released between our insert and our look: insert again.
              if (attempt < 5) continue;
              throw new LockError(`could not lock flag ${flag}: its lock keeps changing hands`);
            }
            if (holder.owner === runId) break; // ours already (resume)
            const judged = await this.active(c, holder.owner);
            // A vanished run's lock is stale; one whose record is unreadable keeps its flags (until --takeover).
            if (judged.unreadable && !opts.takeover) throw unreadableHolderError(flag, holder.owner, judged.unreadable);
            if (judged.active && !opts.takeover) {
              const drv = await this.driverOn(c, holder.owner);
              throw flagLockedError(flag, holder, drv, drv ?? (await this.readLockOn(c, 'run', holder.owner)) ?? holder, judged.state);
            }
            // Stale (or taken over): replaced under the row lock we hold.
            await c.query(`UPDATE ${this.t('flag_locks')} SET owner = $2, host = $3, pid = $4, acquired_at = $5, lease_until = $6 WHERE flag = $1`, [
              flag,
              info.owner,
              info.host,
              info.pid,
              info.acquiredAt,
              info.leaseUntil,
            ]);
            break;
          }
        }
      }),
    );
  }

  async unlockFlags(runId: string, flags: string[]): Promise<void> {
    if (!flags.length) return;
    await this.run(`cannot unlock flags of run ${runId}`, () =>
      this.pool.query(`DELETE FROM ${this.t('flag_locks')} WHERE owner = $1 AND flag = ANY($2::text[])`, [runId, [...new Set(flags)]]),
    );
  }

  // ——— run leases ———

  protected async dbNow(db: Db): Promise<number> {
    return Number((await db.query<{ now: string }>(`SELECT ${NOW_MS} AS now`)).rows[0]!.now);
  }

  /**
   * The lease on a run: one driver at a time. A dead driver on this host is replaced at once;
   * one on another host once its lease lapsed on the database clock (or with `takeover`).
   * Judged and replaced under the row lock, in one transaction; every grant bumps the epoch.
   */
  async lockRun(runId: string, opts: { takeover?: boolean; leaseMs?: number; now: number; worker?: string }): Promise<Lease> {
    const leaseMs = Math.round(opts.leaseMs ?? LEASE_MS);
    const host = hostname();
    return this.run(`cannot lock run ${runId}`, () =>
      this.tx(async (c) => {
        for (let attempt = 0; ; attempt++) {
          const ins = await c.query<{ epoch: string; lease_until: string }>(
            `INSERT INTO ${this.t('run_locks')} (run_id, host, pid, acquired_at, lease_until, epoch, worker) VALUES ($1, $2, $3, now(), ${NOW_MS} + $4, 1, $5)
             ON CONFLICT (run_id) DO NOTHING RETURNING epoch, lease_until`,
            [runId, host, process.pid, leaseMs, opts.worker ?? null],
          );
          if (ins.rows[0]) return { runId, epoch: Number(ins.rows[0].epoch), until: Number(ins.rows[0].lease_until), ...(opts.worker ? { worker: opts.worker } : {}) };
          const h = await this.readLockOn(c, 'run', runId, true);
          if (!h) {
            if (attempt < 5) continue;
            throw new LockError(`could not lock run ${runId}`);
          }
          if (holderAlive(h, await this.dbNow(c), host) && !opts.takeover) throw runLockedError(runId, h, host);
          const up = await c.query<{ epoch: string; lease_until: string }>(
            `UPDATE ${this.t('run_locks')} SET host = $2, pid = $3, acquired_at = now(), lease_until = ${NOW_MS} + $4, epoch = epoch + 1, worker = $5 WHERE run_id = $1 RETURNING epoch, lease_until`,
            [runId, host, process.pid, leaseMs, opts.worker ?? null],
          );
          return { runId, epoch: Number(up.rows[0]!.epoch), until: Number(up.rows[0]!.lease_until), ...(opts.worker ? { worker: opts.worker } : {}) };
        }
      }),
    );
  }

  async renew(leases: Fence[], leaseMs = LEASE_MS): Promise<Set<string>> {
    if (!leases.length) return new Set();
    const { rows } = await this.run('cannot renew run leases', () =>
      this.pool.query<{ run_id: string }>(
        `UPDATE ${this.t('run_locks')} l SET lease_until = ${NOW_MS} + $3
         FROM unnest($1::text[], $2::bigint[]) AS f(run_id, epoch)
         WHERE l.run_id = f.run_id AND l.epoch = f.epoch AND l.lease_until > 0 RETURNING l.run_id`,
        [leases.map((l) => l.runId), leases.map((l) => l.epoch), Math.round(leaseMs)],
      ),
    );
    const kept = new Set(rows.map((r) => r.run_id));
    return new Set(leases.map((l) => l.runId).filter((id) => !kept.has(id)));
  }

  async release(f: Fence): Promise<void> {
    await this.run(`cannot release run ${f.runId}`, () => this.pool.query(`UPDATE ${this.t('run_locks')} SET lease_until = 0 WHERE run_id = $1 AND epoch = $2`, [f.runId, f.epoch]));
  }

  /** Is some live process driving this run right now? */
  async driver(runId: string): Promise<LockInfo | undefined> {
    return this.run(`cannot read the lock of run ${runId}`, () => this.driverOn(this.pool, runId));
  }

  protected async driverOn(db: Db, runId: string): Promise<LockInfo | undefined> {
    const { rows } = await db.query<LockRow & { now: string }>(
      `SELECT run_id AS owner, host, pid, acquired_at, lease_until, epoch, worker, ${NOW_MS} AS now FROM ${this.t('run_locks')} WHERE run_id = $1`,
      [runId],
    );
    const h = rows[0] && lockInfo(rows[0]);
    return h && holderAlive(h, Number(rows[0]!.now)) ? h : undefined;
  }

  async leases(): Promise<LockInfo[]> {
    const { rows } = await this.run('cannot list run leases', () =>
      this.pool.query<LockRow & { now: string }>(
        `SELECT run_id AS owner, host, pid, acquired_at, lease_until, epoch, worker, ${NOW_MS} AS now FROM ${this.t('run_locks')} WHERE lease_until > ${NOW_MS}`,
      ),
    );
    return rows.filter((r) => holderAlive(lockInfo(r), Number(r.now))).map(lockInfo);
  }

  // ——— workers ———

  async claim(worker: string, limit: number, leaseMs = LEASE_MS): Promise<Lease[]> {
    if (limit <= 0) return [];
    const { rows } = await this.run('cannot claim runs', () =>
      this.pool.query<{ run_id: string; epoch: string; lease_until: string }>(
        `WITH cand AS (
           SELECT r.id FROM ${this.t('runs')} r LEFT JOIN ${this.t('run_locks')} l ON l.run_id = r.id
           WHERE (r.status NOT IN ${FINAL_SQL} OR jsonb_array_length(COALESCE(r.state->'pending', '[]'::jsonb)) > 0)
             AND (l.run_id IS NULL OR l.lease_until <= ${NOW_MS})
           ORDER BY r.started_at, r.id
           LIMIT $1
           FOR UPDATE OF r SKIP LOCKED
         )
         INSERT INTO ${this.t('run_locks')} AS k (run_id, host, pid, acquired_at, lease_until, epoch, worker)
         SELECT id, $2, $3, now(), ${NOW_MS} + $4, 1, $5 FROM cand
         ON CONFLICT (run_id) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, acquired_at = EXCLUDED.acquired_at,
           lease_until = EXCLUDED.lease_until, epoch = k.epoch + 1, worker = EXCLUDED.worker
           WHERE k.lease_until <= ${NOW_MS}
         RETURNING run_id, epoch, lease_until`,
        [limit, hostname(), process.pid, Math.round(leaseMs), worker],
      ),
    );
    return rows.map((r) => ({ runId: r.run_id, epoch: Number(r.epoch), until: Number(r.lease_until), worker }));
  }

  async heartbeat(w: WorkerInfo): Promise<void> {
    await this.run(`cannot record worker ${w.id}`, () =>
      this.pool.query(
        `INSERT INTO ${this.t('workers')} (id, host, pid, started_at, concurrency, heartbeat_at) VALUES ($1, $2, $3, $4, $5, ${NOW_MS})
         ON CONFLICT (id) DO UPDATE SET host = EXCLUDED.host, pid = EXCLUDED.pid, started_at = EXCLUDED.started_at, concurrency = EXCLUDED.concurrency, heartbeat_at = EXCLUDED.heartbeat_at`,
        [pgText(w.id), w.host, w.pid, Math.round(w.startedAt), w.concurrency],
      ),
    );
  }

  async workers(): Promise<WorkerInfo[]> {
    const { rows } = await this.run('cannot list workers', () =>
      this.pool.query<{ id: string; host: string; pid: number; started_at: string; concurrency: number; age: string; runs: string }>(
        `SELECT w.id, w.host, w.pid, w.started_at, w.concurrency, ${NOW_MS} - w.heartbeat_at AS age,
           (SELECT count(*) FROM ${this.t('run_locks')} l WHERE l.worker = w.id AND l.lease_until > ${NOW_MS}) AS runs
         FROM ${this.t('workers')} w WHERE w.heartbeat_at > ${NOW_MS} - $1 ORDER BY w.id`,
        [LEASE_MS],
      ),
    );
    const here = hostname();
    return rows
      .filter((r) => r.host !== here || pidAlive(r.pid))
      .map((r) => ({ id: r.id, host: r.host, pid: r.pid, startedAt: Number(r.started_at), concurrency: r.concurrency, heartbeatAgeMs: Number(r.age), runs: Number(r.runs) }));
  }

  async leave(worker: string): Promise<void> {
    await this.run(`cannot remove worker ${worker}`, () => this.pool.query(`DELETE FROM ${this.t('workers')} WHERE id = $1`, [worker]));
  }
}
