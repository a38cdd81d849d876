/**
 * Plan-input robustness: valid plans mutated at random (fast-check) — characters deleted,
 * inserted, replaced; lines swapped and duplicated; values changed to other types; unknown
 * keys, anchors and aliases, merge keys, tags, deep nesting, huge strings, binary bytes,
 * prototype keys, empty input. parsePlanText/loadPlan either return a plan or throw PlanError
 * whose issues each have a message (and line:col where they point into the document) — never
 * another exception. A few mutants go through the CLI too: exit 2, the file named, no stack.
 * Also a corrupt or truncated state.json: `rollout status` says so, names the file, gives a
 * hint, and leaves the file as it was.
 */
import { readFileSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PlanError } from '../../src/errors.js';
import { STATE_SCHEMA_VERSION } from '../../src/engine/types.js';
import { loadPlan, parsePlanText } from '../../src/plan/load.js';
import { run } from '../cli/helpers.js';
import { cli, quickPlan, ROOT, tempDir, write } from './helpers.js';

const SEEDS: Array<[string, string]> = [
  ['demo.yaml', readFileSync(join(ROOT, 'plans/demo.yaml'), 'utf8')],
  ['quick.yaml', quickPlan()],
  ['quick-gates.yaml', quickPlan({ steps: '[10, {percent: 50, approval: {message: "go?", timeout: 1m, onTimeout: rollback}}, {percent: 100, hold: 1s}]', extra: 'notify:\n  targets:\n    console: { type: log }\n' })],
];
const ENV = { HOME: '/home/fuzz', UNLEASH_TOKEN: 'secret-token' };

// ——— mutations ———

/** Values of other types (and YAML oddities) to put where a scalar was. */
const OTHER_VALUES = [
  '[]', '{}', 'null', '~', '-1', '0', '1e400', '-.inf', '.nan', 'true', 'no', '"str"', "''", '0x1F', '0o17', '2001-12-14',
  '!!binary AAAA', '!!str 5', '!!int x', '!!float', '!!set {a, b}', '!!omap [a: 1]', '!custom x', '!<tag:x> y', '&anc v', '*nosuch',
  '| \n  block', '>-\n  folded', '[1, [2, [3]]]', '{a: {b: {c: 1}}}', '${NOT_SET}', '${HOME}', '$${HOME}', '${UNLEASH_TOKEN:-x}',
  '"\\u0000"', '"\\x01\\uFFFF"', '"🚀"', '? complex\n: key', '@reserved', '`backtick`', '%TAG', '- item', ': lone', '#comment',
];
const UNKNOWN_KEYS = ['stpes', 'nmae', 'fags', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '<<', '""', '? x', 'a b', '0', '- x', 'phases', 'name'];

type Mutation = (text: string) => string;

