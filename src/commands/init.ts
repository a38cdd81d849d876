/**
 * `rollout init [file]`: a first plan from a few questions (or from options, for scripts),
 * written with the JSON Schema modeline and comments, never over an existing file without
 * asking. The prompts take injected streams, so the wizard is tested with real keystrokes.
 */
import { existsSync } from 'node:fs';
import { writeFile, mkdir } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import {
  BACKENDS,
  BACKEND_INFO,
  CHECKS,
  DEFAULT_HOLD,
  GATES,
  GATE_INFO,
  METRICS,
  METRICS_INFO,
  PRESETS,
  PRESET_INFO,
  RING_BACKENDS,
  planName,
  programsToProvide,
  renderPlan,
  requiredEnv,
  splitArgv,
  type InitAnswers,
} from '../init/template.js';
import { parseDuration } from '../util/duration.js';
import { printJson, type Context } from './context.js';

export interface InitOptions {
  name?: string;
  flag?: string;
  backend?: string;
  metrics?: string;
  check?: string;
  steps?: string;
  hold?: string;
  gate?: string;
  rollback?: string;
  yes?: boolean;
  force?: boolean;
}

/** Streams for the prompts (default: the process's). */
export interface PromptIO {
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  signal?: AbortSignal;
}

type Answers = Omit<InitAnswers, 'schema'>;

function pick<T extends string>(what: string, v: string | undefined, allowed: readonly T[]): T | undefined {
  if (v === undefined) return undefined;
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw new UsageError(`--${what} "${v}" is not one of: ${allowed.join(', ')}`, { hint: `e.g. rollout init --${what} ${allowed[0]}` });
}

/** Options → answers, checked; what an option leaves open gets the default. */
export function fromOptions(o: InitOptions, file: string): Answers {
  const backend = pick('backend', o.backend, BACKENDS) ?? 'local';
  const preset = pick('steps', o.steps, PRESETS) ?? 'careful';
  if (preset === 'rings' && !RING_BACKENDS.includes(backend))
    throw new UsageError(`the ${backend} backend does not write rings; --steps rings needs one of: ${RING_BACKENDS.join(', ')}`, { hint: 'Use --steps careful or --steps fast.' });
  const hold = o.hold ?? DEFAULT_HOLD[preset];
  if (parseDuration(hold) === null) throw new UsageError(`--hold "${hold}" is not a duration`, { hint: 'Write it with a unit: 30m, 1h, 1d.' });
  const name = o.name ?? planName(basename(file).replace(/\.ya?ml$/i, '') === 'rollout' ? basename(resolve(dirname(file))) : basename(file).replace(/\.ya?ml$/i, ''));
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) throw new UsageError(`--name "${name}": letters, digits, dot, dash, underscore`, { hint: `e.g. --name ${planName(name)}` });
  return {
    name,
    flag: o.flag ?? 'new-feature',
    backend,
    metrics: pick('metrics', o.metrics, METRICS) ?? (backend === 'local' ? 'simulated' : 'prometheus'),
    check: pick('check', o.check, CHECKS) ?? 'error-rate',
    preset,
    hold,
    gate: pick('gate', o.gate, GATES) ?? 'before-100',
    rollback: o.rollback ? splitArgv(o.rollback) : [],
  };
}

