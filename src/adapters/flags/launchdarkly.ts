/**
 * LaunchDarkly flag backend: drives one environment of an existing flag through REST API v2
 * with semantic patches. Instructions, options, experiments and errors are in docs/adapters.md
 * (`launchdarkly`).
 *
 * Layout: launchdarkly/api.ts makes the two calls (GET the flag, PATCH it);
 * launchdarkly/targeting.ts turns a change into instructions and reads a flag back (pure);
 * this file decides which to send.
 *
 * Decisions a reader needs here:
 *   - Only instructions that change something are sent, so an unchanged flag costs no PATCH and
 *     no audit-log entry, and applying twice equals applying once.
 *   - Disabling only turns targeting off and keeps the default rule: re-enabling restores the
 *     last rollout.
 *   - Boolean flags for rollouts; a phase with variants needs a multivariate string flag, whose
 *     off variation is what users outside the experiment get. rollout never creates flags.
 */
import { z } from 'zod';
import { httpUrl, flagRetryBudgetMs, flagTimeoutMs } from '../options.js';
import { BackendError } from '../../errors.js';
import { registerSecret, safeUrl } from '../../util/redact.js';
import { excludesAnyone, type AdapterContext, type FlagBackend, type FlagBackendFactory, type FlagChange, type FlagState } from '../types.js';
import { checkChange } from './shared.js';
import { LaunchDarklyApi, type Instruction, type LdEnvironment, type LdFlag } from './launchdarkly/api.js';
import {
  ALL,
  experimentWeights,
  isBooleanFlag,
  readBoolean,
  readExperiment,
  rolloutFields,
  excludeInstructions,
  ruleInstructions,
  sameRollout,
  toWeight,
  userTargets,
  variationFor,
} from './launchdarkly/targeting.js';


export const options = z.strictObject({
  baseUrl: httpUrl().default('https://app.launchdarkly.com'),
  /** API access token (sent as `Authorization: <token>`). A secret: never logged. */
  apiToken: z.string().min(1),
  projectKey: z.string().min(1),
  environmentKey: z.string().min(1),
  /** Per-request timeout, ms. */
  timeoutMs: flagTimeoutMs,
  /** Total time budget for retrying 429/5xx, ms (0 = no retries). */
  retryBudgetMs: flagRetryBudgetMs,
  /** Context kind used for the percentage rollout and the user allowlist. */
  contextKind: z.string().min(1).default('user'),
  /** Context attribute the rollout buckets by. */
  bucketBy: z.string().min(1).default('key'),
  /** Context attribute holding the caller's ring, for ring steps. */
  ringAttribute: z.string().min(1).default('ring'),
});
export type LaunchDarklyOptions = z.infer<typeof options>;

class LaunchDarklyBackend implements FlagBackend {
  readonly name: string;
  /** Experiments: multivariate string flags, split by a percentage rollout over their variations. */
  readonly variants = true;
  /** Partial rollbacks: rules serving `false` to the rolled-back segments / rings, first (launchdarkly/targeting.ts). */
  readonly excludes = true;
  private readonly api: LaunchDarklyApi;

  constructor(
    private readonly o: LaunchDarklyOptions,
    private readonly ctx: AdapterContext,
  ) {
    registerSecret(o.apiToken);
    const base = o.baseUrl.replace(/\/+$/, '');
    this.name = `launchdarkly (${safeUrl(base)}, project ${o.projectKey}, env ${o.environmentKey})`;
    this.api = new LaunchDarklyApi(this.name, { ...o, base });
  }

  private booleanVariations(flag: LdFlag): { onIdx: number; offIdx: number; onId: string; offId: string } {
    const onIdx = flag.variations.findIndex((v) => v.value === true);
    const offIdx = flag.variations.findIndex((v) => v.value === false);
    const on = flag.variations[onIdx];
    const off = flag.variations[offIdx];
    if (!on || !off) {
      throw new BackendError(this.name, `flag ${flag.key} is not a boolean flag (needs variations true and false)`, {
        hint: 'rollout drives boolean LaunchDarkly flags only.',
      });
    }
    return { onIdx, offIdx, onId: on._id, offId: off._id };
  }

  async apply(change: FlagChange): Promise<void> {
    const pct = checkChange(change, this.name);
    const weight = toWeight(pct);
    if (change.enabled && weight !== pct * 1000) {
      this.ctx.log(`${this.name}: ${change.flag}: ${pct}% rounded to ${weight / 1000}% (LaunchDarkly weights are in 0.001 % steps)`);
    }

    const flag = await this.api.getFlag(change.flag);
    if (!flag) {
      throw new BackendError(this.name, `flag ${change.flag} does not exist in project ${this.o.projectKey}`, {
        status: 404,
        hint: 'Create the flag in LaunchDarkly first (a boolean flag); rollout does not create flags.',
      });
    }
    const env = this.api.environment(flag);
    if (change.variants?.length || !isBooleanFlag(flag)) return this.applyExperiment(change, pct, flag, env);
    const { onIdx, offIdx, onId, offId } = this.booleanVariations(flag);
    const instructions: Instruction[] = [];

    if (change.enabled) {
      if (!env.on) instructions.push({ kind: 'turnFlagOn' });
      if (!sameRollout(env.fallthrough, new Map([[onIdx, weight], [offIdx, ALL - weight]]), this.o)) {
        instructions.push({ kind: 'updateFallthroughVariationOrRollout', ...rolloutFields({ [onId]: weight, [offId]: ALL - weight }, this.o) });
      }
      if (change.users) {
        const want = [...new Set(change.users)];
        const have = userTargets(env, onIdx, this.o.contextKind);
        const add = want.filter((u) => !have.includes(u));
        const remove = have.filter((u) => !want.includes(u));
        if (remove.length) instructions.push({ kind: 'removeTargets', contextKind: this.o.contextKind, variationId: onId, values: remove });
        if (add.length) instructions.push({ kind: 'addTargets', contextKind: this.o.contextKind, variationId: onId, values: add });
      }
      instructions.push(...excludeInstructions(env, change, { idx: offIdx, id: offId }, this.o));
      instructions.push(...ruleInstructions(env, change, { idx: onIdx, id: onId, offId }, this.o));
    } else if (env.on) {
      instructions.push({ kind: 'turnFlagOff' });
    }

    if (instructions.length === 0) return; // already as wanted
    await this.api.patch(change.flag, change.enabled ? `rollout: ${change.flag} → ${weight / 1000}%` : `rollout: ${change.flag} off`, instructions);
  }

