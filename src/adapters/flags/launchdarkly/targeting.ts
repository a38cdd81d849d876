/**
 * LaunchDarkly targeting as rollout drives it, pure (no I/O): weights, the default rule and the
 * rules rollout owns, as semantic-patch instructions, and how a flag's environment reads back.
 *
 * Weights are thousandths of a percent summing to 100000. Rules rollout owns are found by their
 * description: SEGMENTS_RULE, and RING_RULE_PREFIX + the ring's name.
 */
import { excludesAnyone, type FlagChange, type FlagState } from '../../types.js';
import { distributeRemainder, toWeights } from '../../../util/variants.js';
import type { Instruction, LdEnvironment, LdFlag, LdRollout, LdServe } from './api.js';

export const SEGMENTS_RULE = 'managed by rollout: segments';
/** A partial rollback: callers in these segments / rings get `false`, before any other rule. */
export const EXCLUDED_SEGMENTS_RULE = 'managed by rollout: rolled back segments';
export const EXCLUDED_RINGS_RULE = 'managed by rollout: rolled back rings';
export const RING_RULE_PREFIX = 'managed by rollout: ring ';
export const ALL = 100_000;

/** How rollouts bucket callers, and where a caller's ring is (the adapter's options). */
export interface Bucketing {
  contextKind: string;
  bucketBy: string;
  ringAttribute: string;
}

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
  const weights = distributeRemainder(variants.map((v) => (on * v.percent) / 100), on);
  return { variants: variants.map((v, i) => ({ name: v.name, weight: weights[i]! })), off: ALL - on };
}

/** What a rule (or the default rule) serves: weight by variation index (a single variation: all of it). */
export function weightsOf(serve: LdServe | undefined): Map<number, number> {
  const out = new Map<number, number>();
  if (serve?.rollout && Array.isArray(serve.rollout.variations)) {
    for (const v of serve.rollout.variations) out.set(v.variation, (out.get(v.variation) ?? 0) + (Number(v.weight) || 0));
  } else if (typeof serve?.variation === 'number') out.set(serve.variation, ALL);
  return out;
}

/** Share (0..100) served variation `idx` by a rule or the default rule. */
export function share(serve: LdServe | undefined, idx: number): number {
  return (weightsOf(serve).get(idx) ?? 0) / 1000;
}

/** Does a rollout bucket callers as the options say? */
export function sameBucketing(ro: LdRollout, b: Bucketing): boolean {
  return (ro.bucketBy ?? 'key') === b.bucketBy && (ro.contextKind ?? 'user') === b.contextKind;
}

/** Does `serve` already split exactly `want` (index → weight) by a rollout bucketed as `b`? */
export function sameRollout(serve: LdServe | undefined, want: Map<number, number>, b: Bucketing): boolean {
  const ro = serve?.rollout;
  if (!ro) return false;
  const have = weightsOf(serve);
  return [...new Set([...have.keys(), ...want.keys()])].every((i) => (have.get(i) ?? 0) === (want.get(i) ?? 0)) && sameBucketing(ro, b);
}

/** The fields of a percentage rollout: weight by variation id, bucketed as `b`. */
export function rolloutFields(weights: Record<string, number>, b: Bucketing): Record<string, unknown> {
  return { rolloutWeights: weights, rolloutBucketBy: b.bucketBy, rolloutContextKind: b.contextKind };
}

/** A boolean flag: it has the variations true and false. */
export function isBooleanFlag(flag: LdFlag): boolean {
  return flag.variations.some((v) => v.value === true) && flag.variations.some((v) => v.value === false);
}

/** The index of the variation serving variant `name`: by name, or by value when unnamed. */
export function variationFor(flag: LdFlag, name: string): number {
  const byName = flag.variations.findIndex((v) => v.name === name);
  return byName >= 0 ? byName : flag.variations.findIndex((v) => !v.name && v.value === name);
}

/** The individual targets of `contextKind` served variation `idx`. */
export function userTargets(env: LdEnvironment, idx: number, contextKind: string): string[] {
  const out = new Set<string>();
  for (const t of [...(env.targets ?? []), ...(env.contextTargets ?? [])]) {
    if (t.variation === idx && (t.contextKind ?? 'user') === contextKind) for (const v of t.values ?? []) out.add(v);
  }
  return [...out];
}

/**
 * A partial rollback: one rule per kind of cohort (segments: clause `segmentMatch`; rings:
 * `<ringAttribute> in [...]`) serving `false`, placed before every other rule (`addRule` with
 * `beforeRuleId`: LaunchDarkly serves the first rule that matches). Individual targets come
 * before rules in LaunchDarkly, so an allowlisted user keeps the flag. Only when the change
 * carries `exclude`; an empty list removes the rule.
 */
