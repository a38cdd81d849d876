/**
 * The PostgreSQL store's plumbing, shared by its parts: the pool, errors without the password,
 * table creation, transactions, and the checks (and migration) of a run record read back.
 * PgLeases (pg-leases.ts) adds locks, leases and workers; PgStore (pg.ts) runs, events, inbox.
 */
import pg from 'pg';
import { RolloutError, StateError, UsageError } from '../errors.js';
import { FINAL_STATUSES, type RunState } from '../engine/types.js';
import { redact, redactDeep, safeUrl } from '../util/redact.js';
import type { LockInfo } from './lease.js';
import { migrateRunRecord } from './migrate.js';
import { layoutV1toV2, PG_STORE_SCHEMA_VERSION, tablesV1 } from './pg-schema.js';
import { runRecordProblems } from './validate.js';

/** The database's clock in ms: every lease is timed on it, so hosts with skewed clocks agree. */
export const NOW_MS = `(extract(epoch from clock_timestamp()) * 1000)::bigint`;
export const FINAL_SQL = `(${FINAL_STATUSES.map((s) => `'${s}'`).join(', ')})`;

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

export type Db = pg.PoolClient | pg.Pool;

/** PostgreSQL text and jsonb cannot hold NUL or lone surrogates: replaced by U+FFFD. */
export const BAD_CHARS = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
export const pgText = (s: string) => s.replace(BAD_CHARS, '\ufffd');
export function pgSafe<T>(value: T): T {
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
export const clean = <T>(v: T): T => pgSafe(redactDeep(v));
export const json = (v: unknown) => JSON.stringify(v);

/** Transient conflicts a transaction may simply be retried after. */
export const RETRYABLE = new Set(['40001', '40P01']); // serialization failure, deadlock detected

export class PgBase {
  /** Statements sent by every PgStore of this process (counted only with ROLLOUT_PG_COUNT=1). */
  static queries = 0;
  /** Where the state lives, for display: the URL without credentials (and the schema if not the default). */
  readonly dir: string;
  protected readonly pool: pg.Pool;
  protected readonly schema: string;
  protected readonly secrets: string[];
  protected ready?: Promise<void>;
  protected closed = false;

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
          PgBase.queries++;
          return query(...a);
        };
      });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end().catch(() => undefined);
  }

  // ——— plumbing ———

  protected t(name: string) {
    return `"${this.schema}".${name}`;
  }

  protected scrub(text: string): string {
    let out = redact(text);
    for (const s of this.secrets) out = out.split(s).join('***');
    return out;
  }

  /** A database failure as a StateError whose text (and cause) never holds the password. */
  protected fail(what: string, err: unknown): RolloutError {
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

  protected init(): Promise<void> {
    if (this.closed) return Promise.reject(new StateError(`state store ${this.dir} is closed`));
    this.ready ??= this.createSchema().catch((err: unknown) => {
      this.ready = undefined; // try again on the next call
      throw this.fail('cannot prepare the tables', err);
    });
    return this.ready;
  }

  protected async createSchema(): Promise<void> {
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
      await c.query(tablesV1((n) => this.t(n)));
      const v = await c.query<{ version: number }>(`SELECT version FROM ${this.t('schema_version')}`);
      if (!v.rows.length) await c.query(`INSERT INTO ${this.t('schema_version')} (version) VALUES (1)`);
      const version = v.rows[0]?.version ?? 1;
      if (version === PG_STORE_SCHEMA_VERSION) return;
      if (version !== 1) return this.checkVersion(version);
      await c.query(layoutV1toV2((n) => this.t(n)));
      await c.query(`UPDATE ${this.t('schema_version')} SET version = $1`, [PG_STORE_SCHEMA_VERSION]);
    });
  }

  protected checkVersion(version: number): void {
    if (version !== PG_STORE_SCHEMA_VERSION)
      throw new StateError(
        `state store ${this.dir} has table layout version ${version}; this rollout uses version ${PG_STORE_SCHEMA_VERSION}`,
        'Use the rollout version that created it, or point ROLLOUT_STATE_URL at another database or schema.',
      );
  }

  /** Run f in a transaction (retried on a deadlock or serialization failure). */
  protected async tx<T>(f: (c: pg.PoolClient) => Promise<T>): Promise<T> {
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
  protected async run<T>(what: string, f: () => Promise<T>): Promise<T> {
    await this.init();
    try {
      return await f();
    } catch (err) {
      throw this.fail(what, err);
    }
  }

  /** The checks FileStore.load makes on a record, for a row of `runs`. */
  protected check(id: string, s: unknown): RunState {
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
}

export interface LockRow {
  owner: string;
  host: string;
  pid: number;
  acquired_at: Date;
  lease_until: string; // int8 comes back as text
  epoch?: string;
  worker?: string | null;
}

export const lockInfo = (r: LockRow): LockInfo => ({
  owner: r.owner,
  host: r.host,
  pid: r.pid,
  acquiredAt: r.acquired_at.toISOString(),
  leaseUntil: Number(r.lease_until),
  ...(r.epoch === undefined ? {} : { epoch: Number(r.epoch) }),
  ...(r.worker ? { worker: r.worker } : {}),
});

/** The URL's password, raw and decoded (both must be kept out of messages). */
export function passwordsOf(url: string): string[] {
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
