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

export async function openStore(c: Context) {
  const { FileStore } = await import('../state/store.js');
  const { resolve } = await import('node:path');
  return new FileStore(resolve(c.cwd, c.stateDir));
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
