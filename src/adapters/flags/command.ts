/**
 * `command` flag backend: flags driven by your own programs (a deploy script, the CLI of an
 * in-house flag service). Placeholders, environment, the `read` output and errors are in
 * docs/adapters.md (`command`).
 *
 * Decisions a reader needs here:
 *   - argv only, never a shell: a placeholder is replaced inside one argv element, so a value
 *     can neither split nor join arguments, and flag names starting with "-" are refused.
 *   - Without `read`, read() returns what this backend last applied successfully, recorded in
 *     `recordPath` (default <state dir>/command-flags.json: $ROLLOUT_STATE_DIR or .rollout in
 *     the working directory); it does not see changes made outside rollout.
 */import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import { z } from 'zod';
import { BackendError, UsageError, errorMessage } from '../../errors.js';
import { runCommand } from '../../util/exec.js';
import { redact } from '../../util/redact.js';
import type { AdapterContext, FlagBackend, FlagBackendFactory, FlagChange, FlagState } from '../types.js';
import { checkChange as checkShared, refuseExclusion, serialised } from './shared.js';

export const PLACEHOLDERS = ['flag', 'enabled', 'percentage', 'users'] as const;
const WORD = /\{([A-Za-z_]+)\}/g;

const argv = z
  .array(z.string())
  .min(1)
  .refine((a) => a[0] !== '', 'the program (first element) is empty')
  .superRefine((a, ctx) => {
    a.forEach((el, i) => {
      for (const m of el.matchAll(WORD)) {
        if (!(PLACEHOLDERS as readonly string[]).includes(m[1]!)) {
          ctx.addIssue({ code: 'custom', path: [i], message: `unknown placeholder {${m[1]}} (known: ${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')})` });
        }
      }
    });
  });

export const options = z.strictObject({
  /** Program + arguments that make the flag look like the change. */
  apply: argv,
  /** Program + arguments that print the flag's state (optional, see the file header). */
  read: argv.optional(),
  timeoutMs: z.number().int().positive().max(3_600_000).default(30_000),
  /** Directory to run in (relative to the plan's directory). */
  cwd: z.string().min(1).optional(),
  /** Where applied states are recorded when there is no read command. */
  recordPath: z.string().min(1).optional(),
});
export type CommandFlagOptions = z.infer<typeof options>;

interface Recorded {
  enabled: boolean;
  percentage: number;
  users?: string[];
  appliedAt: string;
}

/** Substitute placeholders inside each element; the element count never changes. */
export function substitute(args: string[], values: Record<string, string>): string[] {
  return args.map((el) => el.replace(WORD, (m, name: string) => (name in values ? values[name]! : m)));
}

/** Parse a read command's stdout (rules in the file header); throws an Error saying what it printed on garbage. */
export function parseReadOutput(stdout: string): { exists: false } | { exists: true; enabled: boolean; percentage: number; users?: string[] } {
  const text = stdout.trim();
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const candidates = [text, lines.at(-1) ?? ''];
  let value: unknown = Symbol.for('none');
  for (const c of candidates) {
    if (c === '') {
      value = null;
      break;
    }
    try {
      value = JSON.parse(c);
      break;
    } catch {
      /* next */
    }
  }
  if (value === null) return { exists: false };
  const pctOk = (n: unknown): n is number => typeof n === 'number' && Number.isFinite(n) && n >= 0 && n <= 100;
  if (typeof value === 'number') {
    if (!pctOk(value)) throw new Error(`printed ${value}, not a percentage from 0 to 100`);
    return { exists: true, enabled: value > 0, percentage: value };
  }
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const o = value as Record<string, unknown>;
    if (o.exists === false) return { exists: false };
    if (o.enabled !== undefined && typeof o.enabled !== 'boolean') throw new Error(`printed "enabled": ${JSON.stringify(o.enabled)}, not a boolean`);
    if (o.percentage !== undefined && !pctOk(o.percentage)) throw new Error(`printed "percentage": ${JSON.stringify(o.percentage)}, not a number from 0 to 100`);
    if (o.enabled === undefined && o.percentage === undefined) throw new Error('printed JSON without "enabled" or "percentage"');
    const enabled = typeof o.enabled === 'boolean' ? o.enabled : (o.percentage as number) > 0;
    const percentage = o.percentage !== undefined ? (o.percentage as number) : enabled ? 100 : 0;
    const users = Array.isArray(o.users) ? o.users.map(String) : undefined;
    return { exists: true, enabled, percentage, ...(users?.length ? { users } : {}) };
  }
  throw new Error(`printed ${JSON.stringify((lines.at(-1) ?? text).slice(0, 120))}; expected JSON {"enabled", "percentage"} or a number`);
}


class CommandFlagBackend implements FlagBackend {
  readonly name: string;
  private readonly cwd: string;
  private readonly recordFile: string;

  constructor(
    private readonly o: CommandFlagOptions,
    private readonly ctx: AdapterContext,
  ) {
    this.name = `command (${redact(o.apply[0]!)})`;
    this.cwd = o.cwd ? path.resolve(ctx.baseDir, o.cwd) : ctx.cwd;
    this.recordFile = o.recordPath
      ? path.resolve(ctx.baseDir, o.recordPath)
      : path.resolve(ctx.cwd, ctx.env.ROLLOUT_STATE_DIR ?? '.rollout', 'command-flags.json');
  }

