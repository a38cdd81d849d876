/**
 * Unleash flag backend: drives one environment of a flag through Unleash's Admin API
 * (Unleash 5+; tested against 7.5.1). What rollout owns there, the options and the error
 * hints are in docs/adapters.md (`unleash`).
 *
 * Layout: unleash/strategies.ts turns a change into the strategies rollout owns and reads them
 * back (pure); unleash/admin-api.ts makes the calls; this file decides what to write.
 *
 * Decisions a reader needs here:
 *   - apply() reads the flag first and writes only what differs (applying twice costs one GET).
 *   - Strategies are written before the environment is switched on: switching on an environment
 *     with no strategy makes Unleash add a 100 % one by itself.
 *   - A partial rollback for some users (change.exclude) is constraints AND-ed onto every
 *     strategy rollout owns (unleash/strategies.ts exclusionConstraints); the gradual
 *     rollout's constraints hold it, so a change without `exclude` keeps it.
 *   - Everything is validated before the first write (percentages: Unleash accepts "150";
 *     segment names: an unknown one changes nothing).
 */
import { z } from 'zod';
import { httpUrl, insecureTls, warnInsecureTls, flagRetryBudgetMs, flagTimeoutMs } from '../options.js';
import { BackendError, UsageError } from '../../errors.js';
import { registerSecret, safeUrl } from '../../util/redact.js';
import type { AdapterContext, Exclusion, FlagBackend, FlagBackendFactory, FlagChange, FlagState } from '../types.js';
import { checkChange as checkShared } from './shared.js';
import { UnleashAdminApi } from './unleash/admin-api.js';
import {
  RING_TITLE_PREFIX,
  SEGMENT_TITLE_PREFIX,
  allowlistStrategy,
  allowlistUsers,
  currentExclusion,
  exclusionConstraints,
  findAllowlist,
  findManaged,
  managedStrategy,
  readEnvironment,
  ringStrategy,
  sameStrategy,
  segmentStrategy,
  titled,
  unleashVariants,
  unmanagedOpen,
  type UnleashConstraint,
  type UnleashStrategy,
} from './unleash/strategies.js';

export { ALLOWLIST_TITLE, ROLLOUT_TITLE, unleashVariants, type UnleashStrategy } from './unleash/strategies.js';

export const options = z.strictObject({
  /** Unleash base URL, e.g. https://unleash.example.com (a trailing /api is fine too). */
  url: httpUrl(),
  /** Admin API token or personal access token. A secret: never logged. */
  token: z.string().min(1),
  project: z.string().min(1).default('default'),
  environment: z.string().min(1).default('development'),
  /** Create a missing flag (type "release") instead of failing. */
  create: z.boolean().default(false),
  /** Default stickiness of the gradual rollout ("default", "userId", "sessionId", "random" or a context field). */
  stickiness: z.string().min(1).default('default'),
  /** Unleash context field the application sets to its user's ring (ring steps); created if missing. */
  ringContextField: z.string().min(1).default('ring'),
  /** Per-request timeout, ms. */
  timeoutMs: flagTimeoutMs,
  /** Total time budget for retrying 429/5xx on safe calls, ms (0 = no retries). */
  retryBudgetMs: flagRetryBudgetMs,
  /** Skip TLS certificate verification (a warning is logged). */
  insecureTls,
});
export type UnleashOptions = z.infer<typeof options>;

class UnleashBackend implements FlagBackend {
  readonly name: string;
  readonly variants = true;
  /** Partial rollbacks: the negated cohort as constraints on every strategy rollout owns. */
  readonly excludes = true;
  private readonly api: UnleashAdminApi;

  constructor(
    private readonly o: UnleashOptions,
    private readonly ctx: AdapterContext,
  ) {
    registerSecret(o.token);
    const base = o.url.replace(/\/+$/, '').replace(/\/api$/, '');
    this.name = `unleash (${safeUrl(base)})`;
    this.api = new UnleashAdminApi(this.name, { ...o, base }, (line) => ctx.log(line));
    warnInsecureTls(ctx, this.name, o.insecureTls);
  }

  /** Rollback of many flags: Unleash's bulk toggle turns hundreds off in a few calls. */
  async disableMany(flags: string[]): Promise<void> {
    await this.api.disableMany(flags);
  }

