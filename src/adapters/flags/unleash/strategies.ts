/**
 * Unleash strategies: the ones rollout owns in a flag's environment, how a change becomes
 * them, and how they read back. Pure: no I/O (unleash/admin-api.ts talks to Unleash).
 *
 * rollout owns `flexibleRollout` strategies it recognises by title: the gradual rollout
 * (ROLLOUT_TITLE, or the one plain untitled strategy it may adopt), the user allowlist, one per
 * segment and one per ring. Everything else in the environment is left alone.
 */
import type { Exclusion, FlagState } from '../../types.js';
import { toWeights } from '../../../util/variants.js';

/** Titles that mark the strategies rollout owns. */
export const ROLLOUT_TITLE = 'managed by rollout';
export const ALLOWLIST_TITLE = 'managed by rollout: allowlist';
export const SEGMENT_TITLE_PREFIX = 'managed by rollout: segment ';
export const RING_TITLE_PREFIX = 'managed by rollout: ring ';

export interface UnleashConstraint {
  contextName: string;
  operator: string;
  values?: string[];
  value?: string;
  inverted?: boolean;
  caseInsensitive?: boolean;
}
export interface UnleashStrategy {
  id?: string;
  name: string;
  title?: string | null;
  disabled?: boolean | null;
  constraints?: UnleashConstraint[];
  segments?: number[];
  parameters?: Record<string, string>;
  variants?: unknown[];
  sortOrder?: number;
}
export interface UnleashEnvironment {
  name: string;
  enabled: boolean;
  strategies?: UnleashStrategy[];
}
export interface UnleashFeature {
  name: string;
  project?: string;
  archived?: boolean;
  environments: UnleashEnvironment[];
}
export interface UnleashSegment {
  id: number;
  name: string;
  constraints?: UnleashConstraint[];
}
export interface UnleashVariant {
  name: string;
  weight: number;
  weightType: 'fix' | 'variable';
  stickiness: string;
}

/**
 * An experiment's split as strategy variants. Unleash recomputes "variable" weights (an equal
 * share each) and sorts variants by name: every variant but the last is sent with a fixed
 * weight and the last as variable, so 33.33/33.33/33.34 stays 333/333/334 and the order is
 * the one src/util/variants.ts evaluates with.
 */
export function unleashVariants(shares: Array<{ name: string; percent: number }>, stickiness: string): UnleashVariant[] {
  const w = toWeights(shares);
  return w.map((v, i) => ({ name: v.name, weight: v.weight, weightType: i === w.length - 1 ? 'variable' : 'fix', stickiness }));
}

function sameVariants(have: unknown[] | undefined, want: UnleashVariant[]): boolean {
  if (!Array.isArray(have) || have.length !== want.length) return false;
  return want.every((w, i) => {
    const h = have[i] as Partial<UnleashVariant> | undefined;
    return h?.name === w.name && h.weight === w.weight && (h.stickiness ?? 'default') === w.stickiness;
  });
}

const isPlain = (s: UnleashStrategy) => !s.constraints?.length && !s.segments?.length;
const isActive = (s: UnleashStrategy) => s.disabled !== true;
const rolloutOf = (s: UnleashStrategy) => Number(s.parameters?.rollout ?? 0) || 0;

/** The gradual-rollout strategy rollout owns (or may adopt) among an environment's strategies. */
export function findManaged(strategies: UnleashStrategy[]): UnleashStrategy | undefined {
  const titled = strategies.find((s) => s.name === 'flexibleRollout' && s.title === ROLLOUT_TITLE);
  if (titled) return titled;
  const adoptable = strategies.filter((s) => s.name === 'flexibleRollout' && !s.title && isPlain(s));
  return adoptable.length === 1 ? adoptable[0] : undefined;
}

export function findAllowlist(strategies: UnleashStrategy[]): UnleashStrategy | undefined {
  return strategies.find((s) => s.name === 'flexibleRollout' && s.title === ALLOWLIST_TITLE);
}

/** The strategies titled `<prefix><name>`, by name (segment or ring name → its strategy). */
export function titled(strategies: UnleashStrategy[], prefix: string): Map<string, UnleashStrategy> {
  const out = new Map<string, UnleashStrategy>();
  for (const s of strategies) {
    if (s.name === 'flexibleRollout' && s.title?.startsWith(prefix)) out.set(s.title.slice(prefix.length), s);
  }
  return out;
}

