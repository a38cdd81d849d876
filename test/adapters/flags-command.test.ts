import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { create, options, parseReadOutput, substitute } from '../../src/adapters/flags/command.js';
import type { AdapterContext } from '../../src/adapters/types.js';
import { BackendError, UsageError } from '../../src/errors.js';
import { flagBackendContract } from './flag-contract.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const CLI = join(FIXTURES, 'flag-command.mjs');
const NODE = process.execPath;
const logs: string[] = [];
const ctxFor = (dir: string, baseDir = dir): AdapterContext => ({ baseDir, cwd: dir, log: (m) => logs.push(m), env: { ...process.env, ROLLOUT_STATE_DIR: join(dir, 'state') } });

const withRead = (dir: string, extra: Record<string, unknown> = {}) =>
  create(
    {
      apply: [NODE, CLI, join(dir, 'flags.json'), 'set', '{flag}', '{enabled}', '{percentage}', '{users}'],
      read: [NODE, CLI, join(dir, 'flags.json'), 'get', '{flag}'],
      timeoutMs: 10_000,
      ...extra,
    },
    ctxFor(dir),
  );
const recorded = (dir: string) => create({ apply: [NODE, CLI, join(dir, 'flags.json'), 'set', '{flag}', '{enabled}', '{percentage}'], timeoutMs: 10_000 }, ctxFor(dir));

