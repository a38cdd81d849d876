/**
 * Loading a plan, in stages that collect every problem instead of stopping at the first:
 * read → parse YAML (with positions) → interpolate ${VAR} → schema → normalize → semantic
 * rules → adapter options. Every issue carries the file, a dot-path, and line:column.
 */
import { resolve } from 'node:path';
import type { Document, LineCounter } from 'yaml';
import { PlanError, type PlanIssue } from '../errors.js';
import { suggest } from '../util/suggest.js';
import { NotRegularFileError, readRegularBytes, TooLargeError } from '../util/read-file.js';
import { interpolate, type InterpolationIssue } from './interpolate.js';
import { keysAt } from './keys.js';
import type { Plan } from './model.js';

export const MAX_PLAN_BYTES = 1024 * 1024;
const MAX_DEPTH = 64;

export interface LoadedPlan {
  plan: Plan;
  warnings: PlanIssue[];
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Also validate each adapter's options (imports the adapter modules). Default true. */
  adapters?: boolean;
  /**
   * Also check that every program the plan names exists and is executable (src/plan/programs.ts).
   * Default: whenever `adapters` is on — `validate`, `start`, `advance`; off for `plan`/`simulate`.
   */
  programs?: boolean;
  /** Relative plan paths are resolved from here (default: the process's working directory). */
  cwd?: string;
}

type Path = (string | number)[];

class Positions {
  constructor(
    private doc: Document.Parsed,
    private lc: LineCounter,
  ) {}
  /** line:col of the node at `path`, or of its nearest existing ancestor. */
  at(path: Path, key?: string): { line?: number; col?: number } {
    for (let n = path.length; n >= 0; n--) {
      const sub = path.slice(0, n);
      const node = (sub.length ? this.doc.getIn(sub, true) : this.doc.contents) as
        | { range?: [number, number, number]; items?: Array<{ key?: { value?: unknown; range?: [number, number, number] } }> }
        | undefined;
      if (!node || typeof node !== 'object' || !node.range) continue;
      let offset = node.range[0];
      if (key !== undefined && n === path.length && Array.isArray(node.items)) {
        const pair = node.items.find((p) => p.key && p.key.value === key);
        if (pair?.key?.range) offset = pair.key.range[0];
      }
      const pos = this.lc.linePos(offset);
      return { line: pos.line, col: pos.col };
    }
    return {};
  }
}

function depth(v: unknown, d = 0): number {
  if (d > MAX_DEPTH) return d;
  if (Array.isArray(v)) return v.reduce((m: number, x) => Math.max(m, depth(x, d + 1)), d);
  if (v && typeof v === 'object') return Object.values(v).reduce((m: number, x) => Math.max(m, depth(x, d + 1)), d);
  return d;
}

export async function loadPlan(file: string, opts: LoadOptions = {}): Promise<LoadedPlan> {
  const abs = resolve(opts.cwd ?? '.', file);
  const fail = (message: string, hint?: string): never => {
    throw new PlanError(file, [{ path: '', message, severity: 'error' }], { hint });
  };
  let text: string;
  try {
    const buf = await readRegularBytes(abs, MAX_PLAN_BYTES);
    if (buf.includes(0)) fail('is a binary file, not YAML');
    text = buf.toString('utf8');
  } catch (err) {
    if (err instanceof PlanError) throw err;
    if (err instanceof NotRegularFileError)
      return fail(
        err.kind === 'a directory' ? 'is a directory, not a plan file' : `is ${err.kind}, not a regular file: plans are read only from regular files`,
        'Pass the path of a .yaml plan, e.g. plans/demo.yaml',
      );
    if (err instanceof TooLargeError) return fail(`is ${err.size} bytes; plans are limited to ${MAX_PLAN_BYTES} bytes`);
    const code = (err as NodeJS.ErrnoException).code;
    return fail(
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : `cannot read: ${(err as Error).message}`,
      code === 'ENOENT' ? 'Check the path; `ls plans/` lists the plans in this repository.' : undefined,
    );
  }
  return parsePlanText(text, abs, file, opts);
}

