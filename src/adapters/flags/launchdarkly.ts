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
 *
 * Variant experiments (a phase's `variants: {control: 50, treatment: 50}`) need a multivariate
 * **string** flag (LaunchDarkly's boolean flags have exactly the variations true and false).
 * Its environment's off variation is what users outside the experiment get (and everybody
 * while targeting is off). apply():
 *   1. one variation per variant name: a variation is matched by its name (or, unnamed, by
 *      its value); missing ones are added with `addVariation {value: name, name: name}` (a
 *      PATCH of its own, then the flag is read again for the new variations' ids);
 *   2. `updateFallthroughVariationOrRollout` with `rolloutWeights`: the rollout's share
 *      (thousandths of a percent) split over the variants by their shares (largest remainder,
 *      so 33.33/33.33/33.34 of 100 % is 33330/33330/33340), the rest on the off variation;
 *      plus `turnFlagOn`. Only what changes is sent.
 * Experiments drive the default rule only: users, segments and rings in an experiment phase
 * are refused on LaunchDarkly. read() reports the percentage (weight not on the off variation)
 * and the variants as shares of 1000.
 */
import { z } from 'zod';
import { httpUrl } from '../options.js';
import { BackendError } from '../../errors.js';
import { http, type HttpResponse } from '../../util/http.js';
import { registerSecret, safeUrl } from '../../util/redact.js';
import type { AdapterContext, FlagBackend, FlagBackendFactory, FlagChange, FlagState } from '../types.js';
import { toWeights } from '../../util/variants.js';
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

/**
 * An experiment's weights (thousandths of a percent, 100000 in all): `pct` of callers split over
 * the variants by their shares (largest remainder, in the variants' order), the rest "off".
 */
export function experimentWeights(pct: number, variants: Array<{ name: string; percent: number }>): { variants: Array<{ name: string; weight: number }>; off: number } {
  const on = toWeight(pct);
  const raw = variants.map((v) => (on * v.percent) / 100);
  const out = raw.map((r, i) => ({ name: variants[i]!.name, weight: Math.floor(r + 1e-9) }));
  let left = on - out.reduce((s, v) => s + v.weight, 0);
  const order = raw.map((r, i) => ({ i, frac: r - Math.floor(r + 1e-9) })).sort((a, b) => b.frac - a.frac || b.i - a.i);
  for (const { i } of order) {
    if (left <= 0) break;
    out[i]!.weight++;
    left--;
  }
  return { variants: out, off: 100_000 - on };
}

class LaunchDarklyBackend implements FlagBackend {
  readonly name: string;
  /** Experiments: multivariate string flags, split by a percentage rollout over their variations. */
  readonly variants = true;
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
    if (change.variants?.length || !isBooleanFlag(flag)) return this.applyExperiment(change, pct, flag, env);
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
    await this.patch(change.flag, change.enabled ? `rollout: ${change.flag} → ${weight / 1000}%` : `rollout: ${change.flag} off`, instructions);
  }

  private async patch(flag: string, comment: string, instructions: Instruction[]): Promise<void> {
    await http({
      backend: this.name,
      method: 'PATCH',
      url: this.flagUrl(flag, false),
      headers: { ...this.headers, 'content-type': SEMANTIC_PATCH },
      body: { environmentKey: this.o.environmentKey, comment, instructions },
      timeoutMs: this.o.timeoutMs,
      // Every instruction states an end state (on/off, these weights, these targets), so
      // repeating the PATCH after a 429/5xx is safe. (addVariation is only sent for variations
      // the flag lacks; a repeat after a lost answer would be refused, not duplicated, by
      // the next apply's check — it looks the variations up by name first.)
      idempotent: true,
      retryBudgetMs: this.o.retryBudgetMs,
    });
  }

  /** The index of the variation serving variant `name`: by name, or by value when unnamed. */
  private static variationFor(flag: LdFlag, name: string): number {
    const byName = flag.variations.findIndex((v) => v.name === name);
    return byName >= 0 ? byName : flag.variations.findIndex((v) => !v.name && v.value === name);
  }

  /** A variant experiment on a multivariate string flag (see the header). */
  private async applyExperiment(change: FlagChange, pct: number, flag: LdFlag, env: LdEnvironment): Promise<void> {
    const refuse = (message: string, hint: string): never => {
      throw new BackendError(this.name, `${change.flag}: ${message}`, { hint });
    };
    if (!change.enabled) {
      if (env.on) await this.patch(change.flag, `rollout: ${change.flag} off`, [{ kind: 'turnFlagOff' }]);
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
    if (change.users?.length || change.segments?.length || Object.keys(change.rings ?? {}).length) {
      refuse('an experiment on LaunchDarkly drives the default rule only; users, segments and rings are not supported with variants', 'Remove users/segments/rings from the experiment phase, or run them in a phase without variants.');
    }
    const offIdx = env.offVariation;
    const off = typeof offIdx === 'number' ? flag.variations[offIdx] : undefined;
    if (!off) refuse(`has no off variation in environment ${this.o.environmentKey}`, 'Set the flag\'s off variation (what users outside the experiment get) in LaunchDarkly.');
    const offName = off!.name || String(off!.value);
    if (variants.some((v) => LaunchDarklyBackend.variationFor(flag, v.name) === offIdx)) {
      refuse(`the off variation "${offName}" is also a variant of the experiment`, 'Make the off variation one that is not among the phase\'s variants (users outside the experiment get it).');
    }

    // 1. one variation per variant name
    const missing = variants.filter((v) => LaunchDarklyBackend.variationFor(flag, v.name) < 0);
    let current = flag;
    if (missing.length) {
      await this.patch(change.flag, `rollout: ${change.flag} variations ${missing.map((v) => v.name).join(', ')}`, missing.map((v) => ({ kind: 'addVariation', value: v.name, name: v.name })));
      const again = await this.getFlag(change.flag);
      if (!again) refuse('disappeared while its variations were added', 'Check the flag in LaunchDarkly, then retry.');
      current = again!;
      const gone = variants.filter((v) => LaunchDarklyBackend.variationFor(current, v.name) < 0);
      if (gone.length) throw new BackendError(this.name, `${change.flag}: variations ${gone.map((v) => v.name).join(', ')} are still missing after addVariation`);
    }
    const cur = this.environment(current);

    // 2. the default rule's percentage rollout
    const want = experimentWeights(pct, variants);
    const idxWeights = new Map<number, number>([[offIdx!, want.off]]);
    for (const v of want.variants) idxWeights.set(LaunchDarklyBackend.variationFor(current, v.name), v.weight);
    const ro = cur.fallthrough?.rollout;
    const have = new Map<number, number>();
    for (const v of ro?.variations ?? []) have.set(v.variation, (have.get(v.variation) ?? 0) + v.weight);
    const sameWeights = ro !== undefined && [...new Set([...have.keys(), ...idxWeights.keys()])].every((i) => (have.get(i) ?? 0) === (idxWeights.get(i) ?? 0));
    const same = sameWeights && (ro.bucketBy ?? 'key') === this.o.bucketBy && (ro.contextKind ?? 'user') === this.o.contextKind;
    const instructions: Instruction[] = [];
    if (!cur.on) instructions.push({ kind: 'turnFlagOn' });
    if (!same) {
      instructions.push({
        kind: 'updateFallthroughVariationOrRollout',
        rolloutWeights: Object.fromEntries([...idxWeights].map(([i, w]) => [current.variations[i]!._id, w])),
        rolloutBucketBy: this.o.bucketBy,
        rolloutContextKind: this.o.contextKind,
      });
    }
    if (!instructions.length) return;
    await this.patch(change.flag, `rollout: ${change.flag} → ${toWeight(pct) / 1000}% as ${want.variants.map((v) => `${v.name} ${v.weight / 1000}%`).join(', ')}`, instructions);
  }

  /** An experiment flag read back: the share not on the off variation, and the split among the rest. */
  private readExperiment(flagKey: string, flag: LdFlag, env: LdEnvironment): FlagState {
    const offIdx = env.offVariation;
    const ft = env.fallthrough;
    const weights = new Map<number, number>();
    if (ft?.rollout && Array.isArray(ft.rollout.variations)) for (const v of ft.rollout.variations) weights.set(v.variation, (weights.get(v.variation) ?? 0) + (Number(v.weight) || 0));
    else if (typeof ft?.variation === 'number') weights.set(ft.variation, 100_000);
    const onEntries = [...weights].filter(([i, w]) => i !== offIdx && w > 0);
    const on = onEntries.reduce((s, [, w]) => s + w, 0);
    const nameOf = (i: number) => {
      const v = flag.variations[i];
      return v?.name || String(v?.value ?? i);
    };
    return {
      flag: flagKey,
      exists: true,
      enabled: env.on === true,
      percentage: on / 1000,
      ...(on > 0 ? { variants: toWeights(onEntries.map(([i, w]) => ({ name: nameOf(i), percent: (w * 100) / on }))) } : {}),
    };
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
    if (!isBooleanFlag(flag) && flag.variations.every((v) => typeof v.value === 'string')) return this.readExperiment(flagKey, flag, env);
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


/** A boolean flag: it has the variations true and false. */
function isBooleanFlag(flag: LdFlag): boolean {
  return flag.variations.some((v) => v.value === true) && flag.variations.some((v) => v.value === false);
}

export const create: FlagBackendFactory = (raw, ctx) => new LaunchDarklyBackend(options.parse(raw), ctx);
