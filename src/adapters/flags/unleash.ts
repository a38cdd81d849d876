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
 *   - Everything is validated before the first write (percentages: Unleash accepts "150";
 *     segment names: an unknown one changes nothing).
 */
import { z } from 'zod';
import { httpUrl, insecureTls, warnInsecureTls, flagRetryBudgetMs, flagTimeoutMs } from '../options.js';
import { BackendError, UsageError } from '../../errors.js';
import { registerSecret, safeUrl } from '../../util/redact.js';
import type { AdapterContext, FlagBackend, FlagBackendFactory, FlagChange, FlagState } from '../types.js';
import { checkChange as checkShared } from './shared.js';
import { UnleashAdminApi } from './unleash/admin-api.js';
import {
  RING_TITLE_PREFIX,
  SEGMENT_TITLE_PREFIX,
  allowlistStrategy,
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

    if (!change.enabled) {
      if (env.enabled) await this.api.setEnabled(flag, false);
      return;
    }

    const managed = findManaged(strategies);
    const want = managedStrategy(flag, pct, stickiness, managed, change.variants ? unleashVariants(change.variants, stickiness) : undefined);
    if (!managed || !sameStrategy(managed, want)) {
      // A change without a split keeps the split the strategy has.
      await this.api.putStrategy(flag, managed, want.variants || !managed?.variants ? want : { ...want, variants: managed.variants });
    }

    if (change.users) {
      const users = [...new Set(change.users)];
      const list = findAllowlist(strategies);
      await this.sync(flag, new Map<string, UnleashStrategy>(list ? [['', list]] : []), new Map<string, UnleashStrategy>(users.length ? [['', allowlistStrategy(flag, users)]] : []));
    }
    if (change.segments) {
      const want = new Map([...segmentIds].map(([name, id]) => [name, segmentStrategy(flag, name, id)]));
      await this.sync(flag, titled(strategies, SEGMENT_TITLE_PREFIX), want);
    }
    // Rings no longer wanted (a percentage step: all) go.
    const rings = Object.entries(change.rings ?? {});
    if (rings.length) await this.api.ensureContextField(this.o.ringContextField);
    const wantRings = new Map(rings.map(([ring, p]) => [ring, ringStrategy(flag, this.o.ringContextField, ring, p, stickiness)]));
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
    return readEnvironment(flag, this.api.environment(feature));
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