async function tempDir() {
  const dir = await mkdtemp(join(tmpdir(), 'rollout-cmd-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

flagBackendContract(
  'command (with a read command)',
  async () => {
    const t = await tempDir();
    return { ...t, backend: withRead(t.dir) };
  },
  {
    decimals: true,
    users: true,
    failure: async (inst) => {
      await writeFile(join(inst.dir, 'flags.json.fail'), 'permission denied for project shop');
      return { message: /exit 4.*flagctl: permission denied for project shop/ };
    },
  },
);

flagBackendContract(
  'command (no read command: records what it applied)',
  async () => {
    const t = await tempDir();
    return { ...t, backend: recorded(t.dir) };
  },
  {
    decimals: true,
    users: true,
    failure: async (inst, call) => {
      if (call === 'read') return undefined; // reading the record cannot fail this way
      await writeFile(join(inst.dir, 'flags.json.fail'), 'flag service unreachable');
      return { message: 'flagctl: flag service unreachable' };
    },
  },
);

describe('command flag backend', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollout-cmd-'));
    logs.length = 0;
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('validates options: argv arrays, known placeholders only', () => {
    expect(() => options.parse({ apply: 'set-flag.sh {flag}' })).toThrow();
    expect(() => options.parse({ apply: ['x'], bogus: 1 })).toThrow();
    expect(() => options.parse({ apply: ['x', '{pct}'] })).toThrow(/unknown placeholder \{pct\}/);
    expect(() => options.parse({ apply: [''] })).toThrow(/empty/);
    expect(options.parse({ apply: ['x', '{"json": 1}', '--p={percentage}'] }).timeoutMs).toBe(30_000);
  });

  it('substitutes placeholders inside elements without ever splitting them', () => {
    expect(substitute(['set', '{flag}', '--pct={percentage}', '{x}'], { flag: 'a b; rm -rf /', percentage: '5' })).toEqual(['set', 'a b; rm -rf /', '--pct=5', '{x}']);
  });

  it('passes the change as argv and as ROLLOUT_* variables', async () => {
    const b = withRead(dir);
    const flag = 'odd name; $(touch pwned) `x` *';
    await b.apply({ flag, enabled: true, percentage: 12.5, users: ['alice', 'bob'] });
    const store = JSON.parse(await readFile(join(dir, 'flags.json'), 'utf8')) as Record<string, unknown>;
    expect(Object.keys(store)).toEqual([flag]);
    expect(store[flag]).toEqual({ enabled: true, percentage: 12.5, users: ['alice', 'bob'] });
    const env = JSON.parse(await readFile(join(dir, 'flags.json.env'), 'utf8')) as Record<string, string>;
    expect(env).toMatchObject({ ROLLOUT_FLAG: flag, ROLLOUT_ENABLED: 'true', ROLLOUT_PERCENTAGE: '12.5', ROLLOUT_USERS: 'alice,bob' });
    expect(JSON.parse(env.ROLLOUT_CHANGE!)).toEqual({ flag, enabled: true, percentage: 12.5, users: ['alice', 'bob'] });
    await b.apply({ flag, enabled: false });
    const env2 = JSON.parse(await readFile(join(dir, 'flags.json.env'), 'utf8')) as Record<string, string>;
    expect(env2).toMatchObject({ ROLLOUT_ENABLED: 'false', ROLLOUT_PERCENTAGE: '0' });
    expect(env2.ROLLOUT_USERS).toBeUndefined();
  });

  it('refuses flag names that could pass for options', async () => {
    await expect(withRead(dir).apply({ flag: '--delete-all', enabled: true })).rejects.toThrow(UsageError);
    await expect(withRead(dir).read('-x')).rejects.toThrow(/could pass for an option/);
  });

  it('fails with the exit status and stderr tail', async () => {
    const b = create({ apply: [NODE, CLI, join(dir, 'flags.json'), 'set', '{flag}', 'maybe', '{percentage}'] }, ctxFor(dir));
    const err = (await b.apply({ flag: 'f', enabled: true }).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toContain(b.name);
    expect(err.message).toMatch(/apply f: .* failed \(exit 2 in \d+ ms\): flagctl: bad enabled value maybe/);
    // nothing recorded when the command failed
    expect(await b.read('f')).toMatchObject({ exists: false });
  });

  it('times out a hung command', async () => {
    const b = create({ apply: [NODE, CLI, join(dir, 'flags.json'), 'sleep'], timeoutMs: 300 }, ctxFor(dir));
    const t0 = Date.now();
    const err = (await b.apply({ flag: 'f', enabled: true }).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toMatch(/timed out after 300 ms/);
    expect(err.hint).toMatch(/timeoutMs/);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it('says when the program does not exist', async () => {
    const b = create({ apply: [join(dir, 'no-such-program'), '{flag}'] }, ctxFor(dir));
    await expect(b.apply({ flag: 'f', enabled: true })).rejects.toThrow(/not found/);
  });

  it('resolves ./programs against the plan directory', async () => {
    const b = create({ apply: ['./flag-command.mjs', join(dir, 'flags.json'), 'set', '{flag}', '{enabled}', '{percentage}'] }, ctxFor(dir, FIXTURES));
    await b.apply({ flag: 'rel', enabled: true, percentage: 3 });
    expect(JSON.parse(await readFile(join(dir, 'flags.json'), 'utf8'))).toEqual({ rel: { enabled: true, percentage: 3 } });
  });

  it('reads a bare number as the percentage', async () => {
    const b = withRead(dir, { read: [NODE, CLI, join(dir, 'flags.json'), 'get', '{flag}', '--number'] });
    await b.apply({ flag: 'f', enabled: true, percentage: 40 });
    expect(await b.read('f')).toEqual({ flag: 'f', exists: true, enabled: true, percentage: 40 });
    await b.apply({ flag: 'f', enabled: false });
    expect(await b.read('f')).toEqual({ flag: 'f', exists: true, enabled: false, percentage: 0 });
    expect(await b.read('never')).toMatchObject({ exists: false });
  });

  it('rejects read output it cannot understand', async () => {
    const b = withRead(dir, { read: [NODE, CLI, join(dir, 'flags.json'), 'args', 'hello'] });
    await expect(b.read('f')).rejects.toThrow(/printed "\[\\"hello\\"\]"; expected JSON|printed JSON without/);
  });

  it('parses read output: JSON, numbers, log lines before the answer, absence', () => {
    expect(parseReadOutput('{"enabled": true, "percentage": 5}')).toEqual({ exists: true, enabled: true, percentage: 5 });
    expect(parseReadOutput('checking…\n{"enabled": false}')).toEqual({ exists: true, enabled: false, percentage: 0 });
    expect(parseReadOutput('{"percentage": 7}')).toEqual({ exists: true, enabled: true, percentage: 7 });
    expect(parseReadOutput('25\n')).toEqual({ exists: true, enabled: true, percentage: 25 });
    expect(parseReadOutput('')).toEqual({ exists: false });
    expect(parseReadOutput('null')).toEqual({ exists: false });
    expect(parseReadOutput('{"exists": false}')).toEqual({ exists: false });
    expect(() => parseReadOutput('150')).toThrow(/not a percentage/);
    expect(() => parseReadOutput('{"enabled": "yes"}')).toThrow(/not a boolean/);
    expect(() => parseReadOutput('on')).toThrow(/expected JSON/);
  });

  it('records applied states in the state directory when there is no read command', async () => {
    const b = recorded(dir);
    await b.apply({ flag: 'f', enabled: true, percentage: 15 });
    const rec = JSON.parse(await readFile(join(dir, 'state', 'command-flags.json'), 'utf8')) as Record<string, { percentage: number }>;
    expect(rec.f).toMatchObject({ enabled: true, percentage: 15 });
    // a second backend instance (a later process) reads the same record
    expect(await recorded(dir).read('f')).toMatchObject({ exists: true, enabled: true, percentage: 15 });
    // users: replaced when given, kept when a change has none
    await b.apply({ flag: 'f', enabled: true, percentage: 15, users: ['alice'] });
    await b.apply({ flag: 'f', enabled: true, percentage: 20 });
    expect(await b.read('f')).toMatchObject({ percentage: 20, users: ['alice'] });
  });
});