const at = (n: number, len: number) => (len ? n % (len + 1) : 0);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // delete a range
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 40 })).map(([i, n]) => (t: string) => {
    const p = at(i, t.length);
    return t.slice(0, p) + t.slice(p + n);
  }),
  // insert text (any unicode, control characters included)
  fc.tuple(fc.nat(), fc.string({ unit: 'binary', maxLength: 12 })).map(([i, s]) => (t: string) => {
    const p = at(i, t.length);
    return t.slice(0, p) + s + t.slice(p);
  }),
  // insert YAML punctuation
  fc.tuple(fc.nat(), fc.constantFrom(...':-[]{},&*!|>\'"%@`#?\t\n\r\\'.split(''), '---\n', '...\n', '\n  ', ': ', '- ', '<<: *a')).map(([i, s]) => (t: string) => {
    const p = at(i, t.length);
    return t.slice(0, p) + s + t.slice(p);
  }),
  // replace one character
  fc.tuple(fc.nat(), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 })).map(([i, c]) => (t: string) => {
    const p = at(i, Math.max(0, t.length - 1));
    return t.slice(0, p) + c + t.slice(p + 1);
  }),
  // swap two lines / duplicate a line / delete a line
  fc.tuple(fc.nat(), fc.nat(), fc.constantFrom('swap', 'dup', 'del')).map(([a, b, op]) => (t: string) => {
    const lines = t.split('\n');
    const i = a % lines.length;
    const j = b % lines.length;
    if (op === 'swap') [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    else if (op === 'dup') lines.splice(i, 0, lines[i]!);
    else lines.splice(i, 1);
    return lines.join('\n');
  }),
  // change the type of a value
  fc.tuple(fc.nat(), fc.constantFrom(...OTHER_VALUES)).map(([i, v]) => (t: string) => {
    const lines = t.split('\n');
    const cands = lines.map((l, k) => (/:\s+\S/.test(l) ? k : -1)).filter((k) => k >= 0);
    if (!cands.length) return t;
    const k = cands[i % cands.length]!;
    lines[k] = lines[k]!.replace(/(:\s+)(.*)$/, (_m, sep: string) => `${sep}${v}`);
    return lines.join('\n');
  }),
  // inject an unknown (or duplicate, or prototype) key at some line's indentation
  fc.tuple(fc.nat(), fc.constantFrom(...UNKNOWN_KEYS), fc.constantFrom(...OTHER_VALUES.slice(0, 12))).map(([i, k, v]) => (t: string) => {
    const lines = t.split('\n');
    const n = i % lines.length;
    const indent = /^\s*(- )?/.exec(lines[n]!)![0].replace('- ', '  ');
    lines.splice(n + 1, 0, `${indent}${k}: ${v}`);
    return lines.join('\n');
  }),
  // anchors and aliases: an anchor on one value, aliases elsewhere (and a merge key)
  fc.tuple(fc.nat(), fc.nat(), fc.boolean()).map(([a, b, merge]) => (t: string) => {
    const lines = t.split('\n');
    const cands = lines.map((l, k) => (/:\s+\S/.test(l) ? k : -1)).filter((k) => k >= 0);
    if (cands.length < 2) return t;
    const x = cands[a % cands.length]!;
    const y = cands[b % cands.length]!;
    lines[x] = lines[x]!.replace(/(:\s+)/, '$1&anc ');
    lines[y] = merge ? lines[y]!.replace(/^(\s*)(- )?[^:]+:\s+.*$/, '$1$2<<: *anc') : lines[y]!.replace(/(:\s+).*$/, '$1*anc');
    return lines.join('\n');
  }),
  // deep nesting (flow and block)
  fc.tuple(fc.nat(), fc.integer({ min: 10, max: 1500 }), fc.boolean()).map(([i, d, flow]) => (t: string) => {
    const lines = t.split('\n');
    const deep = flow ? `deep: ${'['.repeat(d)}1${']'.repeat(d)}` : `deep:\n${Array.from({ length: Math.min(d, 400) }, (_, k) => `${'  '.repeat(k + 1)}k:`).join('\n')} 1`;
    lines.splice(i % lines.length, 0, deep);
    return lines.join('\n');
  }),
  // a huge string value
  fc.tuple(fc.nat(), fc.integer({ min: 1000, max: 100_000 }), fc.constantFrom('x', 'é', '🚀', '\\n', "'")).map(([i, n, c]) => (t: string) => {
    const lines = t.split('\n');
    const cands = lines.map((l, k) => (/:\s+\S/.test(l) ? k : -1)).filter((k) => k >= 0);
    if (!cands.length) return `${t}\nhuge: "${c.repeat(n)}"`;
    const k = cands[i % cands.length]!;
    lines[k] = lines[k]!.replace(/(:\s+).*$/, `$1"${c.repeat(n)}"`);
    return lines.join('\n');
  }),
  // binary bytes, decoded as UTF-8 (invalid sequences become U+FFFD) or Latin-1
  fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.boolean()).map(([i, bytes, utf8]) => (t: string) => {
    const p = at(i, t.length);
    return t.slice(0, p) + Buffer.from(bytes).toString(utf8 ? 'utf8' : 'latin1') + t.slice(p);
  }),
  // whole-document oddities
  fc.constantFrom<Mutation>(
    () => '',
    () => '   \n\t\n',
    () => '---',
    () => '...',
    () => '~',
    () => '[]',
    () => '- a\n- b',
    () => '"just a string"',
    () => '\uFEFF',
    (t) => '\uFEFF' + t,
    (t) => t.replaceAll('\n', '\r\n'),
    (t) => t.replaceAll('  ', '\t'),
    (t) => `${t}\n---\n${t}`,
    (t) => `%YAML 1.1\n---\n${t}`,
    (t) => `%YAML 9.9\n---\n${t}`,
    (t) => t.slice(0, Math.floor(t.length / 2)),
    () => `a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n`,
    () => `a: &a\n  b: *a\n`,
    () => `__proto__: { polluted: true }\nname: x\n`,
    (t) => t.replace(/^name: .*$/m, 'name: !!js/function "function(){}"'),
  ),
);

interface Failure {
  text: string;
  error: unknown;
}

/**
 * Parse; return the unexpected problem, if any. `ok`: a plan; `first`: the first issue of a
 * well-formed PlanError.
 */
