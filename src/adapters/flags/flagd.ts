/**
 * flagd flag backend: edits a flagd flag-definition file (https://flagd.dev/schema/v0/flags.json)
 * that flagd, or an in-process flagd provider, watches. The targeting it writes (an if/else-if
 * chain: users, segments, rings, then the percentage; variant experiments), the options and the
 * rounding rules are in docs/adapters.md (`flagd`).
 *
 * Decisions a reader needs here:
 *   - With the default `bucketBy: targetingKey` the fractional carries no bucketing expression
 *     (flagd's documented default hash); another attribute is an explicit `cat`, guarded so an
 *     evaluation without it gets "off" instead of all landing in one bucket.
 *   - 0 % and 100 % are written without a fractional, so 100 % also reaches evaluations without
 *     a key. Experiments hash "/variant/" apart from the in/out rule, so a user keeps their
 *     variant as the rollout grows.
 *   - Rolled-back cohorts (a partial rollback for some users) are one `or` rule serving "off",
 *     first in the chain (never a bare `in`, so it cannot be read back as a ring at 0 %).
 *   - Disabling sets state DISABLED and keeps the targeting; the SDK then returns the code's
 *     default, so the application's default should be false.
 *   - Everything else in the file is preserved; it is replaced atomically and not rewritten
 *     when nothing changes. Writes are serialised per file in this process only.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { z } from 'zod';
import { BackendError, errorMessage } from '../../errors.js';
import type { AdapterContext, Exclusion, FlagBackend, FlagBackendFactory, FlagChange, FlagState } from '../types.js';
import { toWeights } from '../../util/variants.js';
import { checkChange, serialised } from './shared.js';

export const options = z.strictObject({
  /** The flag-definition JSON file (relative to the plan's directory). */
  path: z.string().min(1),
  /** Indent the JSON (2 spaces). Default true. */
  pretty: z.boolean().default(true),
  /** Decimal places kept in percentages (weights out of 100·10^decimals). Default 0. */
  decimals: z.number().int().min(0).max(3).default(0),
  /** Evaluation-context attribute hashed for the percentage split. */
  bucketBy: z.string().min(1).default('targetingKey'),
  /** Evaluation-context attribute matched against the user allowlist. */
  usersAttribute: z.string().min(1).default('targetingKey'),
  /** Evaluation-context attribute holding the caller's segment, matched against segment allowlists. */
  segmentsAttribute: z.string().min(1).default('segment'),
  /** Evaluation-context attribute holding the caller's ring, for ring steps. */
  ringAttribute: z.string().min(1).default('ring'),
}).refine((o) => new Set([o.usersAttribute, o.segmentsAttribute, o.ringAttribute]).size === 3, {
  message: 'usersAttribute, segmentsAttribute and ringAttribute must be three different attributes',
});
export type FlagdOptions = z.infer<typeof options>;

const SCHEMA_URL = 'https://flagd.dev/schema/v0/flags.json';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

interface FlagdFile extends JsonObject {
  flags: { [k: string]: Json };
}


interface Allow {
  users: string[];
  segments: string[];
  /** Cohorts rolled back: one `or` rule first in the chain, serving "off". */
  exclude?: Exclusion;
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The "off" variant of an experiment flag (string variants). */
const OFF = 'off';
/** Variant shares are written ×100: 33.33 % → 3333 of 10,000. */
const VARIANT_SCALE = 100;

/** An experiment's variants as integer weights of 10,000, sorted by name (largest remainder, so they add up exactly). */
export function variantWeights(variants: Array<{ name: string; percent: number }>): Array<[string, number]> {
  const total = 100 * VARIANT_SCALE;
  const raw = variants.map((v) => v.percent * VARIANT_SCALE);
  const out = raw.map((r, i): [string, number] => [variants[i]!.name, Math.floor(r + 1e-9)]);
  let left = total - out.reduce((s, v) => s + v[1], 0);
  const order = raw.map((r, i) => ({ i, frac: r - Math.floor(r + 1e-9) })).sort((a, b) => b.frac - a.frac || b.i - a.i);
  for (const { i } of order) {
    if (left <= 0) break;
    out[i]![1]++;
    left--;
  }
  return out.sort((a, b) => a[0].localeCompare(b[0]));
}

class FlagdBackend implements FlagBackend {
  readonly name: string;
  private readonly file: string;
  private readonly scale: number;

  constructor(
    private readonly o: FlagdOptions,
    private readonly ctx: AdapterContext,
  ) {
    this.file = resolve(ctx.baseDir, o.path);
    this.name = `flagd (${this.file})`;
    this.scale = 10 ** o.decimals;
  }

