import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { create, evaluate, options, readStore } from '../../src/adapters/flags/local.js';
import type { AdapterContext, FlagBackend } from '../../src/adapters/types.js';
import { BackendError } from '../../src/errors.js';
import { flagBackendContract } from './flag-contract.js';

const ctxFor = (dir: string): AdapterContext => ({ baseDir: dir, cwd: dir, log: () => undefined, env: process.env });

flagBackendContract(
  'local',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rollout-local-'));
    return { backend: create({ path: join(dir, 'flags.json') }, ctxFor(dir)), cleanup: () => rm(dir, { recursive: true, force: true }) };
  },
  { decimals: true, users: true },
);

const KEYS = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);

describe('local flag backend', () => {
  let dir: string;
  let file: string;
  let b: FlagBackend;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollout-local-'));
    file = join(dir, 'flags.json');
    b = create({ path: file }, ctxFor(dir));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('validates options strictly', () => {
    expect(() => options.parse({ path: 'x', bogus: 1 })).toThrow();
    expect(options.parse({})).toEqual({});
  });

  it('resolves a relative path against the working directory', () => {
    expect(create({ path: 'store/flags.json' }, ctxFor(dir)).name).toBe(`local (${join(dir, 'store/flags.json')})`);
  });

  it('stores a readable JSON file with mode 0600, everything the change says', async () => {
    await b.apply({ flag: 'f', enabled: true, percentage: 20, rings: { internal: 100, beta: 10 }, users: ['alice'], segments: ['staff'], stickiness: 'userId' });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const store = await readStore(file);
    expect(store.f).toMatchObject({ enabled: true, percentage: 20, rings: { internal: 100, beta: 10 }, users: ['alice'], segments: ['staff'], stickiness: 'userId' });
    expect(await b.read('f')).toEqual({ flag: 'f', exists: true, enabled: true, percentage: 20, rings: { internal: 100, beta: 10 }, users: ['alice'], segments: ['staff'] });
  });

  it('evaluates with sticky bucketing close to the stored share', async () => {
    for (const pct of [1, 10, 50]) {
      await b.apply({ flag: 'f', enabled: true, percentage: pct });
      const f = (await readStore(file)).f;
      const on = KEYS.filter((k) => evaluate('f', f, k).enabled).length;
      expect(Math.abs((on / KEYS.length) * 100 - pct), `share at ${pct}%`).toBeLessThan(1.5);
    }
    const at10 = { enabled: true, percentage: 10, updatedAt: '' };
    const at25 = { enabled: true, percentage: 25, updatedAt: '' };
    expect(KEYS.filter((k) => evaluate('f', at10, k).enabled).every((k) => evaluate('f', at25, k).enabled)).toBe(true);
  });

  it('evaluates allowlists, rings and off', () => {
    const f = { enabled: true, percentage: 0, users: ['alice'], segments: ['staff'], rings: { internal: 100 }, updatedAt: '' };
    expect(evaluate('f', f, 'alice')).toMatchObject({ enabled: true, reason: 'user is allowlisted' });
    expect(evaluate('f', f, 'bob').enabled).toBe(false);
    expect(evaluate('f', f, 'bob', { segment: 'staff' }).enabled).toBe(true);
    expect(evaluate('f', f, 'bob', { ring: 'internal' })).toMatchObject({ enabled: true, reason: expect.stringMatching(/ring internal at 100%/) });
    expect(evaluate('f', { ...f, enabled: false }, 'alice')).toEqual({ enabled: false, reason: 'flag is off' });
    expect(evaluate('f', undefined, 'alice')).toEqual({ enabled: false, reason: 'flag not in the store' });
  });

  it('serialises concurrent writes', async () => {
    const flags = Array.from({ length: 15 }, (_, i) => `flag-${i}`);
    await Promise.all(flags.map((f, i) => b.apply({ flag: f, enabled: true, percentage: i })));
    for (const [i, f] of flags.entries()) expect(await b.read(f)).toMatchObject({ enabled: true, percentage: i });
  });

  it('reports a corrupt store as a BackendError and leaves it alone', async () => {
    await writeFile(file, '{"f": ');
    const err = (await b.read('f').catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toMatch(/unreadable/);
    await expect(b.apply({ flag: 'g', enabled: true })).rejects.toThrow(/unreadable/);
    expect(await readFile(file, 'utf8')).toBe('{"f": ');
  });

  it('names the backend (with its path) in errors, as the contract requires', async () => {
    await writeFile(file, '{"f": ');
    const err = (await b.read('f').catch((e: unknown) => e)) as BackendError;
    expect(err.message).toContain(b.name);
  });
});
