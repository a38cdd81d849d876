/**
 * LaunchDarkly flag backend (REST API v2, semantic patches).
 *
 * apply():
 *   1. GET /api/v2/flags/{projectKey}/{flagKey}?env={environmentKey} for the variation ids (the
 *      `_id` of the variations whose value is `true` / `false`) and the environment's current
 *      state.
 *   2. Build only the instructions that change something (so applying twice = applying once, and
 *      an unchanged flag costs no PATCH and no audit-log entry):
 *        turnFlagOn / turnFlagOff
 *        updateFallthroughVariationOrRollout { rolloutWeights: {trueId: pct*1000, falseId: rest},
 *                                               rolloutBucketBy, rolloutContextKind }
 *        addTargets / removeTargets (user allowlist on the `true` variation, only when
 *                                    `change.users` is given)
 *   3. PATCH /api/v2/flags/{projectKey}/{flagKey} with
 *      `Content-Type: application/json; domain-model=launchdarkly.semanticpatch`.
 *
 * Weights are in thousandths of a percent and sum to 100000, so percentages are kept to three
 * decimals (0.001 %); anything finer is rounded to the nearest 0.001 and a note is logged.
 * Disabling only turns targeting off (LaunchDarkly then serves the off variation to everyone)
 * and leaves the default rule alone, so re-enabling restores the last rollout.
 *
 * The flag must already exist in LaunchDarkly as a boolean flag: rollout does not create flags.
 */
import { z } from 'zod';
import { httpUrl } from '../options.js';
import { BackendError } from '../../errors.js';
import { http, type HttpResponse } from '../../util/http.js';
import { registerSecret, safeUrl } from '../../util/redact.js';
import type { AdapterContext, FlagBackend, FlagBackendFactory, FlagChange, FlagState } from '../types.js';
import { checkChange } from './shared.js';

export const options = z.strictObject({
  baseUrl: httpUrl().default('https://app.launchdarkly.com'),
  /** API access token (sent as `Authorization: <token>`). A secret: never logged. */
  apiToken: z.string().min(1),
  projectKey: z.string().min(1),
  environmentKey: z.string().min(1),
  /** Per-request timeout, ms. */
  timeoutMs: z.number().int().positive().max(300_000).default(10_000),
  /** Total time budget for retrying 429/5xx, ms (0 = no retries). */
  retryBudgetMs: z.number().int().min(0).max(600_000).default(15_000),
  /** Context kind used for the percentage rollout and the user allowlist. */
  contextKind: z.string().min(1).default('user'),
  /** Context attribute the rollout buckets by. */
  bucketBy: z.string().min(1).default('key'),
});
export type LaunchDarklyOptions = z.infer<typeof options>;

export const SEMANTIC_PATCH = 'application/json; domain-model=launchdarkly.semanticpatch';

interface LdVariation {
  _id: string;
  value: unknown;
  name?: string;
}
interface LdTarget {
  values: string[];
  variation: number;
  contextKind?: string;
}
interface LdRollout {
  variations: Array<{ variation: number; weight: number }>;
  bucketBy?: string;
  contextKind?: string;
}
interface LdEnvironment {
  on: boolean;
  targets?: LdTarget[];
  contextTargets?: LdTarget[];
  fallthrough?: { variation?: number; rollout?: LdRollout };
  offVariation?: number;
}
interface LdFlag {
  key: string;
  kind?: string;
  variations: LdVariation[];
  environments?: Record<string, LdEnvironment>;
}

type Instruction = Record<string, unknown> & { kind: string };

/** Percentage → thousandths of a percent (LaunchDarkly's weight unit). */
export function toWeight(pct: number): number {
  return Math.round(pct * 1000);
}