export async function parsePlanText(text: string, abs: string, file: string, opts: LoadOptions = {}): Promise<LoadedPlan> {
  const { parseDocument, LineCounter } = await import('yaml');
  const lc = new LineCounter();
  const issues: PlanIssue[] = [];
  if (!text.trim()) throw new PlanError(file, [{ path: '', message: 'the plan is empty', severity: 'error', line: 1, col: 1 }], { hint: 'Start from plans/demo.yaml or run `rollout validate --help`.' });
  // logLevel 'error': the yaml library's warnings (a mapping used as a key is stringified) would
  // go to process.emitWarning, i.e. stderr; such a key is reported as an unknown key instead.
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: true, strict: true, logLevel: 'error' });
  let lines: string[] | undefined;
  const source = (line?: number): { source?: string } => {
    if (!line) return {};
    lines ??= text.split(/\r?\n/);
    const l = lines[line - 1];
    return l === undefined || l.length > 300 ? {} : { source: l };
  };
  for (const e of doc.errors) {
    const pos = e.linePos?.[0];
    let message = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '');
    if (/maximum call stack/i.test(message)) message = `nesting deeper than ${MAX_DEPTH} levels`;
    issues.push({ path: '', message, line: pos?.line, col: pos?.col, severity: 'error', ...source(pos?.line) });
  }
  if (issues.length) throw new PlanError(file, issues, { hint: 'Fix the YAML syntax first.' });
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new PlanError(file, [{ path: '', message: `cannot read YAML: ${(err as Error).message}`, severity: 'error' }], {
      hint: 'Excessive aliases (a "billion laughs" document?) or an unsupported construct.',
    });
  }
  if (depth(raw) > MAX_DEPTH) throw new PlanError(file, [{ path: '', message: `nesting deeper than ${MAX_DEPTH} levels`, severity: 'error' }]);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new PlanError(file, [{ path: '', message: 'a plan is a YAML mapping (name:, backend:, phases: …)', severity: 'error', line: 1, col: 1 }]);
  }
  const pos = new Positions(doc, lc);
  const at = (path: Path, message: string, severity: 'error' | 'warning' = 'error', key?: string): PlanIssue => {
    const p = pos.at(path, key);
    return { path: [...path, ...(key ? [key] : [])].join('.'), message, severity, ...p, ...source(p.line) };
  };

  // A `__proto__` key would become the object's prototype as the plan is copied: refuse it by
  // name (not as the unknown keys it smuggles in) and drop it before anything else reads it.
  for (const path of protoKeys(raw)) issues.push(at(path, 'key "__proto__" is not allowed: it would replace the object\'s prototype (prototype pollution); remove it', 'error', '__proto__'));

  // Stage: interpolation.
  const interp: InterpolationIssue[] = [];
  const value = interpolate(raw, opts.env ?? process.env, interp);
  for (const i of interp) issues.push(at(i.path, i.message));

  // Stage: schema.
  const schemaMod = await import('./schema.js');
  const { planMessage } = await import('./messages.js');
  const parsed = schemaMod.plan.safeParse(value, { error: planMessage });
  if (!parsed.success) {
    // A misspelt required key ("nmae") is one mistake: report the unknown key with its "did
    // you mean", not also the missing key it was meant to be.
    const meant = new Set<string>();
    for (const iss of parsed.error.issues) {
      if (iss.code !== 'unrecognized_keys') continue;
      const path = iss.path.filter((p): p is string | number => typeof p !== 'symbol');
      for (const k of iss.keys) {
        const hint = suggestKey(k, keysAt(schemaMod.plan, path));
        if (hint) meant.add([...path, hint].join('.'));
      }
    }
    for (const iss of parsed.error.issues) {
      const path = iss.path.filter((p): p is string | number => typeof p !== 'symbol');
      if (iss.code === 'unrecognized_keys') {
        const known = keysAt(schemaMod.plan, path);
        for (const k of iss.keys) {
          const hint = suggestKey(k, known);
          issues.push(at(path, `unknown key "${k}"${hint ? ` — did you mean "${hint}"?` : ''}`, 'error', k));
        }
      } else if (iss.code === 'invalid_type' && meant.has(path.join('.')) && getIn(value, path) === undefined) {
        continue;
      } else if (iss.code === 'invalid_union') {
        const { full, issue } = deepestIssue(iss, path);
        if (issue.code === 'unrecognized_keys' && issue.keys?.length) {
          // A misspelt key inside a union member (a checklist item's "txt:"): name it, with its "did you mean".
          const known = keysAt(schemaMod.plan, full);
          for (const k of issue.keys) {
            const hint = suggestKey(k, known);
            issues.push(at(full, `unknown key "${k}"${hint ? ` — did you mean "${hint}"?` : ''}`, 'error', k));
          }
        } else issues.push(at(full, issue.message)); // the path is the issue's own field
      } else {
        issues.push(at(path, iss.message));
      }
    }
    throw new PlanError(file, issues);
  }
  if (issues.length) throw new PlanError(file, issues);

  // Stage: normalize + semantic rules.
  const { normalizePlan } = await import('./normalize.js');
  const plan = normalizePlan(parsed.data, abs);
  const { lintPlan } = await import('./lint.js');
  const lint = lintPlan(plan, parsed.data);
  if (opts.adapters !== false) {
    const { validateAdapterOptions } = await import('./adapters.js');
    lint.push(...(await validateAdapterOptions(plan)));
  }
  if (opts.programs ?? opts.adapters !== false) {
    const { checkPrograms } = await import('./programs.js');
    lint.push(...(await checkPrograms(plan, parsed.data, { env: opts.env })));
  }
  for (const l of lint) issues.push(at(l.path, l.message, l.severity, l.key));
  const errors = issues.filter((i) => i.severity === 'error');
  if (errors.length) throw new PlanError(file, issues);
  return { plan, warnings: issues };
}

