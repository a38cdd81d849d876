/**
 * `env-file` flag backend: flags as variables in a dotenv file (seed 000's
 * DOMAIN_ADAPTERS_ENABLED=true, DOMAIN_ROLLOUT_PERCENTAGE=25), for apps that read their flags
 * from the environment. Options, variable naming, reading and `reload` are in docs/adapters.md
 * (`env-file`).
 *
 * Decisions a reader needs here:
 *   - Every occurrence of a variable is rewritten (the last one wins in dotenv, docker compose
 *     and shells), in place: prefixes, quotes, spacing, comments and line endings are kept.
 *   - A new file is 0600 (.env files tend to hold secrets); the file is replaced atomically and
 *     not rewritten when nothing changes; writes are serialised per file in this process.
 *   - A failed `reload` is run again by the next apply to that file in this process, even if
 *     the file is already as wanted.
 */import { mkdir, readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { z } from 'zod';
import { BackendError, UsageError, errorMessage } from '../../errors.js';
import { runCommand } from '../../util/exec.js';
import { redact } from '../../util/redact.js';
import type { AdapterContext, FlagBackend, FlagBackendFactory, FlagChange, FlagState } from '../types.js';
import { checkChange, refuseExclusion, serialised } from './shared.js';

const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const varName = z.string().regex(VAR_NAME, 'must be a variable name (letters, digits, _)');

const flagVars = z.strictObject({
  /** null = this flag has no enabled variable. */
  enabledVar: varName.nullable().optional(),
  percentVar: varName.nullable().optional(),
  usersVar: varName.nullable().optional(),
});

const template = z.string().regex(/^[A-Za-z_{][A-Za-z0-9_{}]*$/).refine((s) => s.includes('{FLAG}'), 'must contain {FLAG}');

export const options = z.strictObject({
  /** The dotenv file (relative to the plan's directory). */
  path: z.string().min(1),
  /** Default variable names; {FLAG} = the flag name in UPPER_SNAKE_CASE. */
  naming: z
    .strictObject({
      enabled: template.default('{FLAG}_ENABLED'),
      percentage: template.default('{FLAG}_ROLLOUT_PERCENTAGE'),
      users: template.default('{FLAG}_ENABLED_USERS'),
    })
    .prefault({}),
  /** Per-flag variable names (override `naming`). */
  flags: z.record(z.string().min(1), flagVars).default({}),
  /** Round written percentages to this many decimals (0 for apps that parse an int). */
  decimals: z.number().int().min(0).max(6).optional(),
  /** Values written for enabled / disabled. */
  enabledValues: z.strictObject({ on: z.string().min(1).default('true'), off: z.string().min(1).default('false') }).prefault({}),
  /** On disable, also set the percentage variable to 0. */
  zeroOnDisable: z.boolean().default(true),
  /** Command (argv, no shell) run after the file changed, e.g. to restart the app. */
  reload: z.array(z.string()).min(1).optional(),
  reloadTimeoutMs: z.number().int().positive().max(3_600_000).default(60_000),
});
export type EnvFileOptions = z.infer<typeof options>;

interface Vars {
  enabled?: string;
  percentage?: string;
  users?: string;
}

/** One `KEY=value` line split so the value can be replaced and everything else kept. */
export interface EnvLine {
  key: string;
  /** Everything before the value: indentation, `export `, the key, "=" with its spacing. */
  prefix: string;
  quote: '' | '"' | "'";
  value: string;
  /** After the value: closing quote excluded, spacing and an inline comment. */
  suffix: string;
}

const LINE = /^(\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*)(.*)$/;

/** Parse one line (without its line ending); undefined for comments, blanks, and other text. */
export function parseEnvLine(line: string): EnvLine | undefined | 'unterminated' {
  const m = LINE.exec(line);
  if (!m) return undefined;
  const prefix = m[1]!;
  const key = m[2]!;
  const rest = m[3]!;
  const q = rest[0];
  if (q === '"' || q === "'") {
    let i = 1;
    for (; i < rest.length; i++) {
      if (q === '"' && rest[i] === '\\') {
        i++;
        continue;
      }
      if (rest[i] === q) break;
    }
    if (i >= rest.length) return 'unterminated';
    const raw = rest.slice(1, i);
    const value = q === '"' ? raw.replace(/\\(["\\$`])/g, '$1').replace(/\\n/g, '\n') : raw;
    return { key, prefix, quote: q, value, suffix: rest.slice(i + 1) };
  }
  const hash = /\s#/.exec(rest);
  const valuePart = hash ? rest.slice(0, hash.index) : rest;
  const value = valuePart.replace(/\s+$/, '');
  return { key, prefix, quote: '', value, suffix: rest.slice(value.length) };
}

function formatValue(value: string, quote: EnvLine['quote']): { quote: EnvLine['quote']; text: string } {
  if (quote === "'" && !/['\r\n]/.test(value)) return { quote, text: value };
  if (quote === '' && value !== '' && !/[\s#"'\\$`]/.test(value)) return { quote, text: value };
  return { quote: '"', text: value.replace(/(["\\$`])/g, '\\$1') };
}

export function flagToVarStem(flag: string): string {
  return flag
    .toUpperCase()
    .replace(/[^A-Z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

const pending = new Map<string, boolean>(); // file → a reload failed and must run again

const TRUE = /^(true|1|yes|on|enabled)$/i;
const FALSE = /^(false|0|no|off|disabled|)$/i;

class EnvFileBackend implements FlagBackend {
  readonly name: string;
  private readonly file: string;

  constructor(
    private readonly o: EnvFileOptions,
    private readonly ctx: AdapterContext,
  ) {
    this.file = resolve(ctx.baseDir, o.path);
    this.name = `env-file (${this.file})`;
    for (const [flag, v] of Object.entries(o.flags)) {
      if (v.enabledVar === null && v.percentVar === null) throw new UsageError(`${this.name}: flags.${flag}: enabledVar and percentVar cannot both be null`);
    }
  }

  /** The variable names of a flag. */
  varsOf(flag: string): Vars {
    const stem = flagToVarStem(flag);
    const over = this.o.flags[flag] ?? {};
    const pick = (o: string | null | undefined, tpl: string): string | undefined => {
      if (o === null) return undefined;
      if (o !== undefined) return o;
      const name = tpl.split('{FLAG}').join(stem);
      if (!stem || !VAR_NAME.test(name)) {
        throw new UsageError(`${this.name}: flag "${flag}" gives no valid variable name (${name})`, {
          hint: `Name its variables under the backend's flags.${flag} (enabledVar, percentVar).`,
        });
      }
      return name;
    };
    return {
      enabled: pick(over.enabledVar, this.o.naming.enabled),
      percentage: pick(over.percentVar, this.o.naming.percentage),
      users: pick(over.usersVar, this.o.naming.users),
    };
  }

  private async load(): Promise<string | undefined> {
    try {
      return await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new BackendError(this.name, `cannot read the env file: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Last value of each wanted variable, with its line number (1-based). */
  private values(text: string, keys: string[]): Map<string, { value: string; line: number }> {
    const out = new Map<string, { value: string; line: number }>();
    text.split('\n').forEach((raw, i) => {
      const p = parseEnvLine(raw.replace(/\r$/, ''));
      if (p === 'unterminated') {
        const k = LINE.exec(raw)?.[2];
        if (k && keys.includes(k)) throw new BackendError(this.name, `line ${i + 1}: ${k} has an unterminated quoted (multi-line?) value; not touching it`);
        return;
      }
      if (p && keys.includes(p.key)) out.set(p.key, { value: p.value, line: i + 1 });
    });
    return out;
  }

  private formatPct(pct: number, flag: string): string {
    if (this.o.decimals === undefined) return String(pct);
    const f = 10 ** this.o.decimals;
    const r = Math.round(pct * f) / f;
    if (r !== pct) this.ctx.log(`${this.name}: ${flag}: ${pct}% rounded to ${r}% (decimals: ${this.o.decimals})`);
    return String(r);
  }

  async apply(change: FlagChange): Promise<void> {
    const pct = checkChange(change, this.name);
    const vars = this.varsOf(change.flag);
    refuseExclusion(change, this.name, 'an env file has no segments or rings');
    if (change.segments?.length || change.rings) this.ctx.log(`${this.name}: ${change.flag}: segments/rings are not supported by this adapter and were ignored`);
    const want = new Map<string, string>();
    if (vars.enabled) want.set(vars.enabled, change.enabled ? this.o.enabledValues.on : this.o.enabledValues.off);
    if (vars.percentage) {
      if (change.enabled) want.set(vars.percentage, this.formatPct(pct, change.flag));
      else if (this.o.zeroOnDisable || !vars.enabled) want.set(vars.percentage, '0');
    } else if (change.enabled && pct !== 100 && pct !== 0) {
      throw new UsageError(`${this.name}: ${change.flag} has no percentage variable, so only 0 or 100 % can be written (got ${pct})`);
    } else if (change.enabled && pct === 0 && vars.enabled) {
      want.set(vars.enabled, this.o.enabledValues.off);
    }
    if (change.users) {
      if (!vars.users) {
        this.ctx.log(`${this.name}: ${change.flag}: users ignored (usersVar is null)`);
      } else {
        const bad = change.users.find((u) => !u || /[,\r\n"'\\]/.test(u));
        if (bad !== undefined) throw new UsageError(`${this.name}: ${change.flag}: user id ${JSON.stringify(bad)} cannot be written to an env file (no commas, quotes, backslashes or newlines)`);
        want.set(vars.users, [...new Set(change.users)].join(','));
      }
    }

    await serialised(this.file, async () => {
      const before = await this.load();
      const text = before ?? '';
      const eol = text.includes('\r\n') ? '\r\n' : '\n';
      const lines = text === '' ? [] : text.split('\n');
      const endsWithNewline = text === '' || text.endsWith('\n');
      if (endsWithNewline && lines.length) lines.pop(); // the empty piece after the final newline
      const seen = new Set<string>();
      const out = lines.map((raw, i) => {
        const cr = raw.endsWith('\r') ? '\r' : '';
        const line = cr ? raw.slice(0, -1) : raw;
        const p = parseEnvLine(line);
        if (p === 'unterminated') {
          const k = LINE.exec(line)?.[2];
          if (k && want.has(k)) throw new BackendError(this.name, `line ${i + 1}: ${k} has an unterminated quoted (multi-line?) value; not touching it`);
          return raw;
        }
        if (!p || !want.has(p.key)) return raw;
        seen.add(p.key);
        const v = formatValue(want.get(p.key)!, p.quote);
        return `${p.prefix}${v.quote}${v.text}${v.quote}${p.suffix}${cr}`;
      });
      const cr = eol === '\r\n' ? '\r' : '';
      for (const [k, v] of want) {
        if (seen.has(k)) continue;
        const f = formatValue(v, '');
        out.push(`${k}=${f.quote}${f.text}${f.quote}${cr}`);
      }
      const appended = out.length > lines.length;
      const next = out.length === 0 ? '' : out.join('\n') + (endsWithNewline || appended ? '\n' : '');
      const changed = next !== before;
      if (changed) {
        try {
          if (before === undefined) await mkdir(dirname(this.file), { recursive: true });
          await writeFileAtomic(this.file, next, before === undefined ? { encoding: 'utf8', mode: 0o600 } : { encoding: 'utf8' });
        } catch (err) {
          throw new BackendError(this.name, `cannot write the env file: ${errorMessage(err)}`, { cause: err });
        }
      }
      if (this.o.reload && (changed || pending.get(this.file))) await this.reload(change, pct);
    });
  }

  private async reload(change: FlagChange, pct: number): Promise<void> {
    const argv = [...this.o.reload!];
    const prog = argv[0]!;
    if (prog.startsWith('./') || prog.startsWith('../')) argv[0] = resolve(this.ctx.baseDir, prog);
    pending.set(this.file, true);
    let r;
    try {
      r = await runCommand({
        argv,
        cwd: this.ctx.baseDir,
        env: {
          ...this.ctx.env,
          ROLLOUT_FLAG: change.flag,
          ROLLOUT_ENABLED: String(change.enabled),
          ROLLOUT_PERCENTAGE: String(change.enabled ? pct : 0),
          ROLLOUT_ENV_FILE: this.file,
        },
        timeoutMs: this.o.reloadTimeoutMs,
      });
    } catch (err) {
      throw new BackendError(this.name, `reload command ${redact(prog)} could not run: ${redact(errorMessage(err))} (the env file was written)`, { cause: err });
    }
    if (!r.ok) {
      const tail = r.stderr || r.stdout;
      throw new BackendError(this.name, `reload command ${redact(prog)} failed (${r.summary})${tail ? `: ${tail.slice(-500)}` : ''} (the env file was written; the next apply retries the reload)`, {
        hint: 'Fix the reload command, then re-run: rollout retries it.',
      });
    }
    pending.delete(this.file);
  }

  async read(flag: string): Promise<FlagState> {
    const vars = this.varsOf(flag);
    const text = await this.load();
    if (text === undefined) return { flag, exists: false, enabled: false, percentage: 0 };
    const keys = [vars.enabled, vars.percentage, vars.users].filter((k): k is string => Boolean(k));
    const found = this.values(text, keys);
    const e = vars.enabled ? found.get(vars.enabled) : undefined;
    const p = vars.percentage ? found.get(vars.percentage) : undefined;
    if (!e && !p) return { flag, exists: false, enabled: false, percentage: 0 };

    let percentage: number | undefined;
    if (p) {
      const n = p.value.trim() === '' ? Number.NaN : Number(p.value);
      if (!Number.isFinite(n) || n < 0 || n > 100) {
        throw new BackendError(this.name, `line ${p.line}: ${vars.percentage}=${redact(p.value)} is not a percentage from 0 to 100`);
      }
      percentage = n;
    }
    let enabled: boolean;
    if (e) {
      const v = e.value.trim();
      if (v === this.o.enabledValues.on || TRUE.test(v)) enabled = true;
      else if (v === this.o.enabledValues.off || FALSE.test(v)) enabled = false;
      else throw new BackendError(this.name, `line ${e.line}: ${vars.enabled}=${redact(v)} is neither true nor false`);
    } else {
      enabled = (percentage ?? 0) > 0;
    }
    if (percentage === undefined) percentage = enabled ? 100 : 0;
    const u = vars.users ? found.get(vars.users) : undefined;
    const users = u ? u.value.split(',').map((s) => s.trim()).filter(Boolean) : [];
    return { flag, exists: true, enabled, percentage, ...(users.length ? { users } : {}) };
  }
}


export const create: FlagBackendFactory = (raw, ctx: AdapterContext) => new EnvFileBackend(options.parse(raw), ctx);