class LaunchDarklyBackend implements FlagBackend {
  readonly name: string;
  private readonly base: string;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly o: LaunchDarklyOptions,
    private readonly ctx: AdapterContext,
  ) {
    registerSecret(o.apiToken);
    this.base = o.baseUrl.replace(/\/+$/, '');
    this.name = `launchdarkly (${safeUrl(this.base)}, project ${o.projectKey}, env ${o.environmentKey})`;
    this.headers = { authorization: o.apiToken };
  }

  private flagUrl(flag: string, withEnv: boolean): string {
    const u = `${this.base}/api/v2/flags/${encodeURIComponent(this.o.projectKey)}/${encodeURIComponent(flag)}`;
    return withEnv ? `${u}?env=${encodeURIComponent(this.o.environmentKey)}` : u;
  }

  private async getFlag(flag: string): Promise<LdFlag | undefined> {
    const res: HttpResponse = await http({
      backend: this.name,
      method: 'GET',
      url: this.flagUrl(flag, true),
      headers: this.headers,
      timeoutMs: this.o.timeoutMs,
      retryBudgetMs: this.o.retryBudgetMs,
      okStatuses: [404],
    });
    if (res.status === 404) return undefined;
    const body = res.json<LdFlag>();
    if (!body || typeof body !== 'object' || !Array.isArray(body.variations)) {
      throw new BackendError(this.name, `GET flag ${flag}: unexpected response (no variations array)`, { status: res.status });
    }
    return body;
  }

  private environment(flag: LdFlag): LdEnvironment {
    const env = flag.environments?.[this.o.environmentKey];
    if (!env) {
      throw new BackendError(this.name, `flag ${flag.key} has no environment "${this.o.environmentKey}"`, {
        hint: 'Check environmentKey: it is the environment key (e.g. "production"), not its name.',
      });
    }
    return env;
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

  /** Share (0..100) served the `true` variation by the default rule. */
  private fallthroughPercentage(env: LdEnvironment, onIdx: number): number {
    const ft = env.fallthrough;
    if (ft?.rollout && Array.isArray(ft.rollout.variations)) {
      const w = ft.rollout.variations.filter((v) => v.variation === onIdx).reduce((s, v) => s + (Number(v.weight) || 0), 0);
      return w / 1000;
    }
    if (typeof ft?.variation === 'number') return ft.variation === onIdx ? 100 : 0;
    return 0;
  }

  private userTargets(env: LdEnvironment, idx: number): string[] {
    const kind = this.o.contextKind;
    const all = [...(env.targets ?? []), ...(env.contextTargets ?? [])];
    const out = new Set<string>();
    for (const t of all) {
      if (t.variation === idx && (t.contextKind ?? 'user') === kind) for (const v of t.values ?? []) out.add(v);
    }
    return [...out];
  }

  async apply(change: FlagChange): Promise<void> {
    const pct = checkChange(change, this.name);
    const weight = toWeight(pct);
    if (change.enabled && weight !== pct * 1000) {
      this.ctx.log(`${this.name}: ${change.flag}: ${pct}% rounded to ${weight / 1000}% (LaunchDarkly weights are in 0.001 % steps)`);
    }
    if (change.segments?.length || change.rings) {
      this.ctx.log(`${this.name}: ${change.flag}: segments/rings are not supported by this adapter and were ignored`);
    }

    const flag = await this.getFlag(change.flag);
    if (!flag) {
      throw new BackendError(this.name, `flag ${change.flag} does not exist in project ${this.o.projectKey}`, {
        status: 404,
        hint: 'Create the flag in LaunchDarkly first (a boolean flag); rollout does not create flags.',
      });
    }
    const env = this.environment(flag);
    const { onIdx, offIdx, onId, offId } = this.booleanVariations(flag);
    const instructions: Instruction[] = [];

    if (change.enabled) {
      if (!env.on) instructions.push({ kind: 'turnFlagOn' });
      const ro = env.fallthrough?.rollout;
      const currentOn = ro ? ro.variations.filter((v) => v.variation === onIdx).reduce((s, v) => s + v.weight, 0) : undefined;
      const currentOff = ro ? ro.variations.filter((v) => v.variation === offIdx).reduce((s, v) => s + v.weight, 0) : undefined;
      const sameRollout =
        ro !== undefined &&
        currentOn === weight &&
        currentOff === 100_000 - weight &&
        (ro.bucketBy ?? 'key') === this.o.bucketBy &&
        (ro.contextKind ?? 'user') === this.o.contextKind;
      if (!sameRollout) {
        instructions.push({
          kind: 'updateFallthroughVariationOrRollout',
          rolloutWeights: { [onId]: weight, [offId]: 100_000 - weight },
          rolloutBucketBy: this.o.bucketBy,
          rolloutContextKind: this.o.contextKind,
        });
      }
      if (change.users) {
        const want = [...new Set(change.users)];
        const have = this.userTargets(env, onIdx);
        const add = want.filter((u) => !have.includes(u));
        const remove = have.filter((u) => !want.includes(u));
        if (remove.length) instructions.push({ kind: 'removeTargets', contextKind: this.o.contextKind, variationId: onId, values: remove });
        if (add.length) instructions.push({ kind: 'addTargets', contextKind: this.o.contextKind, variationId: onId, values: add });
      }
    } else if (env.on) {
      instructions.push({ kind: 'turnFlagOff' });
    }

    if (instructions.length === 0) return; // already as wanted

    await http({
      backend: this.name,
      method: 'PATCH',
      url: this.flagUrl(change.flag, false),
      headers: { ...this.headers, 'content-type': SEMANTIC_PATCH },
      body: {
        environmentKey: this.o.environmentKey,
        comment: change.enabled ? `rollout: ${change.flag} → ${weight / 1000}%` : `rollout: ${change.flag} off`,
        instructions,
      },
      timeoutMs: this.o.timeoutMs,
      // Every instruction states an end state (on/off, these weights, these targets), so
      // repeating the PATCH after a 429/5xx is safe.
      idempotent: true,
      retryBudgetMs: this.o.retryBudgetMs,
    });
  }

  async read(flagKey: string): Promise<FlagState> {
    const flag = await this.getFlag(flagKey);
    if (!flag) return { flag: flagKey, exists: false, enabled: false, percentage: 0 };
    const env = this.environment(flag);
    const { onIdx } = this.booleanVariations(flag);
    const users = this.userTargets(env, onIdx);
    return {
      flag: flagKey,
      exists: true,
      enabled: env.on === true,
      percentage: this.fallthroughPercentage(env, onIdx),
      ...(users.length ? { users } : {}),
    };
  }
}


export const create: FlagBackendFactory = (raw, ctx) => new LaunchDarklyBackend(options.parse(raw), ctx);