  /** The parsed file, or undefined when it does not exist. */
  private async load(): Promise<{ doc: FlagdFile; text: string } | undefined> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new BackendError(this.name, `cannot read the flag file: ${errorMessage(err)}`, { cause: err });
    }
    let doc: unknown;
    try {
      doc = text.trim() === '' ? { flags: {} } : JSON.parse(text);
    } catch (err) {
      throw new BackendError(this.name, `the flag file is not valid JSON (${errorMessage(err)}); not touching it`, {
        hint: 'Fix or restore the file, then retry.',
      });
    }
    if (!isObject(doc)) throw new BackendError(this.name, 'the flag file is not a JSON object with a "flags" object');
    if (doc.flags === undefined) doc.flags = {};
    if (!isObject(doc.flags)) throw new BackendError(this.name, 'the flag file\'s "flags" is not an object');
    return { doc: doc as FlagdFile, text };
  }

  private weightsFor(pct: number, flag: string): { on: number; off: number } {
    const total = 100 * this.scale;
    const on = Math.round(pct * this.scale);
    if (Math.abs(on - pct * this.scale) > 1e-9) {
      this.ctx.log(`${this.name}: ${flag}: ${pct}% rounded to ${on / this.scale}% (flagd fractional weights are integers; decimals: ${this.o.decimals})`);
    }
    return { on, off: total - on };
  }

  /** The rule giving `pct` of callers the flag: "off", "on", or a fractional split. */
  private rule(pct: number, flag: string, variants?: Array<[string, number]>): Json {
    if (variants) return this.experimentRule(pct, flag, variants);
    const { on, off } = this.weightsFor(pct, flag);
    let rest: Json;
    if (on <= 0) rest = 'off';
    else if (off <= 0) rest = 'on';
    else {
      const buckets: Json[] = [
        ['on', on],
        ['off', off],
      ];
      if (this.o.bucketBy !== 'targetingKey') {
        buckets.unshift({ cat: [{ var: '$flagd.flagKey' }, { var: this.o.bucketBy }] });
        rest = { if: [{ var: this.o.bucketBy }, { fractional: buckets }, 'off'] };
      } else {
        rest = { fractional: buckets };
      }
    }
    return rest;
  }

  /**
   * An experiment's rule: the on/off rule of `pct` decides who is in (the same hash as a plain
   * rollout, so users in at 10 % stay in at 25 %), and a second fractional hashed on
   * flagKey + "/variant/" + the bucketing attribute splits those over the variants (independent
   * of the rollout's hash, so a user keeps their variant as the rollout grows).
   */
  private experimentRule(pct: number, flag: string, variants: Array<[string, number]>): Json {
    const gate = this.rule(pct, flag);
    if (gate === 'off') return OFF;
    const split: Json = { fractional: [{ cat: [{ var: '$flagd.flagKey' }, '/variant/', { var: this.o.bucketBy }] }, ...variants.map(([n, w]): Json => [n, w])] };
    const cond: Json = gate === 'on' ? { var: this.o.bucketBy } : { '==': [gate, 'on'] };
    return { if: [cond, split, OFF] };
  }

  private targeting(pct: number, allow: Allow, rings: Record<string, number> | undefined, flag: string, variants?: Array<[string, number]>): { defaultVariant: 'on' | 'off'; targeting?: JsonObject } {
    const rest = this.rule(pct, flag, variants);
    const defaultVariant = rest === 'on' ? 'on' : 'off';
    // allowlisted callers get the flag: "on", or (experiment) a split over the variants alone
    const all: Json = variants ? this.rule(100, flag, variants) : 'on';
    const chain: Json[] = [];
    const ex = allow.exclude;
    if (ex?.segments?.length || ex?.rings?.length) {
      // One `or` rule (never a bare `in`, so it cannot be mistaken for a ring at 0 % on reading).
      const any: Json[] = [];
      if (ex.segments?.length) any.push({ in: [{ var: this.o.segmentsAttribute }, [...new Set(ex.segments)]] });
      if (ex.rings?.length) any.push({ in: [{ var: this.o.ringAttribute }, [...new Set(ex.rings)]] });
      chain.push({ or: any }, OFF);
    }
    if (allow.users.length) chain.push({ in: [{ var: this.o.usersAttribute }, [...new Set(allow.users)]] }, all);
    if (allow.segments.length) chain.push({ in: [{ var: this.o.segmentsAttribute }, [...new Set(allow.segments)]] }, all);
    for (const [ring, p] of Object.entries(rings ?? {})) chain.push({ in: [{ var: this.o.ringAttribute }, [ring]] }, this.rule(p, `${flag} (ring ${ring})`, variants));
    if (chain.length) return { defaultVariant, targeting: { if: [...chain, rest] } };
    return typeof rest === 'string' ? { defaultVariant } : { defaultVariant, targeting: rest as JsonObject };
  }

  /** Experiments: the variants are written as string variants with fractional weights. */
  readonly variants = true;
  /** Rolled-back cohorts: an `or` rule of `in` tests on the segment / ring attributes serving "off", first in the chain. */
  readonly excludes = true;

  async apply(change: FlagChange): Promise<void> {
    const pct = checkChange(change, this.name);
    const variants = change.variants?.length ? variantWeights(change.variants) : undefined;
    if (variants?.some(([n]) => n === OFF)) {
      throw new BackendError(this.name, `${change.flag}: an experiment variant cannot be called "${OFF}" on flagd (rollout writes "${OFF}" for users outside the experiment)`, {
        hint: 'Rename the variant in the phase\'s variants:.',
      });
    }
    await serialised(this.file, async () => {
      const loaded = await this.load();
      const doc: FlagdFile = loaded?.doc ?? { $schema: SCHEMA_URL, flags: {} };
      const existing = doc.flags[change.flag];
      const prev: JsonObject = isObject(existing) ? existing : {};
      let next: JsonObject;
      if (change.enabled) {
        // users / segments not given → keep the allowlists already in the file (as the other backends do)
        let kept: Allow = { users: [], segments: [] };
        if ((change.users === undefined || change.segments === undefined || change.exclude === undefined) && isObject(existing)) {
          try {
            kept = this.parse(existing, change.flag);
          } catch {
            /* targeting we cannot read is replaced, as documented */
          }
        }
        const allow = { users: change.users ?? kept.users, segments: change.segments ?? kept.segments, exclude: change.exclude ?? kept.exclude };
        const { defaultVariant, targeting } = this.targeting(pct, allow, change.rings, change.flag, variants);
        const values: JsonObject = variants ? Object.fromEntries([...variants.map(([n]) => [n, n]), [OFF, OFF]]) : { on: true, off: false };
        next = { ...prev, state: 'ENABLED', variants: values, defaultVariant };
        if (targeting) next.targeting = targeting;
        else delete next.targeting;
      } else {
        next = isObject(existing)
          ? { ...prev, state: 'DISABLED' }
          : { state: 'DISABLED', variants: { on: true, off: false }, defaultVariant: 'off' };
      }
      doc.flags[change.flag] = next;
      const text = JSON.stringify(doc, null, this.o.pretty ? 2 : undefined) + '\n';
      if (loaded && loaded.text === text) return; // nothing to change: don't poke flagd's watcher
      try {
        if (!loaded) await mkdir(dirname(this.file), { recursive: true });
        await writeFileAtomic(this.file, text, { encoding: 'utf8' });
      } catch (err) {
        throw new BackendError(this.name, `cannot write the flag file: ${errorMessage(err)}`, { cause: err });
      }
    });
  }

  async read(flag: string): Promise<FlagState> {
    const loaded = await this.load();
    const def = loaded?.doc.flags[flag];
    if (!isObject(def)) return { flag, exists: false, enabled: false, percentage: 0 };
    const parsed = this.parse(def, flag);
    return {
      flag,
      exists: true,
      enabled: def.state === 'ENABLED',
      percentage: parsed.percentage,
      ...(parsed.users.length ? { users: parsed.users } : {}),
      ...(parsed.segments.length ? { segments: parsed.segments } : {}),
      ...(Object.keys(parsed.rings).length ? { rings: parsed.rings } : {}),
      ...(parsed.variants ? { variants: parsed.variants } : {}),
      ...(parsed.exclude ? { exclude: parsed.exclude } : {}),
    };
  }

  /** Percentage, allowlists and rings from a flag definition in the shapes this adapter writes. */
  private parse(def: JsonObject, flag: string): Allow & { percentage: number; rings: Record<string, number>; variants?: Array<{ name: string; weight: number }> } {
    const variants = isObject(def.variants) ? def.variants : {};
    // An experiment (string variants, one of them "off") or an on/off flag (boolean variants).
    const experiment = Object.values(variants).some((v) => typeof v === 'string') && variants[OFF] === OFF;
    const valueOf = (variant: Json, gate = false): boolean | undefined => {
      if (typeof variant !== 'string') return undefined;
      if (gate) return variant === 'on' ? true : variant === 'off' ? false : undefined; // an experiment's in/out rule
      const v = variants[variant];
      if (experiment) return typeof v === 'string' ? variant !== OFF : undefined;
      return typeof v === 'boolean' ? v : undefined;
    };
    // Experiment split, from the first fractional met: the "on" buckets' weights relative to each other.
    let split: Array<{ name: string; weight: number }> | undefined;
    const unknown = (): never => {
      throw new BackendError(this.name, `flag ${flag} has targeting that rollout cannot interpret as a percentage`, {
        hint: 'rollout writes {"fractional": [[on, w], [off, w]]}, optionally after an if/else-if chain of "in" rules for users, segments and rings; applying a change will replace the targeting.',
      });
    };
    const share = (rule: Json, gate = false): number => {
      if (typeof rule === 'string') {
        const v = valueOf(rule, gate);
        return v === undefined ? unknown() : v ? 100 : 0;
      }
      if (isObject(rule) && Array.isArray(rule.fractional)) {
        let on = 0;
        let total = 0;
        const ons: Array<{ name: string; w: number }> = [];
        for (const b of rule.fractional) {
          if (!Array.isArray(b)) continue; // the bucketing expression
          const w = b.length >= 2 ? b[1] : 1;
          if (typeof w !== 'number' || !Number.isFinite(w)) return unknown();
          const weight = Math.max(0, w);
          total += weight;
          const isOn = valueOf(b[0] ?? null, gate);
          if (isOn === undefined && experiment && !gate) return unknown();
          if (isOn) {
            on += weight;
            ons.push({ name: String(b[0]), w: weight });
          }
        }
        if (experiment && !gate && !split && on > 0) split = toWeights(ons.map((x) => ({ name: x.name, percent: (x.w * 100) / on })));
        return total > 0 ? Number(((on * 100) / total).toFixed(6)) : 0;
      }
      // the guarded form written for a custom bucketBy: {"if": [{"var": attr}, {fractional}, "off"]}
      if (isObject(rule) && Array.isArray(rule.if) && rule.if.length === 3) {
        const [cond, then, otherwise] = rule.if;
        const eq = isObject(cond) && Array.isArray(cond['==']) && cond['=='].length === 2 && cond['=='][1] === 'on' ? cond['=='][0] : undefined;
        // an experiment: {"if": [{"==": [<on/off rule>, "on"]}, <split over the variants>, "off"]}
        if (experiment && !gate && eq !== undefined && isObject(then) && Array.isArray(then.fractional) && valueOf(otherwise ?? null) === false) {
          return share(then) === 100 ? share(eq ?? null, true) : unknown();
        }
        if (isObject(cond) && 'var' in cond && isObject(then) && Array.isArray(then.fractional) && valueOf(otherwise ?? null, gate) === false) return share(then, gate);
      }
      return unknown();
    };
    const out: Allow & { rings: Record<string, number> } = { users: [], segments: [], rings: {} };
    const t = def.targeting;
    if (t === undefined || t === null || (isObject(t) && Object.keys(t).length === 0)) return { ...out, percentage: share(def.defaultVariant ?? null) };
    const withSplit = (percentage: number) => ({ ...out, percentage, ...(split ? { variants: split } : {}) });
    // The chain: [cond, value]… else — recognised when its first condition is an `in` rule.
    const chain = isObject(t) && Array.isArray(t.if) && t.if.length >= 3 && t.if.length % 2 === 1 ? t.if : undefined;
    const first = chain?.[0];
    const excluding = isObject(first) && Array.isArray(first.or) && chain?.[1] === OFF;
    if (!chain || !((isObject(first) && Array.isArray(first.in)) || excluding)) return withSplit(share(t));
    if (excluding) {
      const ex: Exclusion = {};
      for (const rule of first.or as Json[]) {
        const args = isObject(rule) && Array.isArray(rule.in) ? rule.in : undefined;
        const attr = args && isObject(args[0]) ? args[0].var : undefined;
        const list = args && Array.isArray(args[1]) ? args[1].filter((x): x is string => typeof x === 'string') : undefined;
        if (!list) return unknown();
        if (attr === this.o.segmentsAttribute) ex.segments = list;
        else if (attr === this.o.ringAttribute) ex.rings = list;
        else return unknown();
      }
      out.exclude = ex;
    }
    for (let i = excluding ? 2 : 0; i + 1 < chain.length; i += 2) {
      const cond = chain[i];
      const value = chain[i + 1] ?? null;
      const args = isObject(cond) && Array.isArray(cond.in) ? cond.in : undefined;
      const attr = args && isObject(args[0]) ? args[0].var : undefined;
      const list = args && Array.isArray(args[1]) ? args[1].filter((x): x is string => typeof x === 'string') : undefined;
      if (!list || typeof attr !== 'string') return unknown();
      if (attr === this.o.usersAttribute && share(value) === 100) out.users = list;
      else if (attr === this.o.segmentsAttribute && share(value) === 100) out.segments = list;
      else if (attr === this.o.ringAttribute && list.length === 1) out.rings[list[0]!] = share(value);
      else return unknown();
    }
    const percentage = share(chain[chain.length - 1] ?? null);
    return { ...out, percentage, ...(split ? { variants: split } : {}) };
  }
}


export const create: FlagBackendFactory = (raw, ctx) => new FlagdBackend(options.parse(raw), ctx);
