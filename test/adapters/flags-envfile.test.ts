import { mkdir, mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { create, options, parseEnvLine, flagToVarStem } from '../../src/adapters/flags/env-file.js';
import type { AdapterContext, FlagBackend } from '../../src/adapters/types.js';
import { BackendError, UsageError } from '../../src/errors.js';
import { flagBackendContract } from './flag-contract.js';

const logs: string[] = [];
const ctxFor = (dir: string): AdapterContext => ({ baseDir: dir, cwd: dir, log: (m) => logs.push(m), env: process.env });

flagBackendContract(
  'env-file',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rollout-envfile-'));
    return { dir, backend: create({ path: '.env' }, ctxFor(dir)), cleanup: () => rm(dir, { recursive: true, force: true }) };
  },
  {
    decimals: true,
    users: true,
    failure: async (inst) => {
      // the path turns into a directory: reading and writing both fail, naming the file
      const p = join(inst.dir, '.env');
      await rm(p, { force: true, recursive: true });
      await mkdir(p, { recursive: true });
      return { message: /EISDIR|illegal operation on a directory/ };
    },
  },
);

const SEED_000 = `# Domain layer rollout (seed 000)
# Immediate rollback: DOMAIN_ADAPTERS_ENABLED=false
export DOMAIN_ADAPTERS_ENABLED=true
LOG_LEVEL=DEBUG

DOMAIN_ROLLOUT_PERCENTAGE="1"   # Day 1-2: 1% of traffic
DOMAIN_ENABLED_USERS=
DATABASE_URL=postgres://app@db/app
`;