export function excludeInstructions(env: LdEnvironment, change: FlagChange, off: { idx: number; id: string }, b: Bucketing): Instruction[] {
  if (!change.exclude) return [];
  const rules = env.rules ?? [];
  const ours = new Set([EXCLUDED_SEGMENTS_RULE, EXCLUDED_RINGS_RULE]);
  const firstOther = rules.findIndex((r) => !ours.has(r.description ?? ''));
  const out: Instruction[] = [];
  const want: Array<[string, string[], Record<string, unknown>]> = [
    [EXCLUDED_SEGMENTS_RULE, [...new Set(change.exclude.segments ?? [])], { attribute: 'segmentMatch', op: 'segmentMatch' }],
    [EXCLUDED_RINGS_RULE, [...new Set(change.exclude.rings ?? [])], { contextKind: b.contextKind, attribute: b.ringAttribute, op: 'in' }],
  ];
  for (const [description, values, clause] of want) {
    const i = rules.findIndex((r) => r.description === description);
    const have = rules[i];
    const c = have?.clauses.length === 1 ? have.clauses[0] : undefined;
    const same =
      c !== undefined &&
      c.attribute === clause.attribute &&
      c.op === clause.op &&
      !c.negate &&
      c.values.length === values.length &&
      values.every((v) => c.values.includes(v)) &&
      have!.variation === off.idx &&
      (firstOther < 0 || i < firstOther);
    if (same) continue;
    if (have) out.push({ kind: 'removeRule', ruleId: have._id });
    if (values.length) {
      out.push({ kind: 'addRule', description, clauses: [{ ...clause, values, negate: false }], variationId: off.id, ...(firstOther >= 0 ? { beforeRuleId: rules[firstOther]!._id } : {}) });
    }
  }
  return out;
}

/** Instructions that make the rules rollout owns (segments, rings) match the change. */
export function ruleInstructions(env: LdEnvironment, change: FlagChange, on: { idx: number; id: string; offId: string }, b: Bucketing): Instruction[] {
  const out: Instruction[] = [];
  const rules = env.rules ?? [];
  const ringRollout = (pct: number) => rolloutFields({ [on.id]: toWeight(pct), [on.offId]: ALL - toWeight(pct) }, b);
  if (change.segments) {
    const want = [...new Set(change.segments)];
    const have = rules.find((r) => r.description === SEGMENTS_RULE);
    const haveKeys = have?.clauses.length === 1 && have.clauses[0]!.op === 'segmentMatch' ? have.clauses[0]!.values : undefined;
    const same = have && haveKeys && have.variation === on.idx && haveKeys.length === want.length && want.every((k) => haveKeys.includes(k));
    if (!same) {
      if (have) out.push({ kind: 'removeRule', ruleId: have._id });
      if (want.length) out.push({ kind: 'addRule', description: SEGMENTS_RULE, clauses: [{ attribute: 'segmentMatch', op: 'segmentMatch', values: want, negate: false }], variationId: on.id });
    }
  }
  const rings = change.rings ?? {};
  const ringRules = new Map(rules.filter((r) => r.description?.startsWith(RING_RULE_PREFIX)).map((r) => [r.description!.slice(RING_RULE_PREFIX.length), r]));
  for (const [ring, pct] of Object.entries(rings)) {
    const have = ringRules.get(ring);
    const c = have?.clauses[0];
    const clauseOk = have?.clauses.length === 1 && c?.attribute === b.ringAttribute && c.op === 'in' && !c.negate && c.values.length === 1 && c.values[0] === ring && (c.contextKind ?? 'user') === b.contextKind;
    if (have && clauseOk) {
      const same = have.rollout !== undefined && toWeight(share(have, on.idx)) === toWeight(pct) && sameBucketing(have.rollout, b);
      if (!same) out.push({ ...ringRollout(pct), kind: 'updateRuleVariationOrRollout', ruleId: have._id });
      continue;
    }
    if (have) out.push({ kind: 'removeRule', ruleId: have._id });
    out.push({
      ...ringRollout(pct),
      kind: 'addRule',
      description: `${RING_RULE_PREFIX}${ring}`,
      clauses: [{ contextKind: b.contextKind, attribute: b.ringAttribute, op: 'in', values: [ring], negate: false }],
    });
  }
  for (const [ring, r] of ringRules) if (!(ring in rings)) out.push({ kind: 'removeRule', ruleId: r._id });
  return out;
}

/** A boolean flag read back: the default rule's share of `true`, the allowlist, the rules rollout owns. */
export function readBoolean(flagKey: string, env: LdEnvironment, onIdx: number, contextKind: string): FlagState {
  const users = userTargets(env, onIdx, contextKind);
  const rules = env.rules ?? [];
  const seg = rules.find((r) => r.description === SEGMENTS_RULE);
  const segments = (seg?.clauses[0]?.values ?? []).filter((v): v is string => typeof v === 'string');
  const listOf = (d: string) => (rules.find((r) => r.description === d)?.clauses[0]?.values ?? []).filter((v): v is string => typeof v === 'string');
  const exclude = { segments: listOf(EXCLUDED_SEGMENTS_RULE), rings: listOf(EXCLUDED_RINGS_RULE) };
  const rings: Record<string, number> = {};
  for (const r of rules) {
    if (!r.description?.startsWith(RING_RULE_PREFIX)) continue;
    rings[r.description.slice(RING_RULE_PREFIX.length)] = share(r, onIdx);
  }
  return {
    flag: flagKey,
    exists: true,
    enabled: env.on === true,
    percentage: share(env.fallthrough, onIdx),
    ...(users.length ? { users } : {}),
    ...(segments.length ? { segments } : {}),
    ...(Object.keys(rings).length ? { rings } : {}),
    ...(excludesAnyone(exclude) ? { exclude: { ...(exclude.segments.length ? { segments: exclude.segments } : {}), ...(exclude.rings.length ? { rings: exclude.rings } : {}) } } : {}),
  };
}

/** An experiment flag read back: the share not on the off variation, and the split among the rest. */
export function readExperiment(flagKey: string, flag: LdFlag, env: LdEnvironment): FlagState {
  const offIdx = env.offVariation;
  const onEntries = [...weightsOf(env.fallthrough)].filter(([i, w]) => i !== offIdx && w > 0);
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
