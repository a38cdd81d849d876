/**
 * A throwaway PostgreSQL 15 cluster: initdb as the `postgres` OS user (the server refuses
 * root) into a fresh temp dir, trust auth, fsync off, listening on 127.0.0.1:PORT only, socket
 * in the temp dir. stop() stops it and deletes the dir; so does the test process exiting.
 */
import { postgresBin } from '../setup/ensure.mjs';
import { access, chown } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { cleanupAll, freePort, onProcessExit, removeDir, removeDirSync, run, tempDir } from './util.js';

// ROLLOUT_PG_BIN, else the newest /usr/lib/postgresql/<major>/bin with initdb (test/setup/ensure.mjs, which `npm test` runs first, installs one when missing).
export const PG_BIN = postgresBin() ?? process.env.ROLLOUT_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface Postgres {
  /** Superuser URL of the `postgres` database. */
  url: string;
  port: number;
  /** CREATE DATABASE name [TEMPLATE template]; returns its URL. */
  createDatabase(name: string, template?: string): Promise<string>;
  stop(): Promise<void>;
}

/** `postgres://postgres@127.0.0.1:PORT/db` from any URL of the cluster. */
export function databaseUrl(clusterUrl: string, db: string): string {
  const u = new URL(clusterUrl);
  u.pathname = `/${db}`;
  return u.toString();
}

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`;

/**
 * CREATE DATABASE through any URL of the cluster (tests in workers get only a URL). A template
 * must have no open connections. Cloning a migrated Unleash database takes ~0.25 s.
 */
export async function createDatabaseAt(clusterUrl: string, name: string, template?: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`bad database name ${JSON.stringify(name)}`);
  const client = new pg.Client({ connectionString: databaseUrl(clusterUrl, 'postgres'), connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${quoteIdent(name)}${template ? ` TEMPLATE ${quoteIdent(template)}` : ''}`);
  } finally {
    await client.end().catch(() => undefined);
  }
  return databaseUrl(clusterUrl, name);
}

export async function startPostgres(): Promise<Postgres> {
  const initdb = join(PG_BIN, 'initdb');
  try {
    await access(initdb);
  } catch {
    throw new Error(`postgres not found: ${initdb} is missing (PostgreSQL server binaries are needed; \`npm test\` installs them as root on Debian, else: sudo apt-get install -y --no-install-recommends postgresql)`);
  }
  // The server refuses to run as root; as another non-root user we run it directly.
  const asPostgres = userInfo().uid === 0;
  const wrap = (cmd: string, args: string[]): [string, string[]] => (asPostgres ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);

  const dir = await tempDir('pg');
  const data = join(dir, 'data');
  const port = await freePort();
  let started = false;
  const pgCtl = join(PG_BIN, 'pg_ctl');
  const unhook = onProcessExit(() => {
    if (started) spawnSync(...wrap(pgCtl, ['-D', data, '-m', 'immediate', '-w', '-t', '10', 'stop']), { stdio: 'ignore', timeout: 15_000 });
    removeDirSync(dir);
  });
  const stop = async () => {
    await cleanupAll([
      async () => {
        if (!started) return;
        started = false;
        await run(...wrap(pgCtl, ['-D', data, '-m', 'fast', '-w', '-t', '15', 'stop']), { timeoutMs: 20_000 }).catch(() =>
          run(...wrap(pgCtl, ['-D', data, '-m', 'immediate', '-w', '-t', '10', 'stop']), { timeoutMs: 15_000 }),
        );
      },
      () => removeDir(dir),
      () => void unhook(),
    ]);
  };
  try {
    if (asPostgres) {
      const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
      const gids = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
      const uid = Number(ids.stdout.trim());
      const gid = Number(gids.stdout.trim());
      if (ids.status !== 0 || !Number.isInteger(uid)) throw new Error('postgres: there is no `postgres` OS user to run the server as');
      await chown(dir, uid, gid);
    }
    await run(...wrap(initdb, ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']), { timeoutMs: 60_000 });
    const serverOpts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
    started = true;
    await run(...wrap(pgCtl, ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '30', '-o', serverOpts, 'start']), { timeoutMs: 40_000 });
  } catch (err) {
    let log = '';
    try {
      log = (await import('node:fs')).readFileSync(join(dir, 'server.log'), 'utf8').slice(-2000);
    } catch {
      /* no log */
    }
    await stop().catch(() => undefined);
    throw new Error(`postgres failed to start: ${(err as Error).message}${log ? `\nserver log:\n${log}` : ''}`);
  }
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  return {
    url,
    port,
    createDatabase: (name, template) => createDatabaseAt(url, name, template),
    stop,
  };
}