/** The questions, starting from `d` (the options' answers). */
export async function ask(d: Answers, io: PromptIO = {}): Promise<Answers> {
  const { input, select, confirm } = await import('@inquirer/prompts');
  const ctx = { input: io.input, output: io.output, signal: io.signal, clearPromptOnDone: false };
  const choices = <T extends string>(values: readonly T[], info: Record<T, string>) => values.map((value) => ({ value, name: value, description: info[value] }));
  const name = await input({ message: 'Plan name', default: d.name, validate: (s) => /^[a-z0-9][a-z0-9._-]*$/i.test(s) || 'letters, digits, dot, dash, underscore' }, ctx);
  const flag = await input({ message: 'Flag to roll out', default: d.flag, validate: (s) => s.trim().length > 0 || 'a flag name' }, ctx);
  const backend = await select({ message: 'Flag backend', choices: choices(BACKENDS, BACKEND_INFO), default: d.backend }, ctx);
  // Simulated metrics are the default only for the local store: a real backend suggests Prometheus.
  const metrics = await select({ message: 'Metrics provider', choices: choices(METRICS, METRICS_INFO), default: d.metrics === 'simulated' && backend !== 'local' ? 'prometheus' : d.metrics }, ctx);
  const check =
    metrics === 'none'
      ? d.check
      : await select({ message: 'First check', choices: choices(CHECKS, { 'error-rate': 'error rate in %: above the threshold → roll back', latency: 'p95 latency: above the threshold → pause' }), default: d.check }, ctx);
  const presets = PRESETS.filter((p) => p !== 'rings' || RING_BACKENDS.includes(backend));
  const preset = await select({ message: 'Steps', choices: choices(presets, PRESET_INFO), default: presets.includes(d.preset) ? d.preset : 'careful' }, ctx);
  const hold = await input({ message: 'Hold after each step', default: d.hold === DEFAULT_HOLD[d.preset] ? DEFAULT_HOLD[preset] : d.hold, validate: (s) => parseDuration(s) !== null || 'a duration with a unit: 30m, 1h, 1d' }, ctx);
  const gate = await select({ message: 'Go/no-go gate', choices: choices(GATES, GATE_INFO), default: d.gate }, ctx);
  const withRollback = await confirm({ message: 'Run a command on rollback (after the flags are off)?', default: d.rollback.length > 0 }, ctx);
  const rollback = withRollback
    ? splitArgv(await input({ message: 'Rollback command (argv, no shell; the reason arrives as $ROLLOUT_REASON)', default: d.rollback.join(' ') || './scripts/rollback.sh', validate: (s) => splitArgv(s).length > 0 || 'a command' }, ctx))
    : [];
  return { name: name.trim(), flag: flag.trim(), backend, metrics, check, preset, hold: hold.trim(), gate, rollback };
}

/** The package's JSON Schema, relative to the plan's directory (for the modeline). */
export function schemaRef(planFile: string, from = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (let i = 0; i < 6; i++, dir = dirname(dir)) {
    if (existsSync(join(dir, 'schema/plan.schema.json'))) break;
  }
  const schema = join(dir, 'schema/plan.schema.json');
  const rel = relative(dirname(resolve(planFile)), existsSync(schema) ? schema : resolve('node_modules/rollout/schema/plan.schema.json'));
  return rel.startsWith('.') ? rel : `./${rel}`;
}

export default async function init(c: Context, file: string | undefined, o: InitOptions, io: PromptIO = {}): Promise<number> {
  const target = file ?? 'rollout.yaml';
  const abs = resolve(c.cwd, target);
  const interactive = !o.yes && (io.input !== undefined || c.interactive) && !c.json;
  let answers = fromOptions(o, target);
  if (interactive) answers = await ask(answers, io);
  if (existsSync(abs) && !o.force) {
    if (!interactive) throw new UsageError(`${target} already exists; not overwriting it`, { hint: 'Pass another file name, or --force to replace it.' });
    const { confirm } = await import('@inquirer/prompts');
    const ok = await confirm({ message: `${target} exists. Overwrite it?`, default: false }, { input: io.input, output: io.output, signal: io.signal });
    if (!ok) {
      c.stderr(`left ${target} as it was`);
      return 1;
    }
  }
  const text = renderPlan({ ...answers, schema: schemaRef(abs) });
  await mkdir(dirname(abs), { recursive: true });
  await writeFile(abs, text);
  const env = requiredEnv(answers).filter((v) => !c.env[v]);
  const progs = programsToProvide(answers);
  const next = [`rollout validate ${target}`, `rollout simulate ${target}`, `rollout start ${target}`];
  if (c.json) {
    printJson(c, { file: target, plan: answers, needsEnv: env, programs: progs, next });
    return 0;
  }
  c.stdout(`wrote ${target}: plan "${answers.name}", ${answers.backend} backend, ${answers.metrics === 'none' ? 'no checks' : `${answers.metrics} ${answers.check} check`}, ${answers.preset} steps`);
  if (env.length) c.stdout(`set first: ${env.map((v) => `export ${v}=…`).join('; ')}`);
  if (progs.length) c.stdout(`provide: ${progs.join(', ')} (validate checks they exist and are executable)`);
  c.stdout('next:');
  for (const n of next) c.stdout(`  ${n}`);
  return 0;
}