async function judge(text: string, file: string): Promise<{ problem?: string; ok?: boolean; first?: string }> {
  const problem = (p: string) => ({ problem: p });
  let err: unknown;
  try {
    await parsePlanText(text, join(ROOT, 'plans', file), file, { env: ENV });
    return { ok: true };
  } catch (e) {
    err = e;
  }
  if (!(err instanceof PlanError)) return problem(`threw ${(err as Error)?.constructor?.name ?? typeof err}: ${(err as Error)?.stack ?? String(err)}`);
  if (!err.message) return problem('PlanError without a message');
  if (!err.issues.length) return problem(`PlanError without issues: ${err.message}`);
  if (!err.issues.some((i) => i.severity === 'error')) return problem(`PlanError with no error-severity issue: ${err.message}`);
  const lines = text.split(/\r\n|\r|\n/).length;
  for (const i of err.issues) {
    if (typeof i.message !== 'string' || !i.message.trim()) return problem(`issue without a message: ${JSON.stringify(i)}`);
    if (i.line !== undefined || i.col !== undefined) {
      if (!Number.isInteger(i.line) || !Number.isInteger(i.col) || i.line! < 1 || i.col! < 1 || i.line! > lines + 1) return problem(`issue with a bad position (${lines} lines): ${JSON.stringify(i).slice(0, 300)}`);
    }
    // Issues about a place in the document (a path) point at it.
    if (i.path && i.line === undefined) return problem(`issue at "${i.path}" without line:col: ${i.message.slice(0, 200)}`);
  }
  return { first: err.issues[0]!.message };
}

describe('plan fuzzing (in-process)', () => {
  it('mutated plans load or fail with PlanError issues that have a message and line:col', async () => {
    const t0 = Date.now();
    let cases = 0;
    let valid = 0;
    const failures: Failure[] = [];
    const byFirst = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...SEEDS), fc.array(mutation, { minLength: 1, maxLength: 4 }), async ([file, seed], muts) => {
        const text = muts.reduce((t, m) => m(t), seed);
        cases++;
        const r = await judge(text, file);
        if (r.problem === undefined) {
          if (r.ok) valid++;
          else {
            const k = r.first!.replace(/"[^"]*"/g, '"…"').slice(0, 60);
            byFirst.set(k, (byFirst.get(k) ?? 0) + 1);
          }
          return true;
        }
        failures.push({ text: text.slice(0, 2000), error: r.problem });
        return false;
      }),
      { numRuns: 3000, seed: Number(process.env.FUZZ_SEED ?? 20261125), endOnFailure: true },
    );
    expect(failures).toEqual([]);
    const top = [...byFirst.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5);
    console.log(`[fuzz] ${cases} mutated plans in ${Date.now() - t0} ms: ${valid} still valid, ${cases - valid} PlanError; top issues ${JSON.stringify(top)}`);
  }, 300_000);

  it('the seeds themselves are valid', async () => {
    for (const [file, text] of SEEDS) await expect(parsePlanText(text, join(ROOT, 'plans', file), file, { env: ENV })).resolves.toBeTruthy();
  });

  it('loadPlan: binary, oversized, empty and directory inputs are PlanErrors', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const cases: Array<[string, string | Buffer]> = [
        ['nul.yaml', Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0x00, 0x01, 0xff])],
        ['huge.yaml', `name: x\ndescription: "${'x'.repeat(1024 * 1024 + 10)}"\n`],
        ['empty.yaml', ''],
        ['invalid-utf8.yaml', Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xc3, 0x28, 0xa0, 0xa1, 0x0a])],
      ];
      for (const [name, content] of cases) {
        const f = join(dir, name);
        await writeFile(f, content);
        const err = await loadPlan(f, { env: ENV }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, name).toBeInstanceOf(PlanError);
        expect((err as PlanError).issues[0]!.message, name).toBeTruthy();
      }
      await expect(loadPlan(dir)).rejects.toBeInstanceOf(PlanError);
      await expect(loadPlan(join(dir, 'missing.yaml'))).rejects.toBeInstanceOf(PlanError);
    } finally {
      await cleanup();
    }
  });
});

