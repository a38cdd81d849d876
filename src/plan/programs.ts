/**
 * Every program a plan names must exist and be executable before a run starts: a misspelt
 * rollback script (`./rolback.sh`) would otherwise fail only during the emergency rollback.
 * Programs are resolved exactly as the runner and the adapters resolve them:
 *   - `./x`, `../x`: against the plan's directory (or the command's `cwd`, itself relative to
 *     the plan's directory, for rollback/health/escalation commands);
 *   - another path with a slash (`scripts/x`): against the directory the program runs in;
 *   - a bare name (`node`, `kubectl`): looked up on PATH.
 * Arguments are not checked (`[node, scripts/x.mjs]` checks `node` only); neither are
 * `shell: true` lines nor programs built from placeholders.
 */
import { constants } from 'node:fs';
import { access, readdir, stat } from 'node:fs/promises';
import { basename, delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { suggest } from '../util/suggest.js';
import type { LintIssue } from './lint.js';
import type { Plan } from './model.js';
import type { CommandDoc, PlanDoc } from './schema.js';

interface ProgramRef {
  path: (string | number)[];
  program: string;
  /** Where a relative path that is not ./ or ../ resolves. */
  runDir: string;
  /** Where ./ and ../ resolve. */
  baseDir: string;
  what: string;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const argv0 = (v: unknown): string | undefined => (Array.isArray(v) ? str(v[0]) : undefined);

export async function checkPrograms(plan: Plan, doc: PlanDoc, o: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<LintIssue[]> {
  const cwd = o.cwd ?? process.cwd();
  const refs: ProgramRef[] = [];
  const planCommand = (c: CommandDoc | undefined, path: (string | number)[], what: string) => {
    if (!c) return;
    if (Array.isArray(c)) {
      const p = str(c[0]);
      if (p) refs.push({ path: [...path, 0], program: p, runDir: plan.dir, baseDir: plan.dir, what });
      return;
    }
    if (c.shell) return;
    const p = str(c.run[0]);
    const dir = c.cwd ? resolve(plan.dir, c.cwd) : plan.dir;
    if (p) refs.push({ path: [...path, 'run', 0], program: p, runDir: dir, baseDir: dir, what: c.name ? `${what} "${c.name}"` : what });
  };
  doc.rollback?.commands?.forEach((c, i) => planCommand(c, ['rollback', 'commands', i], `rollback command ${i + 1}`));
  planCommand(doc.rollback?.healthCheck?.command, ['rollback', 'healthCheck', 'command'], 'health check command');
  doc.rollback?.escalate?.commands?.forEach((c, i) => planCommand(c, ['rollback', 'escalate', 'commands', i], `escalation command ${i + 1}`));

  // Adapters: the `command` flag backend, `env-file`'s reload, `command` metrics providers.
  const adapterDir = (opts: Record<string, unknown>) => (str(opts.cwd) ? resolve(plan.dir, str(opts.cwd)!) : cwd);
  const b = plan.backend;
  if (b.type === 'command') {
    for (const k of ['apply', 'read']) {
      const p = argv0(b.options[k]);
      if (p) refs.push({ path: ['backend', k, 0], program: p, runDir: adapterDir(b.options), baseDir: plan.dir, what: `the flag backend's ${k} command` });
    }
  }
  if (b.type === 'env-file') {
    const p = argv0(b.options.reload);
    if (p) refs.push({ path: ['backend', 'reload', 0], program: p, runDir: plan.dir, baseDir: plan.dir, what: "the flag backend's reload command" });
  }
  for (const [name, m] of Object.entries(plan.metrics)) {
    if (m.type !== 'command') continue;
    const p = argv0(m.options.argv);
    if (p) {
      refs.push({ path: ['metrics', name, 'argv', 0], program: p, runDir: adapterDir(m.options), baseDir: plan.dir, what: `metrics provider "${name}"` });
      continue;
    }
    // No argv: each check's query is the command line.
    const checks: Array<{ c: { name: string; provider: string; query: string }; path: (string | number)[] }> = [
      ...(doc.checks ?? []).map((c, i) => ({ c, path: ['checks', i, 'query'] })),
      ...doc.phases.flatMap((ph, pi) => (ph.checks ?? []).map((c, ci) => ({ c, path: ['phases', pi, 'checks', ci, 'query'] }))),
    ];
    for (const { c, path } of checks) {
      const q = c.provider === name ? c.query.trim().split(/\s+/)[0] : undefined;
      if (q) refs.push({ path, program: q, runDir: adapterDir(m.options), baseDir: plan.dir, what: `check "${c.name}"` });
    }
  }

  const PATH = (o.env?.PATH ?? process.env.PATH ?? '').split(delimiter).filter(Boolean);
  const issues = await Promise.all(refs.filter((r) => !/[{}]/.test(r.program)).map((r) => checkOne(r, PATH)));
  return issues.filter((i): i is LintIssue => i !== undefined);
}

type Found = 'ok' | 'missing' | 'not-executable' | 'directory';

async function probe(file: string): Promise<Found> {
  try {
    const st = await stat(file);
    if (st.isDirectory()) return 'directory';
    await access(file, constants.X_OK);
    return 'ok';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EACCES' ? 'not-executable' : 'missing';
  }
}

async function checkOne(r: ProgramRef, PATH: string[]): Promise<LintIssue | undefined> {
  const issue = (message: string): LintIssue => ({ path: r.path, message, severity: 'error' });
  if (!r.program.includes('/')) {
    for (const dir of PATH) if ((await probe(join(dir, r.program))) === 'ok') return undefined;
    return issue(`${r.what}: program "${r.program}" is not on PATH — install it, or give its path (./scripts/… is relative to the plan's directory)`);
  }
  const file = isAbsolute(r.program) ? r.program : r.program.startsWith('./') || r.program.startsWith('../') ? resolve(r.baseDir, r.program) : resolve(r.runDir, r.program);
  const found = await probe(file);
  if (found === 'ok') return undefined;
  if (found === 'not-executable') return issue(`${r.what}: ${r.program} (${file}) is not executable — \`chmod +x ${file}\`, or run it through its interpreter, e.g. [sh, ${r.program}]`);
  if (found === 'directory') return issue(`${r.what}: ${r.program} (${file}) is a directory, not a program`);
  const near = await readdir(dirname(file)).then(
    (names) => suggest(basename(file), names),
    () => undefined,
  );
  // Keep the user's own spelling of the directory part: ./rolback.sh → ./rollback.sh.
  const hint = near ? ` — did you mean "${r.program.slice(0, r.program.length - basename(r.program).length)}${near}"?` : '';
  return issue(`${r.what}: program ${r.program} not found (looked for ${file})${hint}`);
}
