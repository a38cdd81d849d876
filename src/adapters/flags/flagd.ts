/**
 * flagd flag backend: edits a flagd flag-definition file (https://flagd.dev/schema/v0/flags.json)
 * that flagd (or an in-process flagd provider) watches.
 *
 * A flag rollout writes:
 *
 *   "my-flag": {
 *     "state": "ENABLED",                       // "DISABLED" after apply({enabled:false})
 *     "variants": { "on": true, "off": false },
 *     "defaultVariant": "off",
 *     "targeting": {
 *       "if": [ { "in": [ { "var": "targetingKey" }, ["alice", "bob"] ] },   // only with users
 *               "on",
 *               { "fractional": [ ["on", 25], ["off", 75] ] } ]
 *     }
 *   }
 *
 * - Bucketing: with the default `bucketBy: targetingKey` the fractional carries no bucketing
 *   expression, so flagd hashes flagKey + targetingKey (its documented default, the same as
 *   {"cat": [{"var": "$flagd.flagKey"}, {"var": "targetingKey"}]}) and an evaluation without a
 *   targetingKey gets the default variant ("off"). Another `bucketBy` attribute is written as
 *   that explicit `cat` expression, guarded so that an evaluation without the attribute gets
 *   "off" (unguarded, every such evaluation would hash the same string and land in one bucket):
 *   {"if": [{"var": "email"}, {"fractional": [{"cat": [...]}, ["on", 25], ["off", 75]]}, "off"]}.
 * - 0 % and 100 % are written without a fractional: defaultVariant "off" / "on" (plus the user
 *   rule when there are users), so 100 % also reaches evaluations without a targetingKey.
 * - Weights: flagd's fractional takes integer weights. With `decimals: 0` (default) a percentage
 *   is rounded to the nearest whole percent ([["on", 13], ["off", 87]] for 12.5 → 13; 0.4 → 0:
 *   nobody); a note is logged whenever rounding changes the value. `decimals: 1..3` writes
 *   weights out of 1000/10000/100000 instead (e.g. 12.5 → [["on",125],["off",875]]): flagd
 *   treats weights as relative, but providers older than flagd's relative-weights change
 *   required weights summing to 100, so only raise this if your providers support it.
 * - Allowlists and rings come first, as an if/else-if chain before the percentage rule:
 *     {"if": [ {"in": [{"var": "targetingKey"}, ["alice"]]}, "on",              // users
 *              {"in": [{"var": "segment"}, ["internal-team", "beta"]]}, "on",    // segments
 *              {"in": [{"var": "ring"}, ["internal"]]}, <rule for 100 %>,       // one per ring
 *              {"in": [{"var": "ring"}, ["beta"]]}, <rule for 50 %>,
 *              <the percentage rule: everybody else> ]}
 *   The attributes are options (`usersAttribute`, `segmentsAttribute`, `ringAttribute`); the
 *   application puts its user's segment and ring into the evaluation context. A ring step's
 *   ring without users/segments (seed 004's "ga") is the percentage rule itself.
 * - The user and segment allowlists are replaced when a change carries `users` / `segments` (an
 *   empty list clears it) and kept as they are in the file when it has none; rings are those of
 *   the change (a percentage step drops the ring rules).
 * - Disabling sets "state": "DISABLED" and keeps the targeting (re-enabling rewrites it).
 *   NB: flagd then answers with reason DISABLED and the SDK returns the *code default* of the
 *   evaluation call, so the application's default for this flag should be false.
 * - Other flags, other keys of this flag (metadata) and top-level keys ($schema, $evaluators,
 *   metadata) are preserved; the file is replaced atomically (write-file-atomic keeps its mode)
 *   and not rewritten at all when nothing changes. Writes within this process are serialised
 *   per file; concurrent writers in other processes are not coordinated.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { z } from 'zod';
import { BackendError, errorMessage } from '../../errors.js';
import type { AdapterContext, FlagBackend, FlagBackendFactory, FlagChange, FlagState } from '../types.js';
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
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

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
  private rule(pct: number, flag: string): Json {
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

  private targeting(pct: number, allow: Allow, rings: Record<string, number> | undefined, flag: string): { defaultVariant: 'on' | 'off'; targeting?: JsonObject } {
    const rest = this.rule(pct, flag);
    const defaultVariant = rest === 'on' ? 'on' : 'off';
    const chain: Json[] = [];
    if (allow.users.length) chain.push({ in: [{ var: this.o.usersAttribute }, [...new Set(allow.users)]] }, 'on');
    if (allow.segments.length) chain.push({ in: [{ var: this.o.segmentsAttribute }, [...new Set(allow.segments)]] }, 'on');
    for (const [ring, p] of Object.entries(rings ?? {})) chain.push({ in: [{ var: this.o.ringAttribute }, [ring]] }, this.rule(p, `${flag} (ring ${ring})`));
    if (chain.length) return { defaultVariant, targeting: { if: [...chain, rest] } };
    return typeof rest === 'string' ? { defaultVariant } : { defaultVariant, targeting: rest as JsonObject };
  }

  async apply(change: FlagChange): Promise<void> {
    const pct = checkChange(change, this.name);
    await serialised(this.file, async () => {
      const loaded = await this.load();
      const doc: FlagdFile = loaded?.doc ?? { $schema: SCHEMA_URL, flags: {} };
      const existing = doc.flags[change.flag];
      const prev: JsonObject = isObject(existing) ? existing : {};
      let next: JsonObject;
      if (change.enabled) {
        // users / segments not given → keep the allowlists already in the file (as the other backends do)
        let kept: Allow = { users: [], segments: [] };
        if ((change.users === undefined || change.segments === undefined) && isObject(existing)) {
          try {
            kept = this.parse(existing, change.flag);
          } catch {
            /* targeting we cannot read is replaced, as documented */
          }
        }
        const allow = { users: change.users ?? kept.users, segments: change.segments ?? kept.segments };
        const { defaultVariant, targeting } = this.targeting(pct, allow, change.rings, change.flag);
        next = { ...prev, state: 'ENABLED', variants: { on: true, off: false }, defaultVariant };
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
    };
  }

  /** Percentage, allowlists and rings from a flag definition in the shapes this adapter writes. */
  private parse(def: JsonObject, flag: string): Allow & { percentage: number; rings: Record<string, number> } {
    const variants = isObject(def.variants) ? def.variants : {};
    const valueOf = (variant: Json): boolean | undefined => {
      if (typeof variant !== 'string') return undefined;
      const v = variants[variant];
      return typeof v === 'boolean' ? v : undefined;
    };
    const unknown = (): never => {
      throw new BackendError(this.name, `flag ${flag} has targeting that rollout cannot interpret as a percentage`, {
        hint: 'rollout writes {"fractional": [[on, w], [off, w]]}, optionally after an if/else-if chain of "in" rules for users, segments and rings; applying a change will replace the targeting.',
      });
    };
    const share = (rule: Json): number => {
      if (typeof rule === 'string') {
        const v = valueOf(rule);
        return v === undefined ? unknown() : v ? 100 : 0;
      }
      if (isObject(rule) && Array.isArray(rule.fractional)) {
        let on = 0;
        let total = 0;
        for (const b of rule.fractional) {
          if (!Array.isArray(b)) continue; // the bucketing expression
          const w = b.length >= 2 ? b[1] : 1;
          if (typeof w !== 'number' || !Number.isFinite(w)) return unknown();
          const weight = Math.max(0, w);
          total += weight;
          if (valueOf(b[0] ?? null) === true) on += weight;
        }
        return total > 0 ? Number(((on * 100) / total).toFixed(6)) : 0;
      }
      // the guarded form written for a custom bucketBy: {"if": [{"var": attr}, {fractional}, "off"]}
      if (isObject(rule) && Array.isArray(rule.if) && rule.if.length === 3) {
        const [cond, then, otherwise] = rule.if;
        if (isObject(cond) && 'var' in cond && isObject(then) && Array.isArray(then.fractional) && valueOf(otherwise ?? null) === false) return share(then);
      }
      return unknown();
    };
    const out = { users: [] as string[], segments: [] as string[], rings: {} as Record<string, number> };
    const t = def.targeting;
    if (t === undefined || t === null || (isObject(t) && Object.keys(t).length === 0)) return { ...out, percentage: share(def.defaultVariant ?? null) };
    // The chain: [cond, value]… else — recognised when its first condition is an `in` rule.
    const chain = isObject(t) && Array.isArray(t.if) && t.if.length >= 3 && t.if.length % 2 === 1 ? t.if : undefined;
    const first = chain?.[0];
    if (!chain || !(isObject(first) && Array.isArray(first.in))) return { ...out, percentage: share(t) };
    for (let i = 0; i + 1 < chain.length; i += 2) {
      const cond = chain[i];
      const value = chain[i + 1] ?? null;
      const args = isObject(cond) && Array.isArray(cond.in) ? cond.in : undefined;
      const attr = args && isObject(args[0]) ? args[0].var : undefined;
      const list = args && Array.isArray(args[1]) ? args[1].filter((x): x is string => typeof x === 'string') : undefined;
      if (!list || typeof attr !== 'string') return unknown();
      if (attr === this.o.usersAttribute && valueOf(value) === true) out.users = list;
      else if (attr === this.o.segmentsAttribute && valueOf(value) === true) out.segments = list;
      else if (attr === this.o.ringAttribute && list.length === 1) out.rings[list[0]!] = share(value);
      else return unknown();
    }
    return { ...out, percentage: share(chain[chain.length - 1] ?? null) };
  }
}


export const create: FlagBackendFactory = (raw, ctx) => new FlagdBackend(options.parse(raw), ctx);
