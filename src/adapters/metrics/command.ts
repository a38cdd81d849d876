/**
 * command metrics provider: run a program that prints a number.
 *
 * - options.argv set: that program runs for every check; the check's `query` reaches it only
 *   as the environment variable ROLLOUT_QUERY (never spliced into argv).
 * - options.argv absent: the check's `query` is split on whitespace into argv
 *   (`./error-rate.sh checkout 5m` → ["./error-rate.sh", "checkout", "5m"]). No shell, no
 *   quoting, no globbing, no $VARS: write a script if you need those. ROLLOUT_QUERY is set too.
 *
 * Also in the environment: ROLLOUT_NOW (epoch ms) and ROLLOUT_WINDOW_MS (when the check has a
 * window). A relative program path (./x, ../x) and options.cwd resolve against the plan's
 * directory; the program runs in options.cwd, else the working directory.
 *
 * The last non-empty line of stdout is the value: a number → value; empty output, "NaN",
 * "null", "none", "Inf" → value null with a note (no-data is never zero). Anything else, a
 * non-zero exit, a timeout or a missing program → BackendError (stderr tail included, redacted).
 *
 * With options.path the program prints JSON instead (e.g. `curl -s …/metrics`), and the path
 * (JSONPath `$.a.b` or jq-style `.a.b`, as for http-json) picks the number: missing path,
 * null, NaN, a non-numeric value → value null with a note; empty output → no data; output that
 * is not JSON or a path matching several values → BackendError. The output is captured up to
 * 4 KiB: longer JSON is refused with a clear error (print less, e.g. pipe through jq -c).
 */
import path from 'node:path';
import { z } from 'zod';
import { BackendError, UsageError } from '../../errors.js';
import { runCommand } from '../../util/exec.js';
import { pickPath, toJsonPath, toNumber } from './http-json.js';
import { redact } from '../../util/redact.js';
import type { AdapterContext, MetricQuery, MetricsProvider, MetricsProviderFactory, Reading } from '../types.js';

export const options = z.strictObject({
  /** Program and arguments, e.g. ["./metrics/error-rate.sh", "--service", "checkout"]. */
  argv: z.array(z.string()).min(1).optional(),
  timeoutMs: z.number().int().positive().default(30_000),
  /** Directory to run in (relative to the plan's directory). */
  cwd: z.string().min(1).optional(),
  /** The program prints JSON; this path (JSONPath or jq-style) selects the number. */
  path: z.string().min(1).optional(),
});
export type CommandOptions = z.infer<typeof options>;

const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;
const NO_DATA = /^(?:[+-]?(?:nan|inf|infinity)|null|none)$/i;

/** The last non-empty stdout line → a number, a no-data reason, or the unparseable line. */
export function parseOutput(stdout: string): { value: number } | { reason: string } | { garbage: string } {
  const lines = stdout.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  const last = lines[lines.length - 1];
  if (last === undefined) return { reason: 'command printed nothing' };
  if (NUMERIC.test(last)) return { value: Number(last) };
  if (NO_DATA.test(last)) return { reason: `command printed ${last}` };
  return { garbage: last };
}

const tailOf = (s: string, n = 500) => (s.length > n ? `…${s.slice(-n)}` : s);

/** JSON output + path → a number, a no-data reason, or a problem (BackendError material). */
export function parseJsonOutput(stdout: string, jsonPath: string): { value: number } | { reason: string } | { problem: string } {
  const text = stdout.trim();
  if (!text) return { reason: 'command printed nothing' };
  // util/exec keeps the last 4 KiB and marks the cut with a leading "…".
  if (text.startsWith('…')) return { problem: 'output is longer than 4 KiB and was cut; print only the part you need (e.g. jq -c .metrics)' };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { problem: `output is not JSON: ${JSON.stringify(tailOf(text, 120))}` };
  }
  let found: unknown[];
  try {
    found = pickPath(doc, jsonPath);
  } catch (err) {
    return { problem: `bad path ${jsonPath}: ${(err as Error).message}` };
  }
  if (found.length === 0) return { reason: `path ${jsonPath} not found in the output` };
  if (found.length > 1) return { problem: `path ${jsonPath} matched ${found.length} values; it must select exactly one` };
  const n = toNumber(found[0]);
  return 'value' in n ? n : { reason: `${jsonPath}: ${n.reason}` };
}

class Command implements MetricsProvider {
  readonly name: string;
  private readonly cwd: string;
  private readonly jsonPath?: string;

  constructor(
    private readonly opts: CommandOptions,
    private readonly ctx: AdapterContext,
  ) {
    this.name = opts.argv ? `command (${redact(opts.argv[0]!)})` : 'command';
    this.cwd = opts.cwd ? path.resolve(ctx.baseDir, opts.cwd) : ctx.cwd;
    // A bad path fails when the plan loads, not mid-rollout.
    if (opts.path) this.jsonPath = toJsonPath(opts.path);
  }

  private resolveProgram(p: string): string {
    return p.startsWith('./') || p.startsWith('../') ? path.resolve(this.ctx.baseDir, p) : p;
  }

  async query(q: MetricQuery): Promise<Reading> {
    const argv = this.opts.argv ? [...this.opts.argv] : q.query.trim().split(/\s+/).filter(Boolean);
    if (argv.length === 0) {
      throw new UsageError('command metrics provider: no program to run', {
        hint: 'Set the provider option argv, or give the check a query such as "./error-rate.sh checkout".',
      });
    }
    const shown = `command (${redact(argv[0]!)})`;
    argv[0] = this.resolveProgram(argv[0]!);
    const env: Record<string, string | undefined> = {
      ...this.ctx.env,
      ROLLOUT_QUERY: q.query,
      ROLLOUT_NOW: String(q.now),
    };
    if (q.windowMs !== undefined) env.ROLLOUT_WINDOW_MS = String(q.windowMs);
    const r = await runCommand({ argv, cwd: this.cwd, env, timeoutMs: this.opts.timeoutMs });
    // The stderr tail explains a failure; without stderr, the stdout tail is the next best thing.
    const said = r.stderr || r.stdout;
    const stderr = said ? `: ${tailOf(said)}` : '';
    if (!r.ok) {
      const notFound = r.summary.startsWith('not found');
      throw new BackendError(shown, `${r.summary}${stderr}`, {
        retryable: r.timedOut,
        hint: notFound
          ? 'Check the program path (relative paths resolve against the plan directory) and that it is executable.'
          : r.timedOut
            ? `The program took longer than timeoutMs (${this.opts.timeoutMs} ms).`
            : undefined,
      });
    }
    if (this.jsonPath) {
      const j = parseJsonOutput(r.stdout, this.jsonPath);
      if ('value' in j) return { value: j.value, at: q.now };
      if ('reason' in j) return { value: null, at: q.now, note: j.reason };
      throw new BackendError(shown, j.problem, { hint: `The program must print a JSON document in which ${this.jsonPath} is one number.` });
    }
    const out = parseOutput(r.stdout);
    if ('value' in out) return { value: out.value, at: q.now };
    if ('reason' in out) return { value: null, at: q.now, note: out.reason };
    throw new BackendError(shown, `output is not a number: last line ${JSON.stringify(tailOf(out.garbage, 120))}`, {
      hint: 'The program must print a number (e.g. 0.012) as the last line of its standard output.',
    });
  }
}

export const create: MetricsProviderFactory = (raw, ctx) => new Command(options.parse(raw), ctx);
