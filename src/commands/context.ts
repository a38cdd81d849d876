import { isPostgresUrl, type Store } from '../state/index.js';
/** What every command receives: where it runs, how to print, whether a human is there. */
export interface Context {
  cwd: string;
  stateDir: string;
  json: boolean;
  debug: boolean;
  /** A human at a terminal (prompts allowed): stdin and stdout are TTYs and CI is unset. */
  interactive: boolean;
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

/** The state store: PostgreSQL when ROLLOUT_STATE_URL is a postgres:// URL, else files in the state dir. */
export async function openStore(c: Context): Promise<Store> {
  const url = process.env.ROLLOUT_STATE_URL;
  if (isPostgresUrl(url)) {
    const { PgStore } = await import('../state/pg.js');
    return new PgStore(url);
  }
  const { FileStore } = await import('../state/store.js');
  const { resolve } = await import('node:path');
  const { checkStateDir, guardStore } = await import('../state/fs-guard.js');
  const dir = resolve(c.cwd, c.stateDir);
  await checkStateDir(dir);
  return guardStore(new FileStore(dir), dir);
}

export function printJson(c: Context, v: unknown): void {
  c.stdout(JSON.stringify(v, null, 2));
}

import { userInfo } from 'node:os';

export const who = (by?: string): string => {
  if (by) return by;
  const env = process.env.ROLLOUT_USER ?? process.env.USER ?? process.env.USERNAME;
  if (env) return env;
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
};
