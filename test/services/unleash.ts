/**
 * A throwaway Unleash (unleash-server 7.5.1 from node_modules) in a child process
 * (unleash-launcher.mjs), on its own database of a harness PostgreSQL, listening on
 * 127.0.0.1:PORT, with an admin token `*:*.<random>` and a backend (client API) token
 * `default:development.<random>` created at first start.
 *
 * Healthy ~2.2 s after start on a fresh database (it runs ~400 migrations), ~1.4 s on a clone
 * of a migrated one: pass `template` (see migrateUnleashDatabase / the `unleashTemplateDb`
 * the global setup provides) for a quick fresh instance.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createDatabaseAt } from './postgres.js';
import { freePort, probeHttp, run, spawnChild, waitFor, type Child } from './util.js';

const LAUNCHER = fileURLToPath(new URL('./unleash-launcher.mjs', import.meta.url));

export interface Unleash {
  /** http://127.0.0.1:PORT */
  url: string;
  /** Admin API token (`*:*.…`). */
  adminToken: string;
  /** Backend/client API token for project default, environment development. */
  clientToken: string;
  /** The database it runs on. */
  database: string;
  stop(): Promise<void>;
}

/** Anything with the cluster's superuser URL (the object startPostgres returns, or { url }). */
export interface PgLike {
  url: string;
}

export interface UnleashOptions {
  /** Database name to create (default unleash_<random>). */
  database?: string;
  /** Create the database as a clone of this (migrated, unused) database. */
  template?: string;
  /** Use this existing database as is (no CREATE DATABASE). */
  existingDatabase?: string;
  /** Bound for the start, ms (default 60 s). */
  timeoutMs?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

function dbConfig(pgUrl: string, database: string) {
  const u = new URL(pgUrl);
  return { host: u.hostname, port: Number(u.port || 5432), user: decodeURIComponent(u.username || 'postgres'), password: decodeURIComponent(u.password), database };
}

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, SEND_TELEMETRY: 'false', CHECK_VERSION: 'false', NODE_ENV: 'production' };
  // Anything here would override the harness's choices inside unleash-server.
  for (const k of Object.keys(env)) {
    if (/^(DATABASE_|INIT_|HTTP_PORT$|PORT$|UNLEASH_URL$|BASE_URI_PATH$|DISABLE_)/.test(k)) delete env[k];
  }
  return env;
}

/** Run Unleash's migrations on a database (in a child process) so it can serve as a template. */
export async function migrateUnleashDatabase(pg: PgLike, database: string, timeoutMs = 60_000): Promise<void> {
  const env = { ...childEnv(), ROLLOUT_UNLEASH_LAUNCH: JSON.stringify({ mode: 'migrate', db: dbConfig(pg.url, database) }) };
  try {
    await run(process.execPath, [LAUNCHER], { env, timeoutMs });
  } catch (err) {
    throw new Error(`unleash: migrating database ${database} failed: ${(err as Error).message}`);
  }
}

const uniqueDbName = () => `unleash_${randomBytes(5).toString('hex')}`;

export async function startUnleash(pg: PgLike, opts: UnleashOptions = {}): Promise<Unleash> {
  const database = opts.existingDatabase ?? opts.database ?? uniqueDbName();
  try {
    if (!opts.existingDatabase) await createDatabaseAt(pg.url, database, opts.template);
  } catch (err) {
    throw new Error(`unleash: cannot create its database ${database}${opts.template ? ` from template ${opts.template}` : ''}: ${(err as Error).message}`);
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const adminToken = `*:*.${randomBytes(16).toString('hex')}`;
  const clientToken = `default:development.${randomBytes(16).toString('hex')}`;
  const env = {
    ...childEnv(),
    ROLLOUT_UNLEASH_LAUNCH: JSON.stringify({ mode: 'serve', port, db: dbConfig(pg.url, database), adminToken, clientToken, logLevel: opts.logLevel }),
  };
  let child: Child | undefined;
  try {
    child = spawnChild(process.execPath, [LAUNCHER], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const c = child;
    await waitFor(
      `unleash ${url}/health`,
      async () => {
        const r = await probeHttp(`${url}/health`, 2000);
        if (r.status === 200) return true;
        throw new Error(`HTTP ${r.status}`);
      },
      { timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: 100, abort: () => (c.exited() ? `unleash ${c.exited()}\n${c.tail.toString().slice(-2000)}` : undefined) },
    );
    // /health is up before the init tokens are guaranteed usable on every code path: check one.
    await waitFor(
      'unleash admin token',
      async () => {
        const r = await fetch(`${url}/api/admin/projects`, { headers: { authorization: adminToken }, signal: AbortSignal.timeout(2000) });
        await r.body?.cancel();
        if (r.status === 200) return true;
        throw new Error(`GET /api/admin/projects: HTTP ${r.status}`);
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
  } catch (err) {
    const tail = child?.tail.toString() ?? '';
    await child?.stop(2000).catch(() => undefined);
    const msg = (err as Error).message;
    throw new Error(`unleash failed to start: ${msg}${tail && !msg.includes(tail.slice(-200)) ? `\n${tail.slice(-2000)}` : ''}`);
  }
  const c = child;
  // The IPC channel is only there so the child notices if we die; do not let it keep us alive.
  c.proc.channel?.unref();
  return {
    url,
    adminToken,
    clientToken,
    database,
    stop: () => c.stop(5000),
  };
}