describe('plan fuzzing (CLI)', () => {
  it('broken plans exit 2 naming the file, without a stack trace', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const samples = fc.sample(
        fc.tuple(fc.constantFrom(...SEEDS), fc.array(mutation, { minLength: 2, maxLength: 4 })).map(([[, seed], muts]) => muts.reduce((t, m) => m(t), seed)),
        { numRuns: 200, seed: 7 },
      );
      // Keep mutants that are invalid (in-process), up to 8, plus a few fixed nasty ones.
      const broken: string[] = [];
      for (const text of samples) {
        if (broken.length >= 8) break;
        if (text.length > 200_000) continue;
        const ok = await parsePlanText(text, join(dir, 'x.yaml'), 'x.yaml', { env: ENV }).then(
          () => true,
          () => false,
        );
        if (!ok) broken.push(text);
      }
      broken.push('name: x\nphases: [\n', '\u0000\u0001binary', `a: ${'['.repeat(5000)}`, 'a: &a\n  b: *a\n');
      for (const [i, text] of broken.entries()) {
        const f = await write(dir, `mutant-${i}.yaml`, text);
        for (const cmd of i % 2 ? ['validate'] : ['start']) {
          const r = await cli([cmd, f], { cwd: dir, env: ENV });
          const where = `${cmd} mutant-${i}.yaml: ${r.stderr.slice(0, 400)}\n--- plan ---\n${text.slice(0, 600)}`;
          expect(r.code, where).toBe(2);
          expect(r.stderr, where).toContain(`mutant-${i}.yaml`);
          expect(r.stderr, where).not.toMatch(/^\s{4}at /m);
          expect(r.stderr, where).not.toMatch(/internal error/);
        }
      }
      // `start` of a broken plan creates no run.
      expect(await readdir(join(dir, '.rollout', 'runs')).catch(() => [])).toEqual([]);
      console.log(`[fuzz] CLI: ${broken.length} broken plans through start/validate: exit 2, file named, no stack`);
    } finally {
      await cleanup();
    }
  }, 120_000);
});

describe('a corrupt or truncated state.json', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
  });
  afterEach(async () => cleanup());

  async function runFile(): Promise<{ file: string; text: string; id: string }> {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '1h' }));
    expect((await cli(['advance', f], { cwd: dir })).code).toBe(6);
    const [id] = await readdir(join(dir, '.rollout/runs'));
    const file = join(dir, '.rollout/runs', id!, 'state.json');
    return { file, text: await readFile(file, 'utf8'), id: id! };
  }

  const corruptions: Array<[string, (t: string) => string | Buffer]> = [
    ['truncated', (t) => t.slice(0, Math.floor(t.length / 2))],
    ['empty', () => ''],
    ['binary garbage', () => Buffer.from([0x00, 0xff, 0xfe, 0x7b, 0x01])],
    ['valid JSON, wrong shape', () => '[1, 2, 3]\n'],
    // The header a quick check accepted (schema, id, status) over a body that crashed commands
    // ("Cannot read properties of undefined") or was taken for run "x" ("no run x").
    ['right header, wrong body', () => '{"schema":1,"id":"x","status":"running","flags":5}\n'],
    ['its own id, flags of the wrong type', (t) => JSON.stringify({ ...(JSON.parse(t) as object), flags: 5 })],
    ['a newer schema version', (t) => t.replace(`"schema": ${STATE_SCHEMA_VERSION}`, '"schema": 99')],
    ['null', () => 'null\n'],
  ];

  for (const [name, corrupt] of corruptions) {
    it(`${name}: status, status <run>, log and resume report it (exit 8, file named, hint) and leave the file alone`, async () => {
      const { file, id } = await runFile();
      const bad = corrupt(await readFile(file, 'utf8'));
      await writeFile(file, bad);
      const before = await readFile(file);
      // The run is created by a real process (above), so its locks name a dead pid as in real
      // use; the commands that meet the broken file run in-process (main() without a node start).
      for (const args of [['status', id], ['status', id, '--json'], ['log', id], ['resume', id], ['advance', id]]) {
        const r = await run(args, { cwd: dir });
        const out = r.stderr + r.stdout;
        const where = `${args.join(' ')}: exit ${r.code}: ${out.slice(0, 500)}`;
        expect(r.code, where).toBe(8);
        expect(out, where).toContain(file);
        expect(out, where).toMatch(/hint|Inspect|move/i);
        expect(out, where).not.toMatch(/^\s{4}at /m);
      }
      // Plain `status`, `status --json` and `log` (no run named): the only run is the broken one.
      for (const args of [['status'], ['status', '--json'], ['log']]) {
        const r = await run(args, { cwd: dir });
        const where = `${args.join(' ')}: exit ${r.code}: ${(r.stderr + r.stdout).slice(0, 500)}`;
        expect(r.code, where).toBe(8);
        expect(r.stderr + r.stdout, where).toContain(file);
      }
      // A new run of the same plan does not take the flags of a run it cannot read.
      const again = await run(['start', join(dir, 'plan.yaml')], { cwd: dir });
      expect(again.code, again.stderr).toBe(5);
      expect(again.stderr).toContain(`whose state cannot be read`);
      expect(again.stderr).toContain(file);
      expect(again.stderr).toMatch(/--takeover/);
      expect(await readdir(join(dir, '.rollout/runs'))).toEqual([id]);
      expect(await readFile(file)).toEqual(before);
    }, 60_000);
  }
});
