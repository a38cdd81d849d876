/**
 * The PostgreSQL store's table layout (DDL) and its in-place migrations, as SQL text. `t(name)`
 * qualifies a table with the store's schema. PgBase.createSchema runs them in one transaction.
 */

/** Version of the table layout (not of the run record: that is STATE_SCHEMA_VERSION). 2: leases with epochs, workers, plan snapshots. */
export const PG_STORE_SCHEMA_VERSION = 2;

/** The tables of layout version 1 (IF NOT EXISTS: safe on an existing layout). */
export const tablesV1 = (t: (name: string) => string) => `
    CREATE TABLE IF NOT EXISTS ${t('schema_version')} (
      version integer NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE IF NOT EXISTS ${t('runs')} (
      id text PRIMARY KEY,
      plan_name text NOT NULL,
      status text NOT NULL,
      state jsonb NOT NULL,
      seq integer NOT NULL,
      started_at double precision NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX IF NOT EXISTS runs_plan_name ON ${t('runs')} (plan_name);
    CREATE TABLE IF NOT EXISTS ${t('events')} (
      run_id text NOT NULL,
      seq integer NOT NULL,
      at double precision NOT NULL,
      type text NOT NULL,
      msg text NOT NULL,
      data jsonb,
      PRIMARY KEY (run_id, seq)
    );
    CREATE TABLE IF NOT EXISTS ${t('inbox')} (
      id bigserial PRIMARY KEY,
      run_id text NOT NULL,
      posted_at timestamptz NOT NULL DEFAULT now(),
      control jsonb NOT NULL
    );
    CREATE INDEX IF NOT EXISTS inbox_run ON ${t('inbox')} (run_id, id);
    CREATE TABLE IF NOT EXISTS ${t('incidents')} (
      run_id text NOT NULL,
      key text NOT NULL,
      written_at timestamptz NOT NULL DEFAULT now(),
      incident jsonb NOT NULL,
      PRIMARY KEY (run_id, key)
    );
    CREATE TABLE IF NOT EXISTS ${t('flag_locks')} (
      flag text PRIMARY KEY,
      owner text NOT NULL,
      host text NOT NULL,
      pid integer NOT NULL,
      acquired_at timestamptz NOT NULL,
      lease_until bigint NOT NULL
    );
    CREATE TABLE IF NOT EXISTS ${t('run_locks')} (
      run_id text PRIMARY KEY,
      host text NOT NULL,
      pid integer NOT NULL,
      acquired_at timestamptz NOT NULL,
      lease_until bigint NOT NULL
    );
`;

/** Layout 1 → 2, in place: run leases gain an epoch and a worker; workers and plan snapshots. */
export const layoutV1toV2 = (t: (name: string) => string) => `
    ALTER TABLE ${t('run_locks')} ADD COLUMN IF NOT EXISTS epoch bigint NOT NULL DEFAULT 0;
    ALTER TABLE ${t('run_locks')} ADD COLUMN IF NOT EXISTS worker text;
    CREATE INDEX IF NOT EXISTS run_locks_worker ON ${t('run_locks')} (worker);
    CREATE TABLE IF NOT EXISTS ${t('plans')} (
      run_id text PRIMARY KEY,
      plan jsonb NOT NULL
    );
    CREATE TABLE IF NOT EXISTS ${t('workers')} (
      id text PRIMARY KEY,
      host text NOT NULL,
      pid integer NOT NULL,
      started_at bigint NOT NULL,
      concurrency integer NOT NULL,
      heartbeat_at bigint NOT NULL
    );
`;
