/**
 * What every command receives: where it runs, how to print, the environment, the clock, the
 * signals, the prompt and the state store. `main(argv, io)` (cli.ts) builds it from the
 * process's edges (`Io`), which a test replaces to run a command in-process.
 */
import { userInfo } from 'node:os';
import type { RunState } from '../engine/types.js';
import { UsageError } from '../errors.js';
import type { Plan } from '../plan/model.js';
import { realClock, type Clock } from '../runner/clock.js';
import type { FollowIo } from '../runner/follow.js';
import type { Env, Prompt, SignalHooks } from '../runner/io.js';
import type { Store } from '../state/index.js';

export type { Env, Prompt, SignalHooks };

/** The process's edges. bin/rollout.js uses the real ones (cli.ts `processIo`); tests pass their own. */
export interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** A human at a terminal (stdin and stdout TTYs); CI in env turns it off. */
  tty: boolean;
  env: Env;
  cwd: string;
  clock: Clock;
  signals: SignalHooks;
  prompt: Prompt;
  /** Open the state store of this invocation (default: PostgreSQL or files, from env and the state dir). */
  openStore?: (c: Context) => Promise<Store>;
  /** Leave at once with this code (a second Ctrl-C). Only bin/ ends the process. */
  exit: (code: number) => void;
}

/** What every command gets: what follow() needs (runner/follow.ts) and the state store. */
export interface Context extends FollowIo {
  stateDir: string;
  debug: boolean;
  stderr: (s: string) => void;
  openStore: () => Promise<Store>;
}

/** The state store: PostgreSQL when ROLLOUT_STATE_URL is a postgres:// URL, else files in the state dir. */
export async function defaultStore(c: Pick<Context, 'env' | 'cwd' | 'stateDir'>): Promise<Store> {
  const { openStore: open } = await import('../state/index.js');
  const { resolve } = await import('node:path');
  return open({ url: c.env.ROLLOUT_STATE_URL, dir: resolve(c.cwd, c.stateDir) });
}

export function printJson(c: Context, v: unknown): void {
  c.stdout(JSON.stringify(v, null, 2));
}

/** Who asks: --by, else ROLLOUT_USER / USER / USERNAME, else the OS account. */
export const who = (by?: string, env: Env = process.env): string => {
  if (by) return by;
  const name = env.ROLLOUT_USER ?? env.USER ?? env.USERNAME;
  if (name) return name;
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
};

/** The context's state store (same as `c.openStore()`). */
export const openStore = (c: Pick<Context, 'openStore'>): Promise<Store> => c.openStore();

/** `--start <time>` of plan and simulate: ISO 8601, default now. */
export function parseStart(c: Pick<Context, 'clock'>, s?: string): number {
  if (!s) return c.clock.now();
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new UsageError(`--start "${s}" is not a time`, { hint: 'Use ISO 8601, e.g. 2026-12-01T09:00:00Z.' });
  return t;
}

/** The plan a run was started from, if it still loads (status works without it). */
export async function planOf(c: Pick<Context, 'env' | 'cwd'>, s: RunState): Promise<Plan | undefined> {
  try {
    const { loadPlan } = await import('../plan/load.js');
    return (await loadPlan(s.plan.file, { adapters: false, env: c.env, cwd: c.cwd })).plan;
  } catch {
    return undefined;
  }
}

/**
 * A whole context from the parts a caller has (a test, the server calling a command's
 * handler): the rest defaults to the process's streams and env, the real clock, no signals,
 * no prompt, and the default store opener.
 */
export function createContext(o: Partial<Context> & Pick<Context, 'cwd'>): Context {
  const env = o.env ?? process.env;
  const streams = o.streams ?? { stdout: process.stdout, stderr: process.stderr };
  const line = (out: NodeJS.WritableStream) => (s: string) => void out.write(s.endsWith('\n') ? s : s + '\n');
  const c: Context = {
    stateDir: env.ROLLOUT_STATE_DIR ?? '.rollout',
    json: false,
    debug: false,
    interactive: false,
    clock: realClock,
    signals: () => () => undefined,
    prompt: async () => {
      throw new UsageError('no terminal to ask at', { hint: 'Pass --yes, or answer from another shell (`rollout approve`).' });
    },
    exit: () => undefined,
    stdout: line(streams.stdout),
    stderr: line(streams.stderr),
    // `this`: a copy of the context with another state dir (`{ ...c, stateDir }`) opens that one.
    openStore(this: Context) {
      return defaultStore(this);
    },
    who: (by) => who(by, env),
    ...o,
    env,
    streams,
  };
  return c;
}