  async apply(change: FlagChange): Promise<void> {
    const pct = checkChange(change, this.name);
    const flag = change.flag;
    const stickiness = change.stickiness ?? this.o.stickiness;
    if (change.enabled && !Number.isInteger(pct)) {
      this.ctx.log(`${this.name}: ${flag}: Unleash buckets users in whole percents: ${pct}% serves the same users as ${Math.floor(pct)}%`);
    }

    let feature = await this.api.getFeature(flag);
    if (!feature) {
      if (!this.o.create) {
        throw new BackendError(this.name, `flag ${flag} does not exist in project ${this.o.project}`, {
          status: 404,
          hint: `Create the flag ${flag} in Unleash (project ${this.o.project}), or set \`create: true\` in the unleash backend options.`,
        });
      }
      feature = await this.api.createFeature(flag);
    }
    const env = this.api.environment(feature);
    const strategies = env.strategies ?? [];
    // Resolve segment names before anything is written: an unknown name changes nothing.
    const segmentIds = change.enabled && change.segments?.length ? await this.api.segmentIds([...new Set(change.segments)]) : new Map<string, number>();
    const managed = findManaged(strategies);
    // The rolled-back cohorts as constraints on every strategy rollout owns (kept when the change has none).
    const excluded = change.enabled ? (change.exclude ? await this.exclusion(flag, change.exclude) : currentExclusion(managed)) : [];

    if (!change.enabled) {
      if (env.enabled) await this.api.setEnabled(flag, false);
      return;
    }

    const want = managedStrategy(flag, pct, stickiness, managed, change.variants ? unleashVariants(change.variants, stickiness) : undefined, excluded);
    if (!managed || !sameStrategy(managed, want)) {
      // A change without a split keeps the split the strategy has.
      await this.api.putStrategy(flag, managed, want.variants || !managed?.variants ? want : { ...want, variants: managed.variants });
    }

    // Users and segments absent leave the allowlists as they are — but with the exclusion as it is now.
    const list = findAllowlist(strategies);
    const users = change.users ? [...new Set(change.users)] : list && list.disabled !== true ? allowlistUsers(list) : [];
    if (change.users || users.length) {
      await this.sync(flag, new Map<string, UnleashStrategy>(list ? [['', list]] : []), new Map<string, UnleashStrategy>(users.length ? [['', allowlistStrategy(flag, users, excluded)]] : []));
    }
    const haveSegments = titled(strategies, SEGMENT_TITLE_PREFIX);
    const segments = change.segments ? segmentIds : new Map([...haveSegments].filter(([, x]) => x.disabled !== true && x.segments?.length === 1).map(([n, x]) => [n, x.segments![0]!]));
    if (change.segments || segments.size) {
      const want = new Map([...segments].map(([name, id]) => [name, segmentStrategy(flag, name, id, excluded)]));
      // Absent segments: only rewrite the ones there (a disabled one is left alone, never deleted).
      await this.sync(flag, change.segments ? haveSegments : new Map([...haveSegments].filter(([n]) => want.has(n))), want);
    }
    // Rings no longer wanted (a percentage step: all) go.
    const rings = Object.entries(change.rings ?? {});
    if (rings.length) await this.api.ensureContextField(this.o.ringContextField);
    const wantRings = new Map(rings.map(([ring, p]) => [ring, ringStrategy(flag, this.o.ringContextField, ring, p, stickiness, excluded)]));
    await this.sync(flag, titled(strategies, RING_TITLE_PREFIX), wantRings);

    const others = unmanagedOpen(strategies, managed);
    if (others.length) {
      this.ctx.log(
        `${this.name}: ${flag}: warning: ${others.length} other unconstrained strateg${others.length === 1 ? 'y' : 'ies'} (${others
          .map((s) => s.title || s.name)
          .join(', ')}) also enable this flag in ${this.o.environment}; more than ${pct}% of users may get it`,
      );
    }

    if (!env.enabled) await this.api.setEnabled(flag, true);
  }

  /** A partial rollback's constraints; refuses (before any write) a segment one strategy cannot negate. */
  private async exclusion(flag: string, x: Exclusion): Promise<UnleashConstraint[]> {
    const names = [...new Set(x.segments ?? [])];
    const segs = names.length ? await this.api.segments(names) : new Map();
    const { constraints, refused } = exclusionConstraints(x, segs, this.o.ringContextField);
    if (refused) {
      throw new BackendError(this.name, `${flag}: cannot roll back Unleash segment "${refused.name}" on its own: it has ${refused.count} constraints${refused.count ? ' (a user leaves it when any one fails, which one strategy cannot express)' : ' (it matches everybody)'}`, {
        hint: refused.count ? `Roll back a segment defined by one constraint (e.g. userId IN [...]), or a ring; or define "${refused.name}" with one constraint.` : 'A segment of everybody is a full rollback: `rollout rollback --reason …`.',
      });
    }
    if (x.rings?.length) await this.api.ensureContextField(this.o.ringContextField);
    return constraints;
  }

  /** Make the owned strategies `have` exactly `want` (by name): write the ones that differ, delete the rest. */
  private async sync(flag: string, have: Map<string, UnleashStrategy>, want: Map<string, UnleashStrategy>): Promise<void> {
    for (const [name, w] of want) {
      const s = have.get(name);
      if (!s || !sameStrategy(s, w)) await this.api.putStrategy(flag, s, w);
    }
    for (const [name, s] of have) if (!want.has(name)) await this.api.deleteStrategy(flag, s);
  }

  async read(flag: string): Promise<FlagState> {
    if (typeof flag !== 'string' || flag.trim() === '') throw new UsageError(`${this.name}: flag name is empty`);
    const feature = await this.api.getFeature(flag);
    if (!feature) return { flag, exists: false, enabled: false, percentage: 0 };
    return readEnvironment(flag, this.api.environment(feature), this.o.ringContextField);
  }
}

/** Validate a change before anything is written; returns the target percentage (0..100). */
function checkChange(change: FlagChange, backend: string): number {
  const p = checkShared(change, backend);
  if (change.users !== undefined && (!Array.isArray(change.users) || change.users.some((u) => typeof u !== 'string' || u === ''))) {
    throw new UsageError(`${backend}: ${change.flag}: users must be a list of non-empty user ids`);
  }
  if (change.segments !== undefined && (!Array.isArray(change.segments) || change.segments.some((x) => typeof x !== 'string' || x === ''))) {
    throw new UsageError(`${backend}: ${change.flag}: segments must be a list of non-empty Unleash segment names`);
  }
  if (change.stickiness !== undefined && (typeof change.stickiness !== 'string' || change.stickiness === '')) {
    throw new UsageError(`${backend}: ${change.flag}: stickiness must be a non-empty string`);
  }
  return p;
}

export const create: FlagBackendFactory = (raw, ctx) => new UnleashBackend(options.parse(raw), ctx);