describe('env-file flag backend', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollout-envfile-'));
    file = join(dir, '.env');
    logs.length = 0;
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const seed000 = (extra: Record<string, unknown> = {}): FlagBackend =>
    create(
      {
        path: '.env',
        decimals: 0,
        flags: { domain: { enabledVar: 'DOMAIN_ADAPTERS_ENABLED', percentVar: 'DOMAIN_ROLLOUT_PERCENTAGE', usersVar: 'DOMAIN_ENABLED_USERS' } },
        ...extra,
      },
      ctxFor(dir),
    );

  it('validates options strictly', () => {
    expect(() => options.parse({ path: '.env', bogus: true })).toThrow();
    expect(() => options.parse({ path: '.env', flags: { x: { percentVar: 'has space' } } })).toThrow();
    expect(() => options.parse({ path: '.env', naming: { enabled: 'NO_PLACEHOLDER' } })).toThrow(/\{FLAG\}/);
    const o = options.parse({ path: '.env' });
    expect(o.naming).toEqual({ enabled: '{FLAG}_ENABLED', percentage: '{FLAG}_ROLLOUT_PERCENTAGE', users: '{FLAG}_ENABLED_USERS' });
    expect(o.enabledValues).toEqual({ on: 'true', off: 'false' });
    expect(() => create({ path: '.env', flags: { x: { enabledVar: null, percentVar: null } } }, ctxFor('/tmp'))).toThrow(UsageError);
  });

  it('derives variable names from the flag name', () => {
    expect(flagToVarStem('checkout-v2')).toBe('CHECKOUT_V2');
    expect(flagToVarStem('use_state_persistence')).toBe('USE_STATE_PERSISTENCE');
    expect(flagToVarStem('a.b--c')).toBe('A_B_C');
  });

  it('parses dotenv lines keeping everything around the value', () => {
    expect(parseEnvLine('export A = "x y" # note')).toEqual({ key: 'A', prefix: 'export A = ', quote: '"', value: 'x y', suffix: ' # note' });
    expect(parseEnvLine("B='1'")).toMatchObject({ key: 'B', quote: "'", value: '1', suffix: '' });
    expect(parseEnvLine('C=5   # five')).toMatchObject({ value: '5', suffix: '   # five' });
    expect(parseEnvLine('D=a#b')).toMatchObject({ value: 'a#b' });
    expect(parseEnvLine('# E=1')).toBeUndefined();
    expect(parseEnvLine('F="open')).toBe('unterminated');
  });

  it("drives seed 000's variables, rewriting only their lines", async () => {
    await writeFile(file, SEED_000);
    const b = seed000();
    expect(await b.read('domain')).toMatchObject({ exists: true, enabled: true, percentage: 1 });
    await b.apply({ flag: 'domain', enabled: true, percentage: 5 });
    expect(await readFile(file, 'utf8')).toBe(SEED_000.replace('DOMAIN_ROLLOUT_PERCENTAGE="1"', 'DOMAIN_ROLLOUT_PERCENTAGE="5"'));
    await b.apply({ flag: 'domain', enabled: true, percentage: 10, users: ['u1', 'u2'] });
    expect(await readFile(file, 'utf8')).toBe(
      SEED_000.replace('DOMAIN_ROLLOUT_PERCENTAGE="1"', 'DOMAIN_ROLLOUT_PERCENTAGE="10"').replace('DOMAIN_ENABLED_USERS=\n', 'DOMAIN_ENABLED_USERS=u1,u2\n'),
    );
    expect(await b.read('domain')).toEqual({ flag: 'domain', exists: true, enabled: true, percentage: 10, users: ['u1', 'u2'] });
    // immediate rollback: both switches off
    await b.apply({ flag: 'domain', enabled: false });
    const text = await readFile(file, 'utf8');
    expect(text).toContain('export DOMAIN_ADAPTERS_ENABLED=false\n');
    expect(text).toContain('DOMAIN_ROLLOUT_PERCENTAGE="0"   # Day 1-2: 1% of traffic\n');
    expect(text).toContain('# Immediate rollback: DOMAIN_ADAPTERS_ENABLED=false\n'); // comments untouched
    expect(text).toContain('DATABASE_URL=postgres://app@db/app\n');
  });

  it('rounds to whole percentages with decimals: 0 (seed 000 parses an int) and says so', async () => {
    await writeFile(file, SEED_000);
    await seed000().apply({ flag: 'domain', enabled: true, percentage: 12.5 });
    expect(await readFile(file, 'utf8')).toContain('DOMAIN_ROLLOUT_PERCENTAGE="13"');
    expect(logs.join('\n')).toMatch(/12\.5% rounded to 13%/);
  });

  it('appends variables that are missing, with default names', async () => {
    await writeFile(file, 'OTHER=1');
    const b = create({ path: '.env' }, ctxFor(dir));
    await b.apply({ flag: 'checkout-v2', enabled: true, percentage: 25 });
    expect(await readFile(file, 'utf8')).toBe('OTHER=1\nCHECKOUT_V2_ENABLED=true\nCHECKOUT_V2_ROLLOUT_PERCENTAGE=25\n');
  });

  it('creates a missing file (and directory) with mode 0600', async () => {
    const b = create({ path: 'deploy/app.env' }, ctxFor(dir));
    await b.apply({ flag: 'f', enabled: true, percentage: 1 });
    const p = join(dir, 'deploy/app.env');
    expect(await readFile(p, 'utf8')).toBe('F_ENABLED=true\nF_ROLLOUT_PERCENTAGE=1\n');
    expect((await stat(p)).mode & 0o777).toBe(0o600);
  });

  it('keeps CRLF line endings, quotes, export and every occurrence in sync', async () => {
    await writeFile(file, "export F_ENABLED='false'\r\nF_ROLLOUT_PERCENTAGE=0\r\n# again\r\nF_ROLLOUT_PERCENTAGE = 0 # last wins\r\n");
    const b = create({ path: '.env' }, ctxFor(dir));
    await b.apply({ flag: 'f', enabled: true, percentage: 50, users: ['a b'] });
    expect(await readFile(file, 'utf8')).toBe(
      "export F_ENABLED='true'\r\nF_ROLLOUT_PERCENTAGE=50\r\n# again\r\nF_ROLLOUT_PERCENTAGE = 50 # last wins\r\nF_ENABLED_USERS=\"a b\"\r\n",
    );
    expect(await b.read('f')).toMatchObject({ enabled: true, percentage: 50, users: ['a b'] });
  });

  it('does not rewrite the file when nothing changes, and keeps its mode', async () => {
    await writeFile(file, SEED_000);
    await chmod(file, 0o640);
    const b = seed000();
    await b.apply({ flag: 'domain', enabled: true, percentage: 25 });
    const s1 = await stat(file);
    expect(s1.mode & 0o777).toBe(0o640);
    await b.apply({ flag: 'domain', enabled: true, percentage: 25 });
    const s2 = await stat(file);
    expect(s2.ino).toBe(s1.ino);
    expect(s2.mtimeMs).toBe(s1.mtimeMs);
  });

  it('percentage-only flags: the percentage is the switch', async () => {
    await writeFile(file, 'DOMAIN_ROLLOUT_PERCENTAGE=0\n');
    const b = create({ path: '.env', flags: { domain: { enabledVar: null, percentVar: 'DOMAIN_ROLLOUT_PERCENTAGE' } } }, ctxFor(dir));
    expect(await b.read('domain')).toMatchObject({ exists: true, enabled: false, percentage: 0 });
    await b.apply({ flag: 'domain', enabled: true, percentage: 30 });
    expect(await b.read('domain')).toMatchObject({ enabled: true, percentage: 30 });
    await b.apply({ flag: 'domain', enabled: false });
    expect(await readFile(file, 'utf8')).toBe('DOMAIN_ROLLOUT_PERCENTAGE=0\n');
    expect(await b.read('domain')).toMatchObject({ enabled: false, percentage: 0 });
  });

  it('switch-only flags refuse partial percentages', async () => {
    const b = create({ path: '.env', flags: { x: { percentVar: null } } }, ctxFor(dir));
    await expect(b.apply({ flag: 'x', enabled: true, percentage: 40 })).rejects.toThrow(/only 0 or 100/);
    await b.apply({ flag: 'x', enabled: true });
    expect(await b.read('x')).toMatchObject({ enabled: true, percentage: 100 });
  });

  it('reports unreadable values with the line, and refuses user ids with commas', async () => {
    await writeFile(file, '# x\nF_ENABLED=maybe\n');
    const b = create({ path: '.env' }, ctxFor(dir));
    const err = (await b.read('f').catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toBe(`${b.name}: line 2: F_ENABLED=maybe is neither true nor false`);
    await writeFile(file, 'F_ROLLOUT_PERCENTAGE=150\n');
    await expect(b.read('f')).rejects.toThrow(/line 1: F_ROLLOUT_PERCENTAGE=150 is not a percentage/);
    await expect(b.apply({ flag: 'f', enabled: true, users: ['a,b'] })).rejects.toThrow(UsageError);
  });

  it('runs the reload command after a write only, with the change in its environment', async () => {
    const out = join(dir, 'reloads.log');
    const script = `require('fs').appendFileSync(${JSON.stringify(out)}, [process.env.ROLLOUT_FLAG, process.env.ROLLOUT_ENABLED, process.env.ROLLOUT_PERCENTAGE, process.env.ROLLOUT_ENV_FILE].join(' ') + '\\n')`;
    const b = create({ path: '.env', reload: [process.execPath, '-e', script], reloadTimeoutMs: 10_000 }, ctxFor(dir));
    await b.apply({ flag: 'f', enabled: true, percentage: 5 });
    await b.apply({ flag: 'f', enabled: true, percentage: 5 }); // no change → no reload
    await b.apply({ flag: 'f', enabled: false });
    expect(await readFile(out, 'utf8')).toBe(`f true 5 ${file}\nf false 0 ${file}\n`);
  });

  it('a failing reload fails the apply with its stderr, and is retried by the next apply', async () => {
    const flagFile = join(dir, 'fail');
    await writeFile(flagFile, '1');
    const script = `const fs=require('fs'); if (fs.existsSync(${JSON.stringify(flagFile)})) { console.error('compose: service app not found'); process.exit(3) } fs.writeFileSync(${JSON.stringify(join(dir, 'ok'))}, 'y')`;
    const b = create({ path: '.env', reload: [process.execPath, '-e', script], reloadTimeoutMs: 10_000 }, ctxFor(dir));
    const err = (await b.apply({ flag: 'f', enabled: true, percentage: 5 }).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toContain(b.name);
    expect(err.message).toMatch(/exit 3/);
    expect(err.message).toContain('compose: service app not found');
    expect(await b.read('f')).toMatchObject({ enabled: true, percentage: 5 }); // the file was written
    await rm(flagFile);
    await b.apply({ flag: 'f', enabled: true, percentage: 5 }); // unchanged file, but the reload is pending
    expect(await readFile(join(dir, 'ok'), 'utf8')).toBe('y');
  });

  it('serialises concurrent writes to one file', async () => {
    const b = create({ path: '.env' }, ctxFor(dir));
    const flags = Array.from({ length: 12 }, (_, i) => `flag-${i}`);
    await Promise.all(flags.map((f, i) => b.apply({ flag: f, enabled: true, percentage: i })));
    for (const [i, f] of flags.entries()) expect(await b.read(f)).toMatchObject({ enabled: true, percentage: i });
  });
});
