/**
 * The shared state store for teams: PostgreSQL (a `postgres://…` URL, ROLLOUT_STATE_URL in the
 * CLI). Same public API and semantics as FileStore (src/state/store.ts), with transactions
 * where the file store uses write ordering and a mutex:
 *   save()       events (upserted: a decision re-made after a crash overwrites the orphans) and
 *                the run record in one transaction — never half-written
 *   lockFlags()  one transaction: INSERT … ON CONFLICT DO NOTHING, else SELECT … FOR UPDATE on
 *                the holder's row, judged and replaced under that row lock — exactly one winner
 *                among processes on any number of machines
 *   take()       DELETE … RETURNING: each control request is taken by exactly one reader
 *   leases       run_locks rows timed on the database's clock, with an epoch (fencing token)
 *                bumped on every grant and checked (FOR SHARE) in every fenced save; rows stay
 *                after release (lease_until = 0) so the epoch only grows
 *   claim()      workers pick runs with FOR UPDATE SKIP LOCKED and an upsert that only
 *                replaces a lapsed lease: two workers never get one run
 * Tables live in their own PostgreSQL schema (`rollout` unless opts.schema says otherwise),
 * created on first use. Everything written is redacted first; the URL's password never
 * appears in `dir` or in an error.
 */
import { hostname } from 'node:os';
import pg from 'pg';
import { LockError, RolloutError, StateError, UsageError } from '../errors.js';
import { FINAL_STATUSES, type Control, type RunEvent, type RunState } from '../engine/types.js';
import { redact, redactDeep, safeUrl } from '../util/redact.js';
import type { Plan } from '../plan/model.js';
import { pickRun } from './resolve.js';
import { migrateRunRecord } from './migrate.js';
import { runRecordProblems } from './validate.js';
import { planSnapshot } from './snapshot.js';
import type { Store } from './index.js';
import {
  LEASE_MS,
  LeaseLostError,
  flagLockedError,
  holderAlive,
  pidAlive,
  runLockedError,
  unreadableHolderError,
  type Fence,
  type Lease,
  type LockInfo,
  type WorkerInfo,
} from './lease.js';

/** Version of the table layout (not of the run record: that is STATE_SCHEMA_VERSION). 2: leases with epochs, workers, plan snapshots. */
export const PG_STORE_SCHEMA_VERSION = 2;

/** The database's clock in ms: every lease is timed on it, so hosts with skewed clocks agree. */
const NOW_MS = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;
const FINAL_SQL = `(${FINAL_STATUSES.map((s) => `'${s}'`).join(', ')})`;

export interface PgStoreOptions {
  /** PostgreSQL schema holding the tables (created if missing). Default `rollout`. */
  schema?: string;
  /** Pool size. Default 4: a CLI process needs few connections. */
  max?: number;
  /** Connecting gives up after this long. Default 10 s. */
  connectionTimeoutMs?: number;
  /** Any statement gives up after this long. Default 30 s. */
  statementTimeoutMs?: number;
}

type Db = pg.PoolClient | pg.Pool;

/** PostgreSQL text and jsonb cannot hold NUL or lone surrogates: replaced by U+FFFD. */
const BAD_CHARS = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const pgText = (s: string) => s.replace(BAD_CHARS, '\ufffd');
function pgSafe<T>(value: T): T {
  if (typeof value === 'string') return pgText(value) as unknown as T;
  if (Array.isArray(value)) return value.map((v) => pgSafe(v)) as unknown as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[pgText(k)] = pgSafe(v);
    return out as T;
  }
  return value;
}
/** What every write stores: redacted, then made storable. */
const clean = <T>(v: T): T => pgSafe(redactDeep(v));
const json = (v: unknown) => JSON.stringify(v);

/** Transient conflicts a transaction may simply be retried after. */
const RETRYABLE = new Set(['40001', '40P01']); // serialization failure, deadlock detected

export class PgStore implements Store {
  /** Statements sent by every PgStore of this process (counted only with ROLLOUT_PG_COUNT=1). */
  static queries = 0;
  /** Where the state lives, for display: the URL without credentials (and the schema if not the default). */
  readonly dir: string;
  private readonly pool: pg.Pool;
  private readonly schema: string;
  private readonly secrets: string[];
  private ready?: Promise<void>;
  private closed = false;