const isOwned = (s: UnleashStrategy) => s.title === ALLOWLIST_TITLE || [SEGMENT_TITLE_PREFIX, RING_TITLE_PREFIX].some((p) => s.title?.startsWith(p) ?? false);

/** Active, unconstrained strategies rollout does not own: they enable users beyond the rollout. */
export function unmanagedOpen(strategies: UnleashStrategy[], managed: UnleashStrategy | undefined): UnleashStrategy[] {
  return strategies.filter((s) => s !== managed && !isOwned(s) && isActive(s) && isPlain(s));
}

/**
 * Does `have` (as Unleash returns it) already do what `want` (as rollout writes it) says? The one
 * comparison for every strategy rollout owns: active, same title, rollout, stickiness and groupId,
 * same segments, the same constraints (values as sets: Unleash may reorder them), and — when
 * `want` carries variants — the same variants.
 */
export function sameStrategy(have: UnleashStrategy, want: UnleashStrategy): boolean {
  const key = (c: UnleashConstraint) => JSON.stringify([c.contextName, c.operator, [...new Set(c.values ?? [])].sort(), Boolean(c.inverted)]);
  const p = have.parameters ?? {};
  const q = want.parameters ?? {};
  return (
    have.disabled !== true &&
    (have.title ?? null) === (want.title ?? null) &&
    Number(p.rollout) === Number(q.rollout) &&
    p.stickiness === q.stickiness &&
    p.groupId === q.groupId &&
    JSON.stringify(have.segments ?? []) === JSON.stringify(want.segments ?? []) &&
    JSON.stringify((have.constraints ?? []).map(key)) === JSON.stringify((want.constraints ?? []).map(key)) &&
    (want.variants === undefined || sameVariants(have.variants, want.variants as UnleashVariant[]))
  );
}

/** A `flexibleRollout` rollout writes: active, `pct` of users by `stickiness`, grouped by the flag. */
function owned(flag: string, title: string, pct: number, stickiness: string, more: Pick<UnleashStrategy, 'constraints' | 'segments'> = {}): UnleashStrategy {
  return {
    name: 'flexibleRollout',
    title,
    disabled: false,
    constraints: more.constraints ?? [],
    segments: more.segments ?? [],
    parameters: { rollout: String(pct), stickiness, groupId: flag },
  };
}

/**
 * A partial rollback for some users, as constraints AND-ed onto every strategy rollout owns
 * (Unleash has no "deny" strategy: a user gets the flag when any strategy matches). Rings →
 * `<field> NOT_IN [rings]`; a segment → its one constraint negated (IN ↔ NOT_IN, other
 * operators `inverted`). A segment of several constraints (whose negation is an OR) or none
 * cannot be written this way: its name comes back in `refused`.
 */
export function exclusionConstraints(x: Exclusion, segments: Map<string, UnleashSegment>, ringField: string): { constraints: UnleashConstraint[]; refused?: { name: string; count: number } } {
  const out: UnleashConstraint[] = [];
  for (const name of new Set(x.segments ?? [])) {
    const cs = segments.get(name)?.constraints ?? [];
    if (cs.length !== 1) return { constraints: [], refused: { name, count: cs.length } };
    const c = cs[0]!;
    const flip = c.operator === 'IN' ? 'NOT_IN' : c.operator === 'NOT_IN' ? 'IN' : undefined;
    out.push({
      contextName: c.contextName,
      operator: flip ?? c.operator,
      ...(c.values ? { values: c.values } : {}),
      ...(c.value !== undefined ? { value: c.value } : {}),
      inverted: flip ? Boolean(c.inverted) : !c.inverted,
      caseInsensitive: Boolean(c.caseInsensitive),
    });
  }
  const rings = [...new Set(x.rings ?? [])];
  if (rings.length) out.push({ contextName: ringField, operator: 'NOT_IN', values: rings, inverted: false, caseInsensitive: false });
  return { constraints: out };
}

/**
 * The exclusion the flag has now: the constraints of the gradual rollout rollout owns (it
 * writes them there, and only them). An adopted, untitled strategy has none.
 */
export function currentExclusion(managed: UnleashStrategy | undefined): UnleashConstraint[] {
  return managed?.title === ROLLOUT_TITLE ? (managed.constraints ?? []) : [];
}

