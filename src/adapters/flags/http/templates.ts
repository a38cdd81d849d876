/**
 * The `http` backend's templates: {{placeholders}} in request paths, JSON bodies and read
 * JSONPaths, and the variables a change provides. The rules are in docs/adapters.md (`http`,
 * Templates); this file is pure.
 */
import type { FlagChange } from '../../types.js';

export const TEMPLATE_VARIABLES = ['flag', 'enabled', 'percentage', 'fraction', 'users', 'segments', 'rings', 'stickiness', 'strategy', 'variants', 'exclude'] as const;
export type Vars = Partial<Record<(typeof TEMPLATE_VARIABLES)[number], unknown>>;

export const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w]*)\s*\}\}/g;
const WHOLE = /^\{\{\s*([A-Za-z_][\w]*)\s*\}\}$/;

/** Every placeholder name used in a template value (strings, arrays, objects, keys excluded). */
export function templateNames(v: unknown): string[] {
  const out = new Set<string>();
  const walk = (x: unknown) => {
    if (typeof x === 'string') for (const m of x.matchAll(PLACEHOLDER)) out.add(m[1]!);
    else if (Array.isArray(x)) x.forEach(walk);
    else if (x && typeof x === 'object') Object.values(x).forEach(walk);
  };
  walk(v);
  return [...out];
}

const asText = (v: unknown): string =>
  v === undefined || v === null ? '' : Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : String(v);

/** Render a JSON body template (rules in docs/adapters.md: a whole placeholder becomes the variable's JSON value, one without a value drops its key). undefined = nothing to send. */
export function renderBody(template: unknown, vars: Vars): unknown {
  if (typeof template === 'string') {
    const whole = WHOLE.exec(template);
    if (whole) return vars[whole[1] as keyof Vars];
    return template.replace(PLACEHOLDER, (_m, name: string) => asText(vars[name as keyof Vars]));
  }
  if (Array.isArray(template)) return template.map((t) => renderBody(t, vars)).filter((v) => v !== undefined);
  if (template && typeof template === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, t] of Object.entries(template)) {
      const v = renderBody(t, vars);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  return template;
}

export function renderPath(template: string, vars: Vars): string {
  return template.replace(PLACEHOLDER, (_m, name: string) => encodeURIComponent(asText(vars[name as keyof Vars])));
}

export function varsFor(change: FlagChange, pct: number): Vars {
  const percentage = change.enabled ? pct : change.percentage;
  return {
    flag: change.flag,
    enabled: change.enabled,
    percentage,
    fraction: percentage === undefined ? undefined : percentage / 100,
    users: change.users,
    segments: change.segments,
    rings: change.rings,
    stickiness: change.stickiness,
    strategy: change.rings ? 'ring' : undefined,
    // An experiment's split as the seed's A/B configuration writes it: {"control": 50, "treatment": 50}.
    variants: change.variants ? Object.fromEntries(change.variants.map((v) => [v.name, v.percent])) : undefined,
    // A partial rollback for some users: {"segments": [...], "rings": [...]} the flag is off for.
    exclude: change.exclude ? { segments: change.exclude.segments ?? [], rings: change.exclude.rings ?? [] } : undefined,
  };
}


/** A read JSONPath with {{flag}} filled in; undefined when the flag name cannot be placed in it safely. */
export function jsonPathFor(template: string, flag: string): string | undefined {
  if (/\{\{/.test(template) && /['"\\[\]]/.test(flag)) return undefined;
  return template.replace(PLACEHOLDER, () => flag);
}
