/**
 * The PostgreSQL state store against the harness PostgreSQL: the store contract (each test in
 * its own PostgreSQL schema of a database created for this file), then what only a shared
 * database store does: separate pools racing, transactional save, atomic take, schema
 * versions, the password kept out of everything.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { LockError, StateError } from '../../src/errors.js';
import { PG_STORE_SCHEMA_VERSION, PgStore } from '../../src/state/pg.js';
import { databaseUrl, createDatabaseAt } from '../services/postgres.js';
import { T0, ev, mkState, stateStoreContract, type Store } from './state-contract.js';

// PgStore fits FileStore's public API (a later `interface Store` covers both).
const _fits: (s: PgStore) => Store = (s) => s;
void _fits;

const DB = `rollout_state_${randomBytes(4).toString('hex')}`;
let url: string;
let admin: pg.Pool;
const opened: PgStore[] = [];
let schemas = 0;

const open = async (schema: string, u = url) => {
  const s = await PgStore.open(u, { schema });
  opened.push(s);
  return s;
};

beforeAll(async () => {
  url = await createDatabaseAt(inject('pgUrl'), DB);
  admin = new pg.Pool({ connectionString: url, max: 2 });
});
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await admin?.end();
  const c = new pg.Client({ connectionString: databaseUrl(inject('pgUrl'), 'postgres') });
  await c.connect();
  // pg-pool's end() resolves once its clients are *told* to end, not once their sessions are
  // gone: a FORCE drop right away can terminate a session still closing, whose client then has
  // no error listener left (an uncaught 57P01 that fails the whole vitest run). Wait, bounded,
  // for this database's other sessions to go; FORCE only for what is left after that.
  try {
    for (let i = 0; i < 50; i++) {
      const { rows } = await c.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [DB]);
      if (rows[0]?.n === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await c.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
  } finally {
    await c.end();
  }
});

stateStoreContract('postgres', async () => {
  const schema = `contract_${++schemas}`;
  const mine: PgStore[] = [];
  const mk = async () => {
    const s = await open(schema);
    mine.push(s);
    return s;
  };
  const store = await mk();
  return {
    store,
    peer: mk,
    corrupt: async (id, how) => {
      if (how === 'garbage') await admin.query(`UPDATE ${schema}.runs SET state = '"garbage"'::jsonb WHERE id = $1`, [id]);
      else if (how === 'v1') await admin.query(`UPDATE ${schema}.runs SET state = jsonb_set(state, '{schema}', '1') - 'waiting' WHERE id = $1`, [id]);
      else await admin.query(`UPDATE ${schema}.runs SET state = jsonb_set(state, '{schema}', '99') WHERE id = $1`, [id]);
    },
    raw: async (id) => {
      const parts = await Promise.all([
        admin.query(`SELECT r::text FROM ${schema}.runs r WHERE id = $1`, [id]),
        admin.query(`SELECT e::text FROM ${schema}.events e WHERE run_id = $1`, [id]),
        admin.query(`SELECT i::text FROM ${schema}.inbox i WHERE run_id = $1`, [id]),
        admin.query(`SELECT i::text FROM ${schema}.incidents i WHERE run_id = $1`, [id]),
      ]);
      return parts.flatMap((p) => p.rows.map((r: Record<string, string>) => Object.values(r)[0])).join('\n');
    },
    plantLock: async (kind, name, info) => {
      if (kind === 'flag')
        await admin.query(
          `INSERT INTO ${schema}.flag_locks VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (flag) DO UPDATE SET owner = $2, host = $3, pid = $4, acquired_at = $5, lease_until = $6`,
          [name, info.owner, info.host, info.pid, info.acquiredAt, info.leaseUntil],
        );
      else
        await admin.query(
          `INSERT INTO ${schema}.run_locks (run_id, host, pid, acquired_at, lease_until, epoch) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (run_id) DO UPDATE SET host = $2, pid = $3, acquired_at = $4, lease_until = $5, epoch = $6`,
          [name, info.host, info.pid, info.acquiredAt, info.leaseUntil, info.epoch ?? 0],
        );
    },
    cleanup: async () => {
      await Promise.all([...mine, ...opened.splice(0)].map((s) => s.close()));
      await admin.query(`DROP SCHEMA ${schema} CASCADE`);
    },
  };
});

describe('PgStore', () => {
  let schema: string;
  let store: PgStore;
  beforeEach(async () => {
    schema = `t_${++schemas}`;
    store = await open(schema);
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });
  const count = async (table: string, where = 'true', params: unknown[] = []) =>
    Number((await admin.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.${table} WHERE ${where}`, params)).rows[0]!.n);

  it('creates its tables and schema version on first open; later opens reuse them', async () => {
    const tables = await admin.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, [schema]);
    expect(tables.rows.map((r) => r.table_name)).toEqual(['events', 'flag_locks', 'inbox', 'incidents', 'plans', 'run_locks', 'runs', 'schema_version', 'workers']);
    expect((await admin.query(`SELECT version FROM ${schema}.schema_version`)).rows).toEqual([{ version: PG_STORE_SCHEMA_VERSION }]);
    await store.save(mkState('r'), [ev(0)]);
    const again = await open(schema);
    expect((await again.load('r')).id).toBe('r');
    expect(await count('schema_version')).toBe(1);
  });

  it('20 processes opening a new store at once all get it (schema creation is serialized)', async () => {
    const fresh = `t_concurrent_${schemas}`;
    try {
      const stores = await Promise.all(Array.from({ length: 20 }, () => open(fresh)));
      await stores[3]!.save(mkState('x'), []);
      expect((await stores[17]!.load('x')).id).toBe('x');
      expect((await admin.query(`SELECT count(*)::int AS n FROM ${fresh}.schema_version`)).rows[0]).toEqual({ n: 1 });
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS ${fresh} CASCADE`);
    }
  });

  it('refuses a store whose table layout is another version', async () => {
    await admin.query(`UPDATE ${schema}.schema_version SET version = 7`);
    const err = await PgStore.open(url, { schema }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateError);
    expect((err as StateError).message).toMatch(new RegExp(`table layout version 7; this rollout uses version ${PG_STORE_SCHEMA_VERSION}`));
  });

  it('migrates a version-1 layout in place: run locks keep working and gain epochs, workers and plans appear', async () => {
    await store.save(mkState('old'), [ev(0)]);
    await admin.query(`DROP TABLE ${schema}.plans, ${schema}.workers; ALTER TABLE ${schema}.run_locks DROP COLUMN epoch, DROP COLUMN worker; UPDATE ${schema}.schema_version SET version = 1`);
    await admin.query(`INSERT INTO ${schema}.run_locks VALUES ('old', 'elsewhere.example', 1, now(), 1)`);
    const migrated = await open(schema);
    expect((await admin.query(`SELECT version FROM ${schema}.schema_version`)).rows).toEqual([{ version: 2 }]);
    expect((await migrated.load('old')).id).toBe('old');
    const lease = await migrated.lockRun('old', { now: Date.now() });
    expect(lease.epoch).toBe(1);
    const { loadPlan } = await import('../../src/plan/load.js');
    const { plan } = await loadPlan(new URL('../../plans/demo.yaml', import.meta.url).pathname);
    await migrated.writePlan('old', plan);
    expect((await migrated.readPlan('old'))?.name).toBe(plan.name);
  });

  it('keeps the columns beside the record in step (plan_name, status, seq)', async () => {
    await store.save(mkState('r', { plan: 'search', status: 'paused', seq: 5 }), []);
    const row = (await admin.query(`SELECT plan_name, status, seq, updated_at FROM ${schema}.runs WHERE id = 'r'`)).rows[0];
    expect(row).toMatchObject({ plan_name: 'search', status: 'paused', seq: 5 });
    expect(row.updated_at).toBeInstanceOf(Date);
  });

  it('save is one transaction: a failing record write leaves no events behind', async () => {
    await store.save(mkState('r', { seq: 1 }), [ev(0)]);
    const bad = { ...mkState('r', { seq: 3 }), seq: 2.5 }; // not an integer: the runs row is refused
    await expect(store.save(bad, [ev(1), ev(2)])).rejects.toThrow(StateError);
    expect(await count('events', 'run_id = $1', ['r'])).toBe(1);
    expect((await store.load('r')).seq).toBe(1);
  });

  it('the re-made decision overwrites orphan events (ON CONFLICT … DO UPDATE)', async () => {
    await store.save(mkState('r', { seq: 1 }), [ev(0)]);
    await admin.query(`INSERT INTO ${schema}.events VALUES ('r', 1, 0, 'orphan', 'lost decision', NULL)`);
    expect((await store.events('r')).map((e) => e.seq)).toEqual([0]);
    await store.save(mkState('r', { seq: 2 }), [ev(1, 'remade', { a: 1 })]);
    expect(await store.events('r')).toEqual([ev(0), ev(1, 'remade', { a: 1 })]);
    expect(await count('events', 'run_id = $1', ['r'])).toBe(2);
  });

  it('stores text PostgreSQL cannot hold (NUL, lone surrogates) as U+FFFD instead of failing', async () => {
    await store.save(mkState('r', { seq: 1, reason: 'a\u0000b\ud800c' }), [ev(0, 'out: \u0000\udc00', { 'k\u0000': 'v' })]);
    expect((await store.load('r')).reason).toBe('a\ufffdb\ufffdc');
    expect(await store.events('r')).toEqual([ev(0, 'out: \ufffd\ufffd', { 'k\ufffd': 'v' })]);
  });

  it('a record that is not a run (JSON null, array) is a StateError, not a crash', async () => {
    await store.save(mkState('n'), []);
    await store.save(mkState('a'), []);
    await admin.query(`UPDATE ${schema}.runs SET state = 'null'::jsonb WHERE id = 'n'`);
    await admin.query(`UPDATE ${schema}.runs SET state = '[1,2]'::jsonb WHERE id = 'a'`);
    await expect(store.load('n')).rejects.toThrow(/corrupt/);
    await expect(store.load('a')).rejects.toThrow(/corrupt/);
    await admin.query(`UPDATE ${schema}.runs SET state = state - 'schema' WHERE id = 'a'`).catch(() => undefined);
    await store.save(mkState('m'), []);
    await admin.query(`UPDATE ${schema}.runs SET state = state - 'schema' WHERE id = 'm'`);
    await expect(store.load('m')).rejects.toThrow(/no schema version/);
  });

  it('take() is atomic: two readers racing over 60 requests get each exactly once, in order', async () => {
    const other = await open(schema);
    const ctls = Array.from({ length: 60 }, (_, i) => ({ kind: 'pause' as const, reason: `r${i}` }));
    const posting = (async () => {
      for (const c of ctls) await store.post('r', c);
    })();
    const taken: string[][] = [[], []];
    let done = false;
    void posting.then(() => (done = true));
    while (!done || (await store.pending('r'))) {
      const [a, b] = await Promise.all([store.take('r'), other.take('r')]);
      taken[0]!.push(...a.map((c) => (c as { reason: string }).reason));
      taken[1]!.push(...b.map((c) => (c as { reason: string }).reason));
    }
    await posting;
    const all = [...taken[0]!, ...taken[1]!];
    expect(all.sort()).toEqual(ctls.map((c) => c.reason).sort());
    const idx = (r: string) => Number(r.slice(1));
    for (const t of taken) expect(t.map(idx)).toEqual([...t.map(idx)].sort((x, y) => x - y));
  });

  it('20 separate pools racing for two shared flags: one winner, 19 LockErrors naming it, no partial locks', async () => {
    const stores = await Promise.all(Array.from({ length: 20 }, () => open(schema)));
    await Promise.all(stores.map((s, i) => s.save(mkState(`p-${i}`), [])));
    // Different orders on purpose: the store sorts them, so no deadlock.
    const results = await Promise.allSettled(
      stores.map((s, i) => s.lockFlags(`p-${i}`, i % 2 ? ['shared-b', `own-${i}`, 'shared-a'] : ['shared-a', 'shared-b', `own-${i}`], { now: T0 })),
    );
    const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    expect(winners).toHaveLength(1);
    const w = winners[0]!;
    const losers = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as Error);
    expect(losers).toHaveLength(19);
    for (const e of losers) {
      expect(e).toBeInstanceOf(LockError);
      expect(e.message).toMatch(new RegExp(`flag shared-a is locked by run p-${w} `));
    }
    const locks = (await admin.query<{ flag: string; owner: string }>(`SELECT flag, owner FROM ${schema}.flag_locks ORDER BY flag`)).rows;
    expect(locks).toEqual([
      { flag: `own-${w}`, owner: `p-${w}` },
      { flag: 'shared-a', owner: `p-${w}` },
      { flag: 'shared-b', owner: `p-${w}` },
    ]);
  });

  it('20 separate pools replacing one stale lock at once: exactly one wins', async () => {
    await store.save(mkState('old', { status: 'completed' }), []);
    await store.lockFlags('old', ['f'], { now: T0 });
    const stores = await Promise.all(Array.from({ length: 20 }, () => open(schema)));
    await Promise.all(stores.map((s, i) => s.save(mkState(`q-${i}`), [])));
    const results = await Promise.allSettled(stores.map((s, i) => s.lockFlags(`q-${i}`, ['f'], { now: T0 })));
    const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    expect(winners).toHaveLength(1);
    expect((await store.readLock('flag', 'f'))?.owner).toBe(`q-${winners[0]}`);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(LockError);
  });

  it('20 separate pools taking one run lock: exactly one driver', async () => {
    const stores = await Promise.all(Array.from({ length: 20 }, () => open(schema)));
    const results = await Promise.allSettled(stores.map((s) => s.lockRun('r', { leaseMs: 60_000, now: Date.now() })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as Error).message).toMatch(/run r is being driven by pid/);
    expect(await count('run_locks')).toBe(1);
  });

  it('flag lock takeover with separate pools: the taker owns the flag and the old holder can no longer unlock it', async () => {
    const a = await open(schema);
    const b = await open(schema);
    await a.save(mkState('run-a'), []);
    await b.save(mkState('run-b'), []);
    await a.lockFlags('run-a', ['f'], { now: T0 });
    await expect(b.lockFlags('run-b', ['f'], { now: T0 })).rejects.toThrow(/locked by run run-a/);
    await b.lockFlags('run-b', ['f'], { now: T0 + 5, takeover: true });
    await a.unlockFlags('run-a', ['f']);
    expect(await b.readLock('flag', 'f')).toEqual({ owner: 'run-b', host: hostname(), pid: process.pid, acquiredAt: new Date(T0 + 5).toISOString(), leaseUntil: Number.MAX_SAFE_INTEGER });
  });

  describe('the connection password', () => {
    const PASSWORD = 'pw-Zq8r!t%40x9';
    const withPassword = (u: string, port?: number) => {
      const x = new URL(u);
      x.username = 'postgres';
      x.password = PASSWORD;
      if (port) x.port = String(port);
      return x.toString();
    };

    it('is not in dir (the display string callers print)', async () => {
      const s = await open(schema, withPassword(url)); // trust auth: any password is accepted
      expect(s.dir).not.toContain(PASSWORD);
      expect(s.dir).not.toContain('Zq8r');
      expect(s.dir).toBe(`postgres://127.0.0.1:${new URL(url).port}/${DB} (schema ${schema})`);
      expect(new PgStore(url).dir).toBe(`postgres://127.0.0.1:${new URL(url).port}/${DB}`);
    });

    it('is not in the error when the server is unreachable, nor in its hint or cause', async () => {
      const dead = withPassword(url, 1); // nothing listens on port 1
      const err = await PgStore.open(dead, { schema, connectionTimeoutMs: 3000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StateError);
      const e = err as StateError;
      const text = `${e.message}\n${e.hint}\n${String((e.cause as Error)?.message)}\n${e.stack}`;
      expect(text).not.toContain('Zq8r');
      expect(e.message).toMatch(/ECONNREFUSED/);
      expect(e.message).toMatch(/cannot connect/);
      expect(e.hint).toMatch(/ROLLOUT_STATE_URL/);
    });

    it('is not in the error for a database that does not exist or a malformed URL', async () => {
      const u = new URL(withPassword(url));
      u.pathname = '/no_such_db';
      const err = await PgStore.open(u.toString(), { schema }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StateError);
      expect((err as Error).message).toMatch(/no_such_db/);
      expect((err as Error).message).not.toContain('Zq8r');
      const bad = await PgStore.open(`postgres://postgres:${PASSWORD}@127.0.0.1:notaport/db`, { schema }).catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(Error);
      expect(bad).toBeInstanceOf(StateError);
      expect((bad as StateError).message).toMatch(/cannot connect: Invalid URL/);
      expect((bad as StateError).hint).toMatch(/postgres:\/\/user:password@host/);
      expect(`${(bad as Error).message}\n${(bad as Error).stack}`).not.toContain('Zq8r');
    });

    it('is not written into the state when a run records the URL (redacted like any URL)', async () => {
      await store.save(mkState('r', { reason: `store ${withPassword(url)}` }), [ev(0, withPassword(url))]);
      const raw = (await admin.query(`SELECT r::text FROM ${schema}.runs r UNION ALL SELECT e::text FROM ${schema}.events e`)).rows.map((r) => r.r).join('\n');
      expect(raw).not.toContain('Zq8r');
    });
  });

  it('a failed query after close is a StateError, and close is idempotent', async () => {
    const s = await PgStore.open(url, { schema });
    await s.close();
    await s.close();
    await expect(s.list()).rejects.toThrow(StateError);
  });
});
