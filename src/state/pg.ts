/**
 * The shared state store for teams: PostgreSQL (a `postgres://…` URL, ROLLOUT_STATE_URL in the
 * CLI). Same public API and semantics as FileStore (src/state/file.ts), with transactions
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
import type { Control, RunEvent, RunState } from '../engine/types.js';
import { StateError, UsageError } from '../errors.js';
import type { Plan } from '../plan/model.js';
import type { Store } from './types.js';
import { LeaseLostError, type Fence } from './lease.js';
import { clean, json, pgText, type PgStoreOptions } from './pg-base.js';
import { PgLeases } from './pg-leases.js';
import { pickRun } from './resolve.js';
import { planSnapshot } from './snapshot.js';

export { PG_STORE_SCHEMA_VERSION } from './pg-schema.js';
export type { PgStoreOptions } from './pg-base.js';

/**
 * Parts by concern: pg-base.ts (pool, errors, transactions, record checks), pg-schema.ts
 * (tables and layout migrations), pg-leases.ts (locks, leases, workers); here runs, events,
 * incidents, plan snapshots and the control inbox.
 */
export class PgStore extends PgLeases implements Store {
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
  protected async scan(): Promise<{ runs: RunState[]; broken: Array<{ id: string; error: StateError }> }> {
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
}