/** Words people write for a key the format spells differently ("maximum:" → max). */
const KEY_ALIASES: Record<string, string> = {
  maximum: 'max',
  minimum: 'min',
  threshold: 'max',
  percentage: 'percent',
  pct: 'percent',
  wait: 'hold',
  duration: 'hold',
  flag: 'flags',
  step: 'steps',
  check: 'checks',
  phase: 'phases',
  type: 'tier',
  severity: 'tier',
  command: 'commands',
  approve: 'approval',
  gate: 'approval',
};

function suggestKey(k: string, known: ReadonlySet<string> | string[]): string | undefined {
  const alias = KEY_ALIASES[k.toLowerCase()];
  if (alias && [...known].includes(alias)) return alias;
  return suggest(k, known);
}

function getIn(v: unknown, path: Path): unknown {
  let cur = v;
  for (const p of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[p];
  }
  return cur;
}

/** Paths of objects holding an own `__proto__` key (removed from them). */
function protoKeys(v: unknown, path: Path = [], out: Path[] = [], d = 0): Path[] {
  if (d > MAX_DEPTH || !v || typeof v !== 'object') return out;
  if (Array.isArray(v)) {
    v.forEach((x, i) => protoKeys(x, [...path, i], out, d + 1));
    return out;
  }
  if (Object.prototype.hasOwnProperty.call(v, '__proto__')) {
    out.push(path);
    delete (v as Record<string, unknown>)['__proto__'];
  }
  for (const [k, x] of Object.entries(v)) protoKeys(x, [...path, k], out, d + 1);
  return out;
}

type UnionIssue = { code?: string; message: string; path: PropertyKey[]; keys?: string[]; errors?: UnionIssue[][] };

/**
 * The issue to report for a union that matched no member: the member that got furthest, and
 * inside it a misspelt key if there is one (the missing key it was meant to be is the same
 * mistake), descending through nested unions (a step is a number or an object whose checklist
 * items are a string or an object).
 */
function deepestIssue(iss: UnionIssue, path: (string | number)[]): { full: (string | number)[]; issue: UnionIssue } {
  let cur = iss;
  let full = path;
  for (let depth = 0; depth < 10 && cur.code === 'invalid_union'; depth++) {
    const branches = cur.errors ?? [];
    const best = branches.slice().sort((a, b) => (b[0]?.path.length ?? 0) - (a[0]?.path.length ?? 0))[0];
    if (!best?.length) break;
    const next = best.find((e) => e.code === 'unrecognized_keys') ?? best[0]!;
    full = [...full, ...next.path.filter((p): p is string | number => typeof p !== 'symbol')];
    cur = next;
  }
  return { full, issue: cur };
}