  /** A variant experiment on a multivariate string flag (see the header). */
  private async applyExperiment(change: FlagChange, pct: number, flag: LdFlag, env: LdEnvironment): Promise<void> {
    const refuse = (message: string, hint: string): never => {
      throw new BackendError(this.name, `${change.flag}: ${message}`, { hint });
    };
    if (!change.enabled) {
      if (env.on) await this.api.patch(change.flag, `rollout: ${change.flag} off`, [{ kind: 'turnFlagOff' }]);
      return;
    }
    const variants = change.variants ?? [];
    if (!variants.length) {
      refuse('is not a boolean flag (needs variations true and false)', 'rollout drives boolean LaunchDarkly flags, and multivariate string flags in a phase with variants:.');
    }
    if (isBooleanFlag(flag)) {
      refuse('is a boolean flag: LaunchDarkly boolean flags have only the variations true and false, so they cannot be split into variants', 'Use a multivariate string flag for the experiment; its off variation is what users outside the experiment get.');
    }
    if (!flag.variations.every((v) => typeof v.value === 'string')) {
      refuse('an experiment needs a multivariate flag whose variations are strings', 'Use a string flag: rollout adds a variation per variant, valued with its name.');
    }
    if (change.users?.length || change.segments?.length || Object.keys(change.rings ?? {}).length || excludesAnyone(change.exclude)) {
      refuse('an experiment on LaunchDarkly drives the default rule only; users, segments, rings and rolled-back cohorts are not supported with variants', 'Remove users/segments/rings from the experiment phase, or run them in a phase without variants.');
    }
    const offIdx = env.offVariation;
    const off = typeof offIdx === 'number' ? flag.variations[offIdx] : undefined;
    if (!off) refuse(`has no off variation in environment ${this.o.environmentKey}`, 'Set the flag\'s off variation (what users outside the experiment get) in LaunchDarkly.');
    const offName = off!.name || String(off!.value);
    if (variants.some((v) => variationFor(flag, v.name) === offIdx)) {
      refuse(`the off variation "${offName}" is also a variant of the experiment`, 'Make the off variation one that is not among the phase\'s variants (users outside the experiment get it).');
    }

    // 1. one variation per variant name
    const missing = variants.filter((v) => variationFor(flag, v.name) < 0);
    let current = flag;
    if (missing.length) {
      await this.api.patch(change.flag, `rollout: ${change.flag} variations ${missing.map((v) => v.name).join(', ')}`, missing.map((v) => ({ kind: 'addVariation', value: v.name, name: v.name })));
      const again = await this.api.getFlag(change.flag);
      if (!again) refuse('disappeared while its variations were added', 'Check the flag in LaunchDarkly, then retry.');
      current = again!;
      const gone = variants.filter((v) => variationFor(current, v.name) < 0);
      if (gone.length) throw new BackendError(this.name, `${change.flag}: variations ${gone.map((v) => v.name).join(', ')} are still missing after addVariation`);
    }
    const cur = this.api.environment(current);

    // 2. the default rule's percentage rollout
    const want = experimentWeights(pct, variants);
    const idxWeights = new Map<number, number>([[offIdx!, want.off]]);
    for (const v of want.variants) idxWeights.set(variationFor(current, v.name), v.weight);
    const instructions: Instruction[] = [];
    if (!cur.on) instructions.push({ kind: 'turnFlagOn' });
    if (!sameRollout(cur.fallthrough, idxWeights, this.o)) {
      const weights = Object.fromEntries([...idxWeights].map(([i, w]) => [current.variations[i]!._id, w]));
      instructions.push({ kind: 'updateFallthroughVariationOrRollout', ...rolloutFields(weights, this.o) });
    }
    if (!instructions.length) return;
    await this.api.patch(change.flag, `rollout: ${change.flag} → ${toWeight(pct) / 1000}% as ${want.variants.map((v) => `${v.name} ${v.weight / 1000}%`).join(', ')}`, instructions);
  }

  async read(flagKey: string): Promise<FlagState> {
    const flag = await this.api.getFlag(flagKey);
    if (!flag) return { flag: flagKey, exists: false, enabled: false, percentage: 0 };
    const env = this.api.environment(flag);
    if (!isBooleanFlag(flag) && flag.variations.every((v) => typeof v.value === 'string')) return readExperiment(flagKey, flag, env);
    return readBoolean(flagKey, env, this.booleanVariations(flag).onIdx, this.o.contextKind);
  }
}

export const create: FlagBackendFactory = (raw, ctx) => new LaunchDarklyBackend(options.parse(raw), ctx);
