import type { Store } from '../state/index.js';
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
  const { openStore: open } = await import('../state/index.js');
  const { resolve } = await import('node:path');
  return open({ url: process.env.ROLLOUT_STATE_URL, dir: resolve(c.cwd, c.stateDir) });
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
