/**
 * command metrics provider: real child processes (node itself and small scripts in a temp
 * directory), argv only, no shell. Timeouts are real but short (a child process cannot run on a
 * fake clock).
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendError, UsageError } from '../../src/errors.js';
import { create, options, parseJsonOutput, parseOutput } from '../../src/adapters/metrics/command.js';
import type { AdapterContext } from '../../src/adapters/types.js';
import { registerSecret } from '../../src/util/redact.js';

const NODE = process.execPath;
const NOW = 1_700_000_000_000;
let dir: string;
let ctx: AdapterContext;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'rollout-cmd-metrics-'));
  ctx = { baseDir: dir, cwd: process.cwd(), log: () => {}, env: { ...process.env } };
  // Writes its argv (after the script) and the ROLLOUT_* environment to seen.json next to it,
  // and prints the number of arguments.
  await writeFile(
    path.join(dir, 'args.js'),
    `const a = process.argv.slice(2);
require('node:fs').writeFileSync(require('node:path').join(__dirname, 'seen.json'), JSON.stringify({ argv: a, q: process.env.ROLLOUT_QUERY, now: process.env.ROLLOUT_NOW, win: process.env.ROLLOUT_WINDOW_MS ?? null }));
console.log(a.length);
`,
  );
  await writeFile(path.join(dir, 'metric.sh'), '#!/bin/sh\necho "computing..."\necho 0.042\n');
  await chmod(path.join(dir, 'metric.sh'), 0o755);
  await writeFile(path.join(dir, 'marker'), 'x');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const seen = async () => JSON.parse(await readFile(path.join(dir, 'seen.json'), 'utf8')) as Record<string, unknown>;
const js = (code: string, extra: Record<string, unknown> = {}) => create({ argv: [NODE, '-e', code], ...extra }, ctx);
const q = (query = 'error-rate') => ({ query, now: NOW });
const fail = (p: Promise<unknown>) => p.then(() => expect.fail('expected an error'), (e: unknown) => e as BackendError);

describe('parseOutput', () => {
  it.each([
    ['0.5', { value: 0.5 }],
    ['0\n', { value: 0 }],
    ['  -3  ', { value: -3 }],
    ['1e-3', { value: 0.001 }],
    ['log line\nanother\n12\n\n', { value: 12 }],
    ['', { reason: 'command printed nothing' }],
    ['\n \n', { reason: 'command printed nothing' }],
    ['NaN', { reason: 'command printed NaN' }],
    ['null', { reason: 'command printed null' }],
    ['None', { reason: 'command printed None' }],
    ['-Inf', { reason: 'command printed -Inf' }],
    ['12 ms', { garbage: '12 ms' }],
    ['0.5\nerror: boom', { garbage: 'error: boom' }],
  ])('%j → %j', (out, want) => expect(parseOutput(out)).toEqual(want));
});

describe('parseJsonOutput', () => {
  it.each([
    ['{"a":{"b":2}}', '$.a.b', { value: 2 }],
    ['{"a":0}', '$.a', { value: 0 }],
    ['0', '$', { value: 0 }],
    ['{"a":"0.3"}', '$.a', { value: 0.3 }],
    ['', '$.a', { reason: 'command printed nothing' }],
    ['{"a":1}', '$.b', { reason: 'path $.b not found in the output' }],
    ['{"a":null}', '$.a', { reason: '$.a: value is null' }],
  ])('%j at %s → %j', (out, p, want) => expect(parseJsonOutput(out, p)).toEqual(want));

  it('garbage, several matches and cut output are problems', () => {
    expect(parseJsonOutput('oops', '$.a')).toMatchObject({ problem: expect.stringMatching(/not JSON/) });
    expect(parseJsonOutput('{"a":[{"x":1},{"x":2}]}', '$..x')).toMatchObject({ problem: expect.stringMatching(/matched 2 values/) });
    expect(parseJsonOutput('…"x":1}', '$.x')).toMatchObject({ problem: expect.stringMatching(/4 KiB/) });
  });
});

describe('command provider', () => {
  it('a printed number is the value; zero is zero', async () => {
    expect(await js('console.log(0.012)').query(q())).toEqual({ value: 0.012, at: NOW });
    expect(await js('console.log(0)').query(q())).toEqual({ value: 0, at: NOW });
  });

  it('empty output is no data, never zero', async () => {
    expect(await js('').query(q())).toEqual({ value: null, at: NOW, note: 'command printed nothing' });
    expect(await js('console.log("NaN")').query(q())).toEqual({ value: null, at: NOW, note: 'command printed NaN' });
  });

  it('output that is not a number → BackendError with a hint', async () => {
    const e = await fail(js('console.log("error rate: high")').query(q()));
    expect(e).toBeInstanceOf(BackendError);
    expect(e.message).toMatch(/output is not a number: last line "error rate: high"/);
    expect(e.hint).toMatch(/print a number/);
  });

  it('non-zero exit → BackendError with the stderr tail (redacted)', async () => {
    registerSecret('cmd-secret-5c6d7e8f');
    const e = await fail(js('console.error("x".repeat(2000) + " auth failed with cmd-secret-5c6d7e8f"); process.exit(3)').query(q()));
    expect(e).toBeInstanceOf(BackendError);
    expect(e.message).toMatch(/exit 3/);
    expect(e.message).toMatch(/auth failed with \*\*\*$/);
    expect(e.message).not.toContain('cmd-secret-5c6d7e8f');
    expect(e.message.length).toBeLessThan(800); // a tail, not the whole stderr
    expect(e.retryable).toBe(false);
  });

  it('non-zero exit without stderr shows the stdout tail', async () => {
    const e = await fail(js('console.log("no such service"); process.exit(2)').query(q()));
    expect(e.message).toMatch(/exit 2 .*: no such service/);
  });

  it('a value printed before a failing exit is not used', async () => {
    await expect(js('console.log(0.1); process.exit(1)').query(q())).rejects.toBeInstanceOf(BackendError);
  });

  it('timeoutMs kills a hung program → retryable BackendError', async () => {
    const t0 = Date.now();
    const e = await fail(js('setTimeout(() => {}, 60000)', { timeoutMs: 200 }).query(q()));
    expect(e).toBeInstanceOf(BackendError);
    expect(e.message).toMatch(/timed out after 200 ms/);
    expect(e.retryable).toBe(true);
    expect(e.hint).toMatch(/timeoutMs \(200 ms\)/);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a missing program → BackendError with a hint', async () => {
    const e = await fail(create({ argv: ['./does-not-exist.sh'] }, ctx).query(q()));
    expect(e).toBeInstanceOf(BackendError);
    expect(e.message).toMatch(/not found/);
    expect(e.hint).toMatch(/relative paths resolve against the plan directory/);
  });

  it('argv option: the check query reaches the program only as ROLLOUT_QUERY, with NOW and WINDOW_MS', async () => {
    const p = create({ argv: [NODE, path.join(dir, 'args.js'), '--service', 'checkout'] }, ctx);
    expect(p.name).toBe(`command (${NODE})`);
    const query = 'x; rm -rf / $(whoami)';
    expect(await p.query({ query, now: NOW, windowMs: 300_000 })).toEqual({ value: 2, at: NOW });
    expect(await seen()).toEqual({ argv: ['--service', 'checkout'], q: query, now: String(NOW), win: '300000' });
    await p.query({ query, now: NOW });
    expect((await seen()).win).toBeNull();
  });

  it('without argv, the query is split on whitespace: no shell, no globbing, no $VARS', async () => {
    const p = create({}, ctx);
    expect(p.name).toBe('command');
    // a;b, $HOME, * and the quotes arrive as literal arguments.
    const query = `${NODE} ${path.join(dir, 'args.js')} a;b $HOME * "quoted words"`;
    expect((await p.query(q(query))).value).toBe(5);
    expect(await seen()).toMatchObject({ argv: ['a;b', '$HOME', '*', '"quoted', 'words"'], q: query });
    expect((await p.query(q(`${NODE} ${path.join(dir, 'args.js')}`))).value).toBe(0);
  });

  it('without argv and with an empty query → UsageError', async () => {
    await expect(create({}, ctx).query(q('   '))).rejects.toBeInstanceOf(UsageError);
  });

  it('./relative programs resolve against the plan directory (baseDir), not the process cwd', async () => {
    expect(await create({ argv: ['./metric.sh'] }, ctx).query(q())).toEqual({ value: 0.042, at: NOW });
    expect(await create({}, ctx).query(q('./metric.sh checkout'))).toEqual({ value: 0.042, at: NOW });
  });

  it('cwd option resolves against the plan directory', async () => {
    const probe = 'console.log(require("node:fs").existsSync("marker") ? 1 : 0)';
    expect((await js(probe, { cwd: '.' }).query(q())).value).toBe(1);
    expect((await js(probe).query(q())).value).toBe(0); // default: ctx.cwd (the repo), no marker there
  });

  it('JSON output with a path', async () => {
    const out = (doc: unknown) => `console.log(${JSON.stringify(JSON.stringify(doc))})`;
    expect(await js(out({ domain_adapter_errors: 4 }), { path: '.domain_adapter_errors' }).query(q())).toEqual({ value: 4, at: NOW });
    expect(await js(out({ a: { b: [1, 0] } }), { path: '$.a.b[1]' }).query(q())).toEqual({ value: 0, at: NOW });
    expect(await js(out({ a: 1 }), { path: '.missing' }).query(q())).toEqual({ value: null, at: NOW, note: 'path $.missing not found in the output' });
    expect(await js('', { path: '.a' }).query(q())).toEqual({ value: null, at: NOW, note: 'command printed nothing' });
    const e = await fail(js('console.log("not json")', { path: '.a' }).query(q()));
    expect(e).toBeInstanceOf(BackendError);
    expect(e.message).toMatch(/not JSON/);
  });

  it('JSON output longer than the 4 KiB capture is refused clearly, not misparsed', async () => {
    const e = await fail(js(`console.log(JSON.stringify({ pad: "x".repeat(6000), a: 1 }))`, { path: '.a' }).query(q()));
    expect(e.message).toMatch(/longer than 4 KiB/);
  });

  it('a jq pipe in options.path fails at create time', () => {
    expect(() => create({ argv: ['x'], path: '.a | length' }, ctx)).toThrow(UsageError);
  });

  it('options are strict', () => {
    expect(options.safeParse({ argv: ['x'] }).success).toBe(true);
    expect(options.safeParse({ argv: [] }).success).toBe(false);
    expect(options.safeParse({ argv: 'x --y' }).success).toBe(false);
    expect(options.safeParse({ shell: true }).success).toBe(false);
    expect(options.safeParse({ timeoutMs: -1 }).success).toBe(false);
    expect(options.parse({})).toEqual({ timeoutMs: 30_000 });
  });
});
