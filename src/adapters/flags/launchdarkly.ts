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
 *        addRule / removeRule / updateRuleVariationOrRollout for the rules rollout owns, found
 *          by their description:
 *          "managed by rollout: segments" — clause `segmentMatch` on the segment keys, serving
 *            `true` (only when `change.segments` is given; `[]` removes it);
 *          "managed by rollout: ring <name>" — clause `<ringAttribute> in [<name>]` on the
 *            context kind, serving a percentage rollout (one per ring of a ring step; a step
 *            without rings removes them). The application sets the attribute.
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
  /** Context attribute holding the caller's ring, for ring steps. */
  ringAttribute: z.string().min(1).default('ring'),
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
interface LdClause {
  attribute: string;
  op: string;
  values: unknown[];
  negate?: boolean;
  contextKind?: string;
}
interface LdRule {
  _id: string;
  description?: string;
  clauses: LdClause[];
  variation?: number;
  rollout?: LdRollout;
}
interface LdEnvironment {
  on: boolean;
  rules?: LdRule[];
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

export const SEGMENTS_RULE = 'managed by rollout: segments';
export const RING_RULE_PREFIX = 'managed by rollout: ring ';

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

  /** Share (0..100) served the `true` variation by a rule or the default rule (`fallthrough`). */
  private share(ft: { variation?: number; rollout?: LdRollout } | undefined, onIdx: number): number {
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
      instructions.push(...this.ruleInstructions(env, change, onIdx, onId, offId));
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

  /** The rollout rule: `pct` of callers get `true`, bucketed like the default rule. */
  private rolloutFields(pct: number, onId: string, offId: string): Record<string, unknown> {
    const w = toWeight(pct);
    return { rolloutWeights: { [onId]: w, [offId]: 100_000 - w }, rolloutBucketBy: this.o.bucketBy, rolloutContextKind: this.o.contextKind };
  }

  private sameRollout(r: LdRule, pct: number, onIdx: number): boolean {
    const ro = r.rollout;
    if (!ro) return false;
    return toWeight(this.share(r, onIdx)) === toWeight(pct) && (ro.bucketBy ?? 'key') === this.o.bucketBy && (ro.contextKind ?? 'user') === this.o.contextKind;
  }

  /** Instructions that make the rules rollout owns (segments, rings) match the change. */
  private ruleInstructions(env: LdEnvironment, change: FlagChange, onIdx: number, onId: string, offId: string): Instruction[] {
    const out: Instruction[] = [];
    const rules = env.rules ?? [];
    if (change.segments) {
      const want = [...new Set(change.segments)];
      const have = rules.find((r) => r.description === SEGMENTS_RULE);
      const haveKeys = have?.clauses.length === 1 && have.clauses[0]!.op === 'segmentMatch' ? have.clauses[0]!.values : undefined;
      const same = have && haveKeys && have.variation === onIdx && haveKeys.length === want.length && want.every((k) => haveKeys.includes(k));
      if (!same) {
        if (have) out.push({ kind: 'removeRule', ruleId: have._id });
        if (want.length)
          out.push({ kind: 'addRule', description: SEGMENTS_RULE, clauses: [{ attribute: 'segmentMatch', op: 'segmentMatch', values: want, negate: false }], variationId: onId });
      }
    }
    const rings = change.rings ?? {};
    const ringRules = new Map(rules.filter((r) => r.description?.startsWith(RING_RULE_PREFIX)).map((r) => [r.description!.slice(RING_RULE_PREFIX.length), r]));
    for (const [ring, pct] of Object.entries(rings)) {
      const have = ringRules.get(ring);
      const c = have?.clauses[0];
      const clauseOk = have?.clauses.length === 1 && c?.attribute === this.o.ringAttribute && c.op === 'in' && !c.negate && c.values.length === 1 && c.values[0] === ring && (c.contextKind ?? 'user') === this.o.contextKind;
      if (have && clauseOk) {
        if (!this.sameRollout(have, pct, onIdx)) out.push({ ...this.rolloutFields(pct, onId, offId), kind: 'updateRuleVariationOrRollout', ruleId: have._id });
        continue;
      }
      if (have) out.push({ kind: 'removeRule', ruleId: have._id });
      out.push({
        ...this.rolloutFields(pct, onId, offId),
        kind: 'addRule',
        description: `${RING_RULE_PREFIX}${ring}`,
        clauses: [{ contextKind: this.o.contextKind, attribute: this.o.ringAttribute, op: 'in', values: [ring], negate: false }],
      });
    }
    for (const [ring, r] of ringRules) if (!(ring in rings)) out.push({ kind: 'removeRule', ruleId: r._id });
    return out;
  }

  async read(flagKey: string): Promise<FlagState> {
    const flag = await this.getFlag(flagKey);
    if (!flag) return { flag: flagKey, exists: false, enabled: false, percentage: 0 };
    const env = this.environment(flag);
    const { onIdx } = this.booleanVariations(flag);
    const users = this.userTargets(env, onIdx);
    const rules = env.rules ?? [];
    const seg = rules.find((r) => r.description === SEGMENTS_RULE);
    const segments = (seg?.clauses[0]?.values ?? []).filter((v): v is string => typeof v === 'string');
    const rings: Record<string, number> = {};
    for (const r of rules) {
      if (!r.description?.startsWith(RING_RULE_PREFIX)) continue;
      rings[r.description.slice(RING_RULE_PREFIX.length)] = this.share(r, onIdx);
    }
    return {
      flag: flagKey,
      exists: true,
      enabled: env.on === true,
      percentage: this.share(env.fallthrough, onIdx),
      ...(users.length ? { users } : {}),
      ...(segments.length ? { segments } : {}),
      ...(Object.keys(rings).length ? { rings } : {}),
    };
  }
}


export const create: FlagBackendFactory = (raw, ctx) => new LaunchDarklyBackend(options.parse(raw), ctx);