/**
 * The gradual rollout as wanted: `managed`'s own segments and extra parameters are kept (an
 * adopted strategy keeps what it had); its constraints are the exclusion (`excluded`);
 * `variants` only when the change sets a split.
 */
export function managedStrategy(flag: string, pct: number, stickiness: string, managed: UnleashStrategy | undefined, variants?: UnleashVariant[], excluded: UnleashConstraint[] = currentExclusion(managed)): UnleashStrategy {
  const s = owned(flag, ROLLOUT_TITLE, pct, stickiness, { constraints: excluded, segments: managed?.segments });
  return { ...s, parameters: { ...managed?.parameters, ...s.parameters }, ...(variants ? { variants } : {}) };
}

/** The allowlist: 100 % of the users whose userId is in `users`. */
export function allowlistStrategy(flag: string, users: string[], excluded: UnleashConstraint[] = []): UnleashStrategy {
  return owned(flag, ALLOWLIST_TITLE, 100, 'default', {
    constraints: [{ contextName: 'userId', operator: 'IN', values: users, inverted: false, caseInsensitive: false }, ...excluded],
  });
}

/** 100 % of one segment (one strategy each: segments on a single strategy must all match). */
export function segmentStrategy(flag: string, name: string, id: number, excluded: UnleashConstraint[] = []): UnleashStrategy {
  return owned(flag, `${SEGMENT_TITLE_PREFIX}${name}`, 100, 'default', { segments: [id], constraints: excluded });
}

/** A ring's share, for the users whose `field` is the ring's name. */
export function ringStrategy(flag: string, field: string, ring: string, pct: number, stickiness: string, excluded: UnleashConstraint[] = []): UnleashStrategy {
  return owned(flag, `${RING_TITLE_PREFIX}${ring}`, pct, stickiness, {
    constraints: [{ contextName: field, operator: 'IN', values: [ring], inverted: false, caseInsensitive: false }, ...excluded],
  });
}

export function allowlistUsers(s: UnleashStrategy | undefined): string[] {
  const c = s?.constraints?.find((k) => k.contextName === 'userId' && k.operator === 'IN' && !k.inverted);
  return c?.values ? [...c.values] : [];
}

/** Share of users served by strategies rollout does not manage (when none is managed). */
function unmanagedPercentage(strategies: UnleashStrategy[]): number {
  const active = strategies.filter(isActive);
  if (active.length === 0) return 100; // on with no strategy = on for everybody
  let pct = 0;
  for (const s of active.filter(isPlain)) {
    if (s.name === 'default') pct = 100;
    if (s.name === 'flexibleRollout') pct = Math.max(pct, rolloutOf(s));
  }
  return pct;
}

/** What an environment's strategies enable, as rollout reports a flag. */
export function readEnvironment(flag: string, env: UnleashEnvironment, ringField = 'ring'): FlagState {
  const strategies = env.strategies ?? [];
  const managed = findManaged(strategies);
  let percentage: number;
  if (managed) percentage = managed.disabled === true ? 0 : rolloutOf(managed);
  else percentage = env.enabled || strategies.length ? unmanagedPercentage(strategies) : 0;
  const list = findAllowlist(strategies);
  const users = list && isActive(list) ? allowlistUsers(list) : [];
  const segments = [...titled(strategies, SEGMENT_TITLE_PREFIX)].filter(([, s]) => isActive(s)).map(([n]) => n);
  // Rolled-back rings read back from the exclusion (segments are written as their negated constraint, not by name).
  const notIn = currentExclusion(managed).find((c) => c.contextName === ringField && c.operator === 'NOT_IN' && !c.inverted);
  const rings = Object.fromEntries([...titled(strategies, RING_TITLE_PREFIX)].filter(([, s]) => isActive(s)).map(([n, s]) => [n, rolloutOf(s)]));
  return {
    flag,
    exists: true,
    enabled: env.enabled === true,
    percentage,
    ...(users.length ? { users } : {}),
    ...(segments.length ? { segments } : {}),
    ...(Object.keys(rings).length ? { rings } : {}),
    ...(managed?.variants?.length ? { variants: (managed.variants as UnleashVariant[]).map((v) => ({ name: v.name, weight: v.weight })) } : {}),
    ...(notIn?.values?.length ? { exclude: { rings: [...notIn.values] } } : {}),
  };
}