  private async run(what: 'apply' | 'read', template: string[], values: Record<string, string>, env: Record<string, string | undefined>) {
    const args = substitute(template, values);
    const prog = args[0]!;
    if (prog.startsWith('./') || prog.startsWith('../')) args[0] = path.resolve(this.ctx.baseDir, prog);
    let r;
    try {
      r = await runCommand({ argv: args, cwd: this.cwd, env: { ...this.ctx.env, ...env }, timeoutMs: this.o.timeoutMs });
    } catch (err) {
      throw new BackendError(this.name, `${what} ${values.flag}: ${redact(prog)} could not run: ${redact(errorMessage(err))}`, { cause: err });
    }
    if (!r.ok) {
      const tail = (r.stderr || r.stdout).slice(-500);
      throw new BackendError(this.name, `${what} ${values.flag}: ${redact(prog)} failed (${r.summary})${tail ? `: ${tail}` : ''}`, {
        hint: r.timedOut ? `Raise timeoutMs (now ${this.o.timeoutMs}) or make the program faster.` : undefined,
      });
    }
    return r;
  }

  async apply(change: FlagChange): Promise<void> {
    const pct = checkChange(change, this.name);
    refuseExclusion(change, this.name, 'segments and rings are not passed to commands');
    if (change.segments?.length || change.rings) this.ctx.log(`${this.name}: ${change.flag}: segments/rings are not passed to commands and were ignored`);
    const percentage = change.enabled ? pct : (change.percentage ?? 0);
    const users = change.users ? [...new Set(change.users)] : undefined;
    const values = { flag: change.flag, enabled: String(change.enabled), percentage: String(percentage), users: users?.join(',') ?? '' };
    const env: Record<string, string | undefined> = {
      ROLLOUT_FLAG: change.flag,
      ROLLOUT_ENABLED: values.enabled,
      ROLLOUT_PERCENTAGE: values.percentage,
      ROLLOUT_CHANGE: JSON.stringify({ ...change, percentage }),
      ...(users ? { ROLLOUT_USERS: values.users } : {}),
    };
    await this.run('apply', this.o.apply, values, env);
    if (!this.o.read) await this.record(change.flag, { enabled: change.enabled, percentage: change.enabled ? pct : 0, ...(users ? { users } : {}), appliedAt: new Date().toISOString() }, users === undefined);
  }

  async read(flag: string): Promise<FlagState> {
    checkFlag(flag, this.name);
    if (!this.o.read) {
      const f = (await this.loadRecord())[flag];
      if (!f) return { flag, exists: false, enabled: false, percentage: 0 };
      return { flag, exists: true, enabled: f.enabled, percentage: f.percentage, ...(f.users?.length ? { users: f.users } : {}) };
    }
    const r = await this.run('read', this.o.read, { flag, enabled: '', percentage: '', users: '' }, { ROLLOUT_FLAG: flag });
    let parsed;
    try {
      parsed = parseReadOutput(r.stdout);
    } catch (err) {
      throw new BackendError(this.name, `read ${flag}: ${redact(this.o.read[0]!)} ${redact(errorMessage(err))}`);
    }
    if (!parsed.exists) return { flag, exists: false, enabled: false, percentage: 0 };
    return { flag, ...parsed };
  }

  private async loadRecord(): Promise<Record<string, Recorded>> {
    try {
      const v = JSON.parse(await readFile(this.recordFile, 'utf8')) as unknown;
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, Recorded>) : {};
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw new BackendError(this.name, `the record of applied flags ${this.recordFile} is unreadable: ${errorMessage(err)}`, {
        hint: 'It only remembers what was applied (there is no read command); fix or delete it.',
      });
    }
  }

  /** Record an applied state; `keepUsers`: the change had no users, so the recorded ones stay. */
  private async record(flag: string, f: Recorded, keepUsers: boolean): Promise<void> {
    await serialised(this.recordFile, async () => {
      const all = await this.loadRecord();
      const prevUsers = all[flag]?.users;
      all[flag] = keepUsers && prevUsers ? { ...f, users: prevUsers } : f;
      try {
        await mkdir(path.dirname(this.recordFile), { recursive: true });
        await writeFileAtomic(this.recordFile, JSON.stringify(all, null, 2) + '\n', { mode: 0o600 });
      } catch (err) {
        throw new BackendError(this.name, `applied ${flag}, but could not record it in ${this.recordFile}: ${errorMessage(err)}`, { cause: err });
      }
    });
  }
}

function checkFlag(flag: string, backend: string): void {
  if (typeof flag !== 'string' || flag.trim() === '') throw new UsageError(`${backend}: flag name is empty`);
  if (flag.startsWith('-')) throw new UsageError(`${backend}: flag name ${JSON.stringify(flag)} starts with "-" and could pass for an option; rename the flag`);
  if (/[\0\r\n]/.test(flag)) throw new UsageError(`${backend}: flag name ${JSON.stringify(flag)} contains control characters`);
}

/** Validate a change; returns the target percentage (0..100) of an enabled flag. */
function checkChange(change: FlagChange, backend: string): number {
  checkFlag(change.flag, backend);
  return checkShared(change, backend);
}

export const create: FlagBackendFactory = (raw, ctx: AdapterContext) => new CommandFlagBackend(options.parse(raw), ctx);