  constructor(url: string, opts: PgStoreOptions = {}) {
    const schema = opts.schema ?? 'rollout';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema) || schema.startsWith('pg_')) throw new UsageError(`bad state store schema name ${JSON.stringify(schema)}`, { hint: 'Use lower-case letters, digits and underscores, not starting with pg_.' });
    this.schema = schema;
    this.secrets = passwordsOf(url);
    this.dir = this.scrub(safeUrl(url)) + (schema === 'rollout' ? '' : ` (schema ${schema})`);
    let config: pg.PoolConfig;
    try {
      config = {
        connectionString: url,
        max: opts.max ?? 4,
        connectionTimeoutMillis: opts.connectionTimeoutMs ?? 10_000,
        statement_timeout: opts.statementTimeoutMs ?? 30_000,
        application_name: 'rollout',
        // A CLI that forgets close() still exits once its connections are idle.
        allowExitOnIdle: true,
      };
      this.pool = new pg.Pool(config);
    } catch (err) {
      throw this.fail('cannot use the state store URL', err);
    }
    // An idle connection that dies (server restart) must not crash the process: the next
    // query fails and reports it.
    this.pool.on('error', () => undefined);
    // ROLLOUT_PG_COUNT=1: count every statement sent (the workers benchmark's queries per run).
    if (process.env.ROLLOUT_PG_COUNT === '1')
      this.pool.on('connect', (client) => {
        const query = client.query.bind(client) as (...a: unknown[]) => unknown;
        (client as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
          PgStore.queries++;
          return query(...a);
        };
      });
  }

  /** Connect and create the tables if they are missing. */
  static async open(url: string, opts?: PgStoreOptions): Promise<PgStore> {
    const store = new PgStore(url, opts);
    try {
      await store.init();
    } catch (err) {
      await store.close();
      throw err;
    }
    return store;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end().catch(() => undefined);
  }

  // ——— plumbing ———

  private t(name: string) {
    return `"${this.schema}".${name}`;
  }

  private scrub(text: string): string {
    let out = redact(text);
    for (const s of this.secrets) out = out.split(s).join('***');
    return out;
  }

  /** A database failure as a StateError whose text (and cause) never holds the password. */
  private fail(what: string, err: unknown): RolloutError {
    if (err instanceof RolloutError) return err;
    const e = err as { message?: string; code?: string };
    const msg = this.scrub(String(e?.message ?? err));
    const cause = new Error(msg);
    const code = e?.code ?? '';
    const connecting = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|EHOSTUNREACH|ERR_INVALID_URL|3D000|28P01|28000|53300|57P03)$/.test(code) || /trying to connect|connection terminated/i.test(msg);
    const hint =
      code === 'ERR_INVALID_URL'
        ? 'ROLLOUT_STATE_URL must look like postgres://user:password@host:5432/database.'
        : code === '3D000'
          ? 'Create the database (CREATE DATABASE …) or fix the name in ROLLOUT_STATE_URL.'
          : connecting
            ? 'Is the database reachable and are the credentials right? Check ROLLOUT_STATE_URL.'
            : undefined;
    return new StateError(`state store ${this.dir}: ${connecting ? 'cannot connect' : what}: ${msg}${code && !msg.includes(code) ? ` (${code})` : ''}`, hint, cause);
  }

  private init(): Promise<void> {
    if (this.closed) return Promise.reject(new StateError(`state store ${this.dir} is closed`));
    this.ready ??= this.createSchema().catch((err: unknown) => {
      this.ready = undefined; // try again on the next call
      throw this.fail('cannot prepare the tables', err);
    });
    return this.ready;
  }

  private async createSchema(): Promise<void> {
    // Fast path: the tables exist already (every open but the first).
    const found = await this.pool.query<{ version: number }>(
      `SELECT version FROM ${this.t('schema_version')}`,
    ).catch((err: { code?: string }) => {
      if (err.code === '42P01' || err.code === '3F000') return undefined; // undefined table / schema
      throw err;
    });
    if (found?.rows.length && found.rows[0]!.version === PG_STORE_SCHEMA_VERSION) return;
    if (found?.rows.length && found.rows[0]!.version !== 1) return this.checkVersion(found.rows[0]!.version);
    await this.tx(async (c) => {
      // Concurrent first opens (20 processes at once) would race on the catalog.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`rollout-store-schema:${this.schema}`]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS "${this.schema}"`);
      await c.query(`
        CREATE TABLE IF NOT EXISTS ${this.t('schema_version')} (
          version integer NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE IF NOT EXISTS ${this.t('runs')} (
          id text PRIMARY KEY,
          plan_name text NOT NULL,
          status text NOT NULL,
          state jsonb NOT NULL,
          seq integer NOT NULL,
          started_at double precision NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX IF NOT EXISTS runs_plan_name ON ${this.t('runs')} (plan_name);
        CREATE TABLE IF NOT EXISTS ${this.t('events')} (
          run_id text NOT NULL,
          seq integer NOT NULL,
          at double precision NOT NULL,
          type text NOT NULL,
          msg text NOT NULL,
          data jsonb,
          PRIMARY KEY (run_id, seq)
        );
        CREATE TABLE IF NOT EXISTS ${this.t('inbox')} (
          id bigserial PRIMARY KEY,
          run_id text NOT NULL,
          posted_at timestamptz NOT NULL DEFAULT now(),
          control jsonb NOT NULL
        );
        CREATE INDEX IF NOT EXISTS inbox_run ON ${this.t('inbox')} (run_id, id);
        CREATE TABLE IF NOT EXISTS ${this.t('incidents')} (
          run_id text NOT NULL,
          key text NOT NULL,
          written_at timestamptz NOT NULL DEFAULT now(),
          incident jsonb NOT NULL,
          PRIMARY KEY (run_id, key)
        );
        CREATE TABLE IF NOT EXISTS ${this.t('flag_locks')} (
          flag text PRIMARY KEY,
          owner text NOT NULL,
          host text NOT NULL,
          pid integer NOT NULL,
          acquired_at timestamptz NOT NULL,
          lease_until bigint NOT NULL
        );
        CREATE TABLE IF NOT EXISTS ${this.t('run_locks')} (
          run_id text PRIMARY KEY,
          host text NOT NULL,
          pid integer NOT NULL,
          acquired_at timestamptz NOT NULL,
          lease_until bigint NOT NULL
        );
      `);
      const v = await c.query<{ version: number }>(`SELECT version FROM ${this.t('schema_version')}`);
      if (!v.rows.length) await c.query(`INSERT INTO ${this.t('schema_version')} (version) VALUES (1)`);
      const version = v.rows[0]?.version ?? 1;
      if (version === PG_STORE_SCHEMA_VERSION) return;
      if (version !== 1) return this.checkVersion(version);
      // 1 → 2, in place: run leases gain an epoch and a worker; workers and plan snapshots.
      await c.query(`
        ALTER TABLE ${this.t('run_locks')} ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0;
        ALTER TABLE ${this.t('run_locks')} ADD COLUMN IF NOT EXISTS worker text;
        CREATE INDEX IF NOT EXISTS run_locks_worker ON ${this.t('run_locks')} (worker);
        CREATE TABLE IF NOT EXISTS ${this.t('plans')} (
          run_id text PRIMARY KEY,
          plan jsonb NOT NULL
        );
        CREATE TABLE IF NOT EXISTS ${this.t('workers')} (
          id text PRIMARY KEY,
          host text NOT NULL,
          pid integer NOT NULL,
          started_at bigint NOT NULL,
          concurrency integer NOT NULL,
          heartbeat_at bigint NOT NULL
        );
      `);
      await c.query(`UPDATE ${this.t('schema_version')} SET version = $1`, [PG_STORE_SCHEMA_VERSION]);
    });
  }

  private checkVersion(version: number): void {
    if (version !== PG_STORE_SCHEMA_VERSION)
      throw new StateError(
        `state store ${this.dir} has table layout version ${version}; this rollout uses version ${PG_STORE_SCHEMA_VERSION}`,
        'Use the rollout version that created it, or point ROLLOUT_STATE_URL at another database or schema.',
      );
  }

  /** Run f in a transaction (retried on a deadlock or serialization failure). */
  private async tx<T>(f: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const c = await this.pool.connect();
      let broken = false;
      try {
        await c.query('BEGIN');
        const out = await f(c);
        await c.query('COMMIT');
        return out;
      } catch (err) {
        try {
          await c.query('ROLLBACK');
        } catch {
          broken = true;
        }
        const code = (err as { code?: string }).code;
        if (code && RETRYABLE.has(code) && attempt < 4) {
          await new Promise((r) => setTimeout(r, 10 + Math.random() * 40 * (attempt + 1)));
          continue;
        }
        throw err;
      } finally {
        c.release(broken);
      }
    }
  }

  /** Every public method: ready tables, and database failures as StateErrors. */
  private async run<T>(what: string, f: () => Promise<T>): Promise<T> {
    await this.init();
    try {
      return await f();
    } catch (err) {
      throw this.fail(what, err);
    }
  }

  /** The checks FileStore.load makes on a record, for a row of `runs`. */
  private check(id: string, s: unknown): RunState {
    const where = `run ${id} in ${this.dir}`;
    if (typeof s !== 'object' || s === null || Array.isArray(s))
      throw new StateError(
        `the record of ${where} is corrupt (not a JSON object); it was not changed`,
        `Inspect it (SELECT state FROM ${this.t('runs')} WHERE id = '${id}'), restore it from the events table (the event log), or delete the row and start a new run. rollout never overwrites it silently.`,
      );
    migrateRunRecord(s, { where: `the record of ${where}`, oldHint: 'Use the rollout version that wrote it, or delete the row (its events stay in the events table).' });
    const problems = runRecordProblems(s, id);
    if (problems.length)
      throw new StateError(
        `the record of ${where} is not a valid run record (${problems.slice(0, 3).join('; ')}${problems.length > 3 ? `; and ${problems.length - 3} more` : ''}); it was not changed`,
        `Inspect it (SELECT state FROM ${this.t('runs')} WHERE id = '${id}'), restore it, or delete the row (its events stay in the events table) and check the flags it drove by hand. rollout never overwrites it silently.`,
      );
    return s as RunState;
  }

  // ——— runs ———

  async save(state: RunState, events: RunEvent[], fence?: Fence): Promise<void> {
    const s = clean(state);
    const evs = clean(events).map((e) => ({ seq: e.seq, at: e.at, type: e.type, msg: e.msg, data: e.data ?? null }));
    // One statement (so one transaction, one round trip): the fence check, the events and the
    // run record land together or not at all. The lease row is read FOR SHARE: a claim bumping
    // the epoch waits for this write, or this write sees the new epoch and writes nothing.
    // Events are upserted: after a crash the re-made decision's events replace the orphans.
    const { rows } = await this.run(`cannot save run ${state.id}`, () =>
      this.pool.query<{ ok: boolean }>(
        `WITH f AS (SELECT epoch FROM ${this.t('run_locks')} WHERE run_id = $1 FOR SHARE),
              ok AS (SELECT $7::bigint IS NULL OR EXISTS (SELECT 1 FROM f WHERE epoch = $7::bigint) AS ok),
              ev AS (
                INSERT INTO ${this.t('events')} (run_id, seq, at, type, msg, data)
                SELECT $1, e.seq, e.at, e.type, e.msg, e.data
                FROM jsonb_to_recordset($8::jsonb) AS e(seq integer, at double precision, type text, msg text, data jsonb)
                WHERE (SELECT ok FROM ok)
                ON CONFLICT (run_id, seq) DO UPDATE SET at = EXCLUDED.at, type = EXCLUDED.type, msg = EXCLUDED.msg, data = EXCLUDED.data
              ),
              r AS (
                INSERT INTO ${this.t('runs')} (id, plan_name, status, state, seq, started_at, updated_at)
                SELECT $1, $2, $3, $4::jsonb, $5, $6, now() WHERE (SELECT ok FROM ok)
                ON CONFLICT (id) DO UPDATE SET plan_name = EXCLUDED.plan_name, status = EXCLUDED.status, state = EXCLUDED.state,
                  seq = EXCLUDED.seq, started_at = EXCLUDED.started_at, updated_at = now()
              )
         SELECT (SELECT ok FROM ok) AS ok`,
        [s.id, s.plan?.name ?? '', s.status, json(s), s.seq, s.startedAt ?? 0, fence ? fence.epoch : null, json(evs)],
      ),
    );
    if (fence && !rows[0]?.ok) throw new LeaseLostError(fence.runId, fence.epoch, await this.readLock('run', fence.runId));
  }

  async load(id: string): Promise<RunState> {
    const row = await this.run(`cannot read run ${id}`, async () => (await this.pool.query<{ state: unknown }>(`SELECT state FROM ${this.t('runs')} WHERE id = $1`, [id])).rows[0]);
    if (!row) throw new UsageError(`no run "${id}"`, { hint: 'List runs with `rollout status`.' });
    return this.check(id, row.state);
  }

  async events(id: string): Promise<RunEvent[]> {
    const state = await this.load(id);
    const { rows } = await this.run(`cannot read the events of run ${id}`, () =>
      this.pool.query<{ seq: number; at: number; type: string; msg: string; data: Record<string, unknown> | null }>(
        `SELECT seq, at, type, msg, data FROM ${this.t('events')} WHERE run_id = $1 AND seq < $2 ORDER BY seq`,
        [id, state.seq],
      ),
    );
    return rows.map((r) => ({ seq: r.seq, at: r.at, type: r.type, msg: r.msg, ...(r.data === null ? {} : { data: r.data }) }));
  }

  async list(): Promise<RunState[]> {
    return (await this.scan()).runs;
  }

  /** Runs whose record cannot be used (corrupt, wrong shape, another schema), with why. */
  async broken(): Promise<Array<{ id: string; error: StateError }>> {
    return (await this.scan()).broken;
  }

  /** Every run that loads, newest first, and the StateErrors of those that do not (corrupt, another schema). */
  private async scan(): Promise<{ runs: RunState[]; broken: Array<{ id: string; error: StateError }> }> {
    const { rows } = await this.run('cannot list runs', () =>
      this.pool.query<{ id: string; state: unknown }>(`SELECT id, state FROM ${this.t('runs')} ORDER BY started_at DESC, id`),
    );
    const out: RunState[] = [];
    const broken: Array<{ id: string; error: StateError }> = [];
    for (const r of rows) {
      try {
        out.push(this.check(r.id, r.state));
      } catch (err) {
        if (err instanceof StateError) broken.push({ id: r.id, error: err });
      }
    }
    return { runs: out.sort((a, b) => b.startedAt - a.startedAt), broken };
  }

  /**
   * A run id, a plan name (its latest run) or nothing (the one active run / the latest). A run
   * whose record cannot be read is reported as such (StateError) when it is named, or when it
   * is the only run there is — not as "no such run".
   */
  async resolve(ref?: string): Promise<string> {
    const { runs, broken } = await this.scan();
    return pickRun(ref, runs, broken, undefined, 'the PostgreSQL store (ROLLOUT_STATE_URL)');
  }


  /**
   * Write an incident record. `key` names it (the runner passes the decision time and action
   * id), so the same record-incident action performed again after a crash rewrites the same
   * row. Returns where it went, for display.
   */
  async writeIncident(id: string, incident: unknown, key?: string): Promise<string> {
    const k = pgText(key ?? String(Date.now()));
    await this.run(`cannot write an incident of run ${id}`, () =>
      this.pool.query(
        `INSERT INTO ${this.t('incidents')} (run_id, key, incident) VALUES ($1, $2, $3::jsonb)
         ON CONFLICT (run_id, key) DO UPDATE SET incident = EXCLUDED.incident, written_at = now()`,
        [pgText(id), k, json(clean(incident) ?? null)],
      ),
    );
    return `${this.dir} incident ${id}/${k}`;
  }

  /** Remove a run that never started (it lost the race for a flag lock). */
  async discard(id: string): Promise<void> {
    await this.run(`cannot discard run ${id}`, () =>
      this.tx(async (c) => {
        for (const table of ['events', 'inbox', 'incidents', 'plans']) await c.query(`DELETE FROM ${this.t(table)} WHERE run_id = $1`, [id]);
        await c.query(`DELETE FROM ${this.t('runs')} WHERE id = $1`, [id]);
        await c.query(`DELETE FROM ${this.t('run_locks')} WHERE run_id = $1`, [id]);
      }),
    );
  }

  async writePlan(id: string, plan: Plan): Promise<void> {
    await this.run(`cannot save the plan of run ${id}`, () =>
      this.pool.query(`INSERT INTO ${this.t('plans')} (run_id, plan) VALUES ($1, $2::jsonb) ON CONFLICT (run_id) DO UPDATE SET plan = EXCLUDED.plan`, [pgText(id), json(clean(planSnapshot(plan)))]),
    );
  }

  async readPlan(id: string): Promise<Plan | undefined> {
    const { rows } = await this.run(`cannot read the plan of run ${id}`, () => this.pool.query<{ plan: Plan }>(`SELECT plan FROM ${this.t('plans')} WHERE run_id = $1`, [id]));
    return rows[0]?.plan;
  }

  // ——— control inbox ———

  /** Are control requests waiting in the run's inbox? */
  async pending(id: string): Promise<boolean> {
    const { rows } = await this.run(`cannot read the inbox of run ${id}`, () =>
      this.pool.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${this.t('inbox')} WHERE run_id = $1) AS any`, [id]),
    );
    return rows[0]?.any ?? false;
  }

  async post(id: string, ctl: Control): Promise<void> {
    await this.run(`cannot post to the inbox of run ${id}`, () =>
      this.pool.query(`INSERT INTO ${this.t('inbox')} (run_id, control) VALUES ($1, $2::jsonb)`, [pgText(id), json(clean(ctl))]),
    );
  }

  /** Take (and remove) the waiting requests, oldest first: each is taken by exactly one reader. */
  async take(id: string, fence?: Fence): Promise<Control[]> {
    const { rows } = await this.run(`cannot take from the inbox of run ${id}`, () =>
      fence
        ? this.pool.query<{ id: string; control: Control }>(
            `DELETE FROM ${this.t('inbox')} WHERE run_id = $1 AND EXISTS (SELECT 1 FROM ${this.t('run_locks')} WHERE run_id = $1 AND epoch = $2) RETURNING id, control`,
            [id, fence.epoch],
          )
        : this.pool.query<{ id: string; control: Control }>(`DELETE FROM ${this.t('inbox')} WHERE run_id = $1 RETURNING id, control`, [id]),
    );
    return rows.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1)).map((r) => r.control);
  }

  // ——— locks ———

  async readLock(kind: 'flag' | 'run', name: string): Promise<LockInfo | undefined> {
    return this.run(`cannot read the ${kind} lock ${name}`, () => this.readLockOn(this.pool, kind, name));
  }

  private async readLockOn(db: Db, kind: 'flag' | 'run', name: string, forUpdate = false): Promise<LockInfo | undefined> {
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
  private async active(db: Db, runId: string): Promise<{ active: boolean; unreadable?: StateError }> {
    const { rows } = await db.query<{ state: unknown }>(`SELECT state FROM ${this.t('runs')} WHERE id = $1`, [runId]);
    if (!rows[0]) return { active: false };
    try {
      return { active: !FINAL_STATUSES.includes(this.check(runId, rows[0].state).status) };
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
              throw flagLockedError(flag, holder, drv, drv ?? (await this.readLockOn(c, 'run', holder.owner)) ?? holder);
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

  private async dbNow(db: Db): Promise<number> {
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

  private async driverOn(db: Db, runId: string): Promise<LockInfo | undefined> {
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

interface LockRow {
  owner: string;
  host: string;
  pid: number;
  acquired_at: Date;
  lease_until: string; // int8 comes back as text
  epoch?: string;
  worker?: string | null;
}

const lockInfo = (r: LockRow): LockInfo => ({
  owner: r.owner,
  host: r.host,
  pid: r.pid,
  acquiredAt: r.acquired_at.toISOString(),
  leaseUntil: Number(r.lease_until),
  ...(r.epoch === undefined ? {} : { epoch: Number(r.epoch) }),
  ...(r.worker ? { worker: r.worker } : {}),
});

/** The URL's password, raw and decoded (both must be kept out of messages). */
function passwordsOf(url: string): string[] {
  const out = new Set<string>();
  try {
    const p = new URL(url).password;
    if (p) {
      out.add(p);
      try {
        out.add(decodeURIComponent(p));
      } catch {
        /* not %-encoded */
      }
    }
  } catch {
    const m = /^[a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:([^/\s@]+)@/i.exec(url);
    if (m?.[1]) out.add(m[1]);
  }
  // Very short passwords would blank ordinary words; redact() already hides URL userinfo.
  return [...out].filter((p) => p.length >= 4).sort((a, b) => b.length - a.length);
}
