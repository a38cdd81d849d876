/**
 * `local`: the embedded default. A JSON flag store managed by rollout (default
 * .rollout/flags.json), evaluated with the same sticky bucketing Unleash uses, so
 * `rollout evaluate` answers exactly as an Unleash gradual rollout would.
 */
import { readFile, mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { z } from 'zod';
import { BackendError } from '../../errors.js';
import { inRollout } from '../../util/bucket.js';
import { selectVariant, toWeights, type VariantWeight } from '../../util/variants.js';
import { withDirLock } from '../../util/dirlock.js';
import { serialised } from './shared.js';
import { excludesAnyone, type Exclusion, type FlagBackend, type FlagBackendFactory, type FlagChange, type FlagState } from '../types.js';

export const options = z
  .object({
    path: z.string().optional().describe('The flag store file (default: <state dir>/flags.json).'),
  })
  .strict();

export interface StoredFlag {
  enabled: boolean;
  percentage: number;
  rings?: Record<string, number>;
  users?: string[];
  segments?: string[];
  stickiness?: string;
  /** An experiment's variants, Unleash weights (shares of 1000, sorted by name as Unleash keeps them). */
  variants?: VariantWeight[];
  /** Cohorts rolled back: off for these segments / rings whatever else the flag says. */
  exclude?: Exclusion;
  updatedAt: string;
}

export async function readStore(path: string, name = 'local'): Promise<Record<string, StoredFlag>> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, StoredFlag>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new BackendError(name, `flag store ${path} is unreadable: ${(err as Error).message}`, { hint: 'Fix or remove the file; it holds only flag states.' });
  }
}

/**
 * Several processes (different runs on different flags) may write the store: each
 * read-modify-write holds a lock directory (mkdir is atomic); a lock older than 10 s is stale.
 */
async function withFileLock<T>(path: string, f: () => Promise<T>): Promise<T> {
  const lock = `${path}.lock`;
  await mkdir(dirname(path), { recursive: true });
  return withDirLock(
    lock,
    { staleMs: 10_000, waitMs: 15_000, busy: () => new BackendError('local', `flag store ${path} is locked by another process`, { retryable: true, hint: `If no rollout is running, remove ${lock}.` }) },
    f,
  );
}

export interface Evaluation {
  enabled: boolean;
  reason: string;
  /** The user's variant, when the flag is an experiment and the user gets it. */
  variant?: string;
}

export function evaluate(flag: string, f: StoredFlag | undefined, key: string, ctx: { ring?: string; segment?: string } = {}): Evaluation {
  const withVariant = (e: Evaluation): Evaluation => {
    if (!e.enabled || !f?.variants?.length) return e;
    // Unleash: the strategy's groupId (the flag name) and the user id as stickiness value.
    const variant = selectVariant(flag, key, f.variants);
    return variant ? { ...e, variant, reason: `${e.reason}; variant ${variant}` } : e;
  };
  if (!f) return { enabled: false, reason: 'flag not in the store' };
  if (!f.enabled) return { enabled: false, reason: 'flag is off' };
  if (ctx.segment && f.exclude?.segments?.includes(ctx.segment)) return { enabled: false, reason: `segment ${ctx.segment} is rolled back` };
  if (ctx.ring && f.exclude?.rings?.includes(ctx.ring)) return { enabled: false, reason: `ring ${ctx.ring} is rolled back` };
  if (f.users?.includes(key)) return withVariant({ enabled: true, reason: 'user is allowlisted' });
  if (ctx.segment && f.segments?.includes(ctx.segment)) return withVariant({ enabled: true, reason: `segment ${ctx.segment} is allowlisted` });
  const pct = ctx.ring && f.rings && ctx.ring in f.rings ? f.rings[ctx.ring]! : f.percentage;
  const on = inRollout(key, flag, pct);
  return withVariant({ enabled: on, reason: `${ctx.ring && f.rings && ctx.ring in f.rings ? `ring ${ctx.ring} at` : 'gradual rollout'} ${pct}%: ${on ? 'in' : 'not in'} bucket` });
}

/** An exclusion as stored: only the non-empty lists, each name once. */
function tidy(x: Exclusion): Exclusion {
  return { ...(x.segments?.length ? { segments: [...new Set(x.segments)] } : {}), ...(x.rings?.length ? { rings: [...new Set(x.rings)] } : {}) };
}

export const create: FlagBackendFactory = (opts, ctx) => {
  const o = options.parse(opts);
  const path = o.path ? resolve(ctx.cwd, o.path) : resolve(ctx.cwd, ctx.env.ROLLOUT_STATE_DIR ?? '.rollout', 'flags.json');
  const name = `local (${path})`;
  const backend: FlagBackend = {
    name,
    variants: true,
    excludes: true,
    async apply(change: FlagChange) {
      const pct = change.enabled ? (change.percentage ?? 100) : 0;
      if (!(pct >= 0 && pct <= 100)) throw new BackendError(name, `percentage ${pct} for ${change.flag} is outside 0..100`);
      // One writer per file in this process (serialised), and across processes (the file lock).
      await serialised(path, () =>
        withFileLock(path, async () => {
          const store = await readStore(path, name);
          const prev = store[change.flag];
          // A change without users/segments leaves the allowlist as it is (as other backends do).
          const users = change.users ?? prev?.users;
          const segments = change.segments ?? prev?.segments;
          // Likewise a change without `exclude` keeps the cohorts rolled back so far.
          const exclude = change.exclude ? tidy(change.exclude) : prev?.exclude;
          store[change.flag] = {
            enabled: change.enabled,
            percentage: pct,
            ...(change.rings ? { rings: change.rings } : {}),
            ...(users ? { users } : {}),
            ...(segments ? { segments } : {}),
            ...(change.stickiness ? { stickiness: change.stickiness } : {}),
            ...(change.variants ? { variants: toWeights(change.variants) } : {}),
            ...(excludesAnyone(exclude) ? { exclude } : {}),
            updatedAt: new Date().toISOString(),
          };
          await writeFileAtomic(path, JSON.stringify(store, null, 2) + '\n', { mode: 0o600 });
        }),
      );
    },
    async read(flag: string): Promise<FlagState> {
      const f = (await readStore(path, name))[flag];
      if (!f) return { flag, exists: false, enabled: false, percentage: 0 };
      return { flag, exists: true, enabled: f.enabled, percentage: f.percentage, ...(f.rings ? { rings: f.rings } : {}), ...(f.users ? { users: f.users } : {}), ...(f.segments ? { segments: f.segments } : {}), ...(f.variants ? { variants: f.variants } : {}), ...(excludesAnyone(f.exclude) ? { exclude: f.exclude } : {}) };
    },
  };
  return backend;
};
