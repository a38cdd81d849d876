import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlagdCore } from '@openfeature/flagd-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { create, options } from '../../src/adapters/flags/flagd.js';
import type { AdapterContext, FlagBackend } from '../../src/adapters/types.js';
import { BackendError } from '../../src/errors.js';
import { flagBackendContract } from './flag-contract.js';

const logs: string[] = [];
const ctxFor = (dir: string): AdapterContext => ({ baseDir: dir, cwd: dir, log: (m) => logs.push(m), env: process.env });

async function tempBackend(opts: Record<string, unknown> = {}) {
  const dir = await mkdtemp(join(tmpdir(), 'rollout-flagd-'));
  return { dir, backend: create({ path: 'flags.flagd.json', ...opts }, ctxFor(dir)), cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const corrupt = async (inst: { dir: string }) => {
  await writeFile(join(inst.dir, 'flags.flagd.json'), '{"flags": {');
  return { message: /not valid JSON/ };
};

flagBackendContract('flagd (whole percentages)', () => tempBackend(), { users: true, failure: corrupt });
flagBackendContract('flagd (decimals: 3)', () => tempBackend({ decimals: 3 }), { decimals: true, users: true, failure: corrupt });

/** Evaluate `flag` from the file the adapter wrote, with flagd's own in-process core. */
async function evaluator(file: string) {
  const core = new FlagdCore();
  core.setConfigurations(await readFile(file, 'utf8'));
  return (flag: string, ctx: Record<string, string>) => core.resolveBooleanEvaluation(flag, false, ctx);
}

const KEYS = Array.from({ length: 20_000 }, (_, i) => `user-${i}`);

describe('flagd flag backend', () => {
  let dir: string;
  let file: string;
  let b: FlagBackend;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollout-flagd-'));
    file = join(dir, 'flags.flagd.json');
    b = create({ path: 'flags.flagd.json' }, ctxFor(dir));
    logs.length = 0;
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('validates options strictly', () => {
    expect(() => options.parse({ path: 'x.json', bogus: 1 })).toThrow();
    expect(() => options.parse({ path: 'x.json', decimals: 4 })).toThrow();
    expect(options.parse({ path: 'x.json' })).toMatchObject({ pretty: true, decimals: 0, bucketBy: 'targetingKey', usersAttribute: 'targetingKey' });
  });

  it('writes a fractional rule that flagd evaluates to the requested share, for many keys', async () => {
    for (const pct of [1, 5, 25, 50, 90]) {
      await b.apply({ flag: 'checkout', enabled: true, percentage: pct });
      const ev = await evaluator(file);
      const on = KEYS.filter((k) => ev('checkout', { targetingKey: k }).value).length;
      expect(Math.abs((on / KEYS.length) * 100 - pct), `share at ${pct}%`).toBeLessThan(1.5);
    }
    const def = JSON.parse(await readFile(file, 'utf8')) as { $schema: string; flags: Record<string, unknown> };
    expect(def.$schema).toBe('https://flagd.dev/schema/v0/flags.json');
    expect(def.flags.checkout).toEqual({ state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off', targeting: { fractional: [['on', 90], ['off', 10]] } });
  });

  it('is sticky: users in at 10% stay in at 25%', async () => {
    await b.apply({ flag: 'checkout', enabled: true, percentage: 10 });
    const at10 = await evaluator(file);
    const in10 = KEYS.filter((k) => at10('checkout', { targetingKey: k }).value);
    await b.apply({ flag: 'checkout', enabled: true, percentage: 25 });
    const at25 = await evaluator(file);
    expect(in10.every((k) => at25('checkout', { targetingKey: k }).value)).toBe(true);
  });

  it('buckets each flag independently (flag key is part of the hash)', async () => {
    await b.apply({ flag: 'a', enabled: true, percentage: 50 });
    await b.apply({ flag: 'b', enabled: true, percentage: 50 });
    const ev = await evaluator(file);
    const both = KEYS.filter((k) => ev('a', { targetingKey: k }).value && ev('b', { targetingKey: k }).value).length;
    expect(Math.abs((both / KEYS.length) * 100 - 25)).toBeLessThan(1.5);
  });

  it('0 % is nobody, 100 % is everybody (even without a targetingKey)', async () => {
    await b.apply({ flag: 'f', enabled: true, percentage: 0 });
    let ev = await evaluator(file);
    expect(KEYS.slice(0, 2000).some((k) => ev('f', { targetingKey: k }).value)).toBe(false);
    await b.apply({ flag: 'f', enabled: true, percentage: 100 });
    ev = await evaluator(file);
    expect(KEYS.slice(0, 2000).every((k) => ev('f', { targetingKey: k }).value)).toBe(true);
    expect(ev('f', {}).value).toBe(true);
  });

  it('allowlisted users get the flag whatever their bucket; others follow the split', async () => {
    await b.apply({ flag: 'f', enabled: true, percentage: 0, users: ['alice', 'bob'] });
    const ev = await evaluator(file);
    expect(ev('f', { targetingKey: 'alice' })).toMatchObject({ value: true, reason: 'TARGETING_MATCH' });
    expect(ev('f', { targetingKey: 'bob' }).value).toBe(true);
    expect(KEYS.slice(0, 2000).some((k) => ev('f', { targetingKey: k }).value)).toBe(false);
    expect(await b.read('f')).toMatchObject({ enabled: true, percentage: 0, users: ['alice', 'bob'] });
  });

  it('keeps the allowlist when a change has no users; an empty list clears it', async () => {
    await b.apply({ flag: 'f', enabled: true, percentage: 5, users: ['alice'] });
    await b.apply({ flag: 'f', enabled: true, percentage: 10 });
    expect(await b.read('f')).toMatchObject({ percentage: 10, users: ['alice'] });
    expect((await evaluator(file))('f', { targetingKey: 'alice' }).value).toBe(true);
    await b.apply({ flag: 'f', enabled: true, percentage: 10, users: [] });
    expect((await b.read('f')).users).toBeUndefined();
  });

  it('allowlisted segments get the flag (the caller\'s segment is in the evaluation context); kept when a change has none', async () => {
    // seed 003: internal team + select beta users, and 5% of everybody else
    await b.apply({ flag: 'dojopool', enabled: true, percentage: 5, users: ['ceo'], segments: ['internal-team', 'dogfood-beta'] });
    let ev = await evaluator(file);
    expect(ev('dojopool', { targetingKey: 'u1', segment: 'internal-team' })).toMatchObject({ value: true, reason: 'TARGETING_MATCH' });
    expect(ev('dojopool', { targetingKey: 'u2', segment: 'dogfood-beta' }).value).toBe(true);
    expect(ev('dojopool', { targetingKey: 'ceo' }).value).toBe(true);
    const others = KEYS.filter((k) => ev('dojopool', { targetingKey: k, segment: 'customers' }).value).length;
    expect(Math.abs((others / KEYS.length) * 100 - 5)).toBeLessThan(1.5);
    expect(await b.read('dojopool')).toMatchObject({ percentage: 5, users: ['ceo'], segments: ['internal-team', 'dogfood-beta'] });
    await b.apply({ flag: 'dojopool', enabled: true, percentage: 10 });
    expect(await b.read('dojopool')).toMatchObject({ percentage: 10, users: ['ceo'], segments: ['internal-team', 'dogfood-beta'] });
    await b.apply({ flag: 'dojopool', enabled: true, percentage: 10, segments: [] });
    ev = await evaluator(file);
    expect((await b.read('dojopool')).segments).toBeUndefined();
    expect(ev('dojopool', { targetingKey: 'ceo' }).value).toBe(true);
  });

  it('ring steps: each ring gets its own share by the caller\'s ring, everybody else the percentage (seed 004)', async () => {
    await b.apply({ flag: 'snap', enabled: true, percentage: 0, rings: { internal: 100, beta: 50 } });
    const ev = await evaluator(file);
    const share = (ctx: (k: string) => Record<string, string>) => (KEYS.filter((k) => ev('snap', ctx(k)).value).length / KEYS.length) * 100;
    expect(share((k) => ({ targetingKey: k, ring: 'internal' }))).toBe(100);
    expect(Math.abs(share((k) => ({ targetingKey: k, ring: 'beta' })) - 50)).toBeLessThan(1.5);
    expect(share((k) => ({ targetingKey: k }))).toBe(0);
    expect(await b.read('snap')).toMatchObject({ enabled: true, percentage: 0, rings: { internal: 100, beta: 50 } });
    // a later percentage step drops the ring rules
    await b.apply({ flag: 'snap', enabled: true, percentage: 25 });
    const r = await b.read('snap');
    expect(r.rings).toBeUndefined();
    expect(r.percentage).toBe(25);
  });

  it('the three context attributes must differ', () => {
    expect(() => options.parse({ path: 'x.json', segmentsAttribute: 'targetingKey' })).toThrow(/three different attributes/);
  });

  it('disabling makes flagd answer DISABLED (the code default), and re-enabling restores the split', async () => {
    await b.apply({ flag: 'f', enabled: true, percentage: 30 });
    await b.apply({ flag: 'f', enabled: false });
    let ev = await evaluator(file);
    expect(ev('f', { targetingKey: 'user-1' })).toMatchObject({ value: false, reason: 'DISABLED' });
    expect(await b.read('f')).toMatchObject({ enabled: false, percentage: 30 });
    await b.apply({ flag: 'f', enabled: true, percentage: 30 });
    ev = await evaluator(file);
    const on = KEYS.filter((k) => ev('f', { targetingKey: k }).value).length;
    expect(Math.abs((on / KEYS.length) * 100 - 30)).toBeLessThan(1.5);
  });

  it('rounds to whole percentages by default and says so; decimals keeps 12.5 % exactly', async () => {
    await b.apply({ flag: 'f', enabled: true, percentage: 12.5 });
    expect(logs.join('\n')).toMatch(/12\.5% rounded to 13%/);
    expect((await b.read('f')).percentage).toBe(13);

    const fine = create({ path: 'fine.json', decimals: 1 }, ctxFor(dir));
    await fine.apply({ flag: 'f', enabled: true, percentage: 12.5 });
    const def = JSON.parse(await readFile(join(dir, 'fine.json'), 'utf8')) as { flags: { f: { targeting: unknown } } };
    expect(def.flags.f.targeting).toEqual({ fractional: [['on', 125], ['off', 875]] });
    const ev = await evaluator(join(dir, 'fine.json'));
    const on = KEYS.filter((k) => ev('f', { targetingKey: k }).value).length;
    expect(Math.abs((on / KEYS.length) * 100 - 12.5)).toBeLessThan(1.5);
  });

  it('buckets by another attribute; evaluations without it get off', async () => {
    const byEmail = create({ path: 'flags.flagd.json', bucketBy: 'email' }, ctxFor(dir));
    await byEmail.apply({ flag: 'f', enabled: true, percentage: 40 });
    const ev = await evaluator(file);
    const on = KEYS.filter((k) => ev('f', { email: `${k}@example.com` }).value).length;
    expect(Math.abs((on / KEYS.length) * 100 - 40)).toBeLessThan(1.5);
    // the split follows the email, not the targetingKey
    expect(KEYS.slice(0, 500).every((k) => ev('f', { email: `${k}@example.com`, targetingKey: 'same' }).value === ev('f', { email: `${k}@example.com` }).value)).toBe(true);
    // without the attribute nobody is in (not "everybody in one bucket")
    expect(KEYS.slice(0, 500).some((k) => ev('f', { targetingKey: k }).value)).toBe(false);
    expect(await byEmail.read('f')).toMatchObject({ enabled: true, percentage: 40 });
  });

  it('keeps other flags and top-level keys, and does not rewrite an unchanged file', async () => {
    const original = {
      $schema: 'https://flagd.dev/schema/v0/flags.json',
      $evaluators: { emailWithFaas: { ends_with: [{ var: 'email' }, '@faas.com'] } },
      metadata: { owner: 'platform' },
      flags: {
        'header-color': { state: 'ENABLED', variants: { red: '#f00', blue: '#00f' }, defaultVariant: 'red' },
        checkout: { state: 'DISABLED', variants: { on: true, off: false }, defaultVariant: 'off', metadata: { team: 'shop' } },
      },
    };
    await writeFile(file, JSON.stringify(original, null, 2) + '\n');
    await b.apply({ flag: 'checkout', enabled: true, percentage: 20 });
    const after = JSON.parse(await readFile(file, 'utf8')) as typeof original & { flags: { checkout: Record<string, unknown> } };
    expect(after.$evaluators).toEqual(original.$evaluators);
    expect(after.metadata).toEqual(original.metadata);
    expect(after.flags['header-color']).toEqual(original.flags['header-color']);
    expect(after.flags.checkout.metadata).toEqual({ team: 'shop' });
    const s1 = await stat(file);
    await b.apply({ flag: 'checkout', enabled: true, percentage: 20 });
    const s2 = await stat(file);
    expect(s2.ino).toBe(s1.ino);
    expect(s2.mtimeMs).toBe(s1.mtimeMs);
    // and flagd still accepts the whole file
    expect((await evaluator(file))('checkout', { targetingKey: 'x' }).reason).not.toBe('ERROR');
  });

  it('refuses to interpret targeting it did not write, with a hint', async () => {
    await writeFile(file, JSON.stringify({ flags: { f: { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off', targeting: { if: [{ '==': [{ var: 'plan' }, 'pro'] }, 'on', 'off'] } } } }));
    const err = (await b.read('f').catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toMatch(/cannot interpret/);
    expect(err.hint).toMatch(/replace the targeting/);
  });

  it('leaves a corrupt file alone', async () => {
    await writeFile(file, '{"flags": ');
    await expect(b.apply({ flag: 'f', enabled: true, percentage: 5 })).rejects.toThrow(/not valid JSON.*not touching it/);
    expect(await readFile(file, 'utf8')).toBe('{"flags": ');
  });
});

describe('flagd variant experiments (phase variants:)', () => {
  let dir: string;
  let file: string;
  let b: FlagBackend;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rollout-flagd-var-'));
    file = join(dir, 'flags.flagd.json');
    b = create({ path: 'flags.flagd.json' }, ctxFor(dir));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const N = 10_000;
  const USERS = Array.from({ length: N }, (_, i) => (i % 3 ? `user-${i}` : `${(i * 7919).toString(36)}@example.com`));
  /** flagd-core's answer (a string variant) for each user. */
  async function variantsOf(flag: string, ctx: (k: string) => Record<string, string> = (k) => ({ targetingKey: k })) {
    const core = new FlagdCore();
    core.setConfigurations(await readFile(file, 'utf8'));
    const counts: Record<string, number> = {};
    const byUser = new Map<string, string>();
    for (const k of USERS) {
      const r = core.resolveStringEvaluation(flag, 'code-default', ctx(k));
      counts[r.value] = (counts[r.value] ?? 0) + 1;
      byUser.set(k, r.value);
    }
    return { counts, byUser };
  }
  const pct = (n: number | undefined, of = N) => ((n ?? 0) / of) * 100;

  it('declares variant support', () => {
    expect(b.variants).toBe(true);
  });

  it('50/50 at 100 %: flagd-core splits 10,000 users within ±1 %; written as string variants with weights ×100; read back', async () => {
    await b.apply({ flag: 'exp', enabled: true, percentage: 100, variants: [{ name: 'treatment', percent: 50 }, { name: 'control', percent: 50 }] });
    const { counts } = await variantsOf('exp');
    expect(counts.off ?? 0).toBe(0);
    expect(Math.abs(pct(counts.control) - 50)).toBeLessThan(1);
    expect(Math.abs(pct(counts.treatment) - 50)).toBeLessThan(1);
    const def = (JSON.parse(await readFile(file, 'utf8')) as { flags: Record<string, { variants: unknown; targeting: { if: unknown[] } }> }).flags.exp!;
    expect(def.variants).toEqual({ control: 'control', treatment: 'treatment', off: 'off' });
    expect(def.targeting.if[1]).toEqual({ fractional: [{ cat: [{ var: '$flagd.flagKey' }, '/variant/', { var: 'targetingKey' }] }, ['control', 5000], ['treatment', 5000]] });
    expect(await b.read('exp')).toMatchObject({ exists: true, enabled: true, percentage: 100, variants: [{ name: 'control', weight: 500 }, { name: 'treatment', weight: 500 }] });
    // an evaluation without a targetingKey is outside the experiment
    const core = new FlagdCore();
    core.setConfigurations(await readFile(file, 'utf8'));
    expect(core.resolveStringEvaluation('exp', 'code-default', {}).value).toBe('off');
  });

  it('33.33/33.33/33.34 stays exact (3333/3333/3334) and flagd-core splits within ±1 %', async () => {
    const variants = [{ name: 'no_recovery', percent: 33.33 }, { name: 'auto_recovery', percent: 33.33 }, { name: 'manual_recovery', percent: 33.34 }];
    await b.apply({ flag: 'recovery', enabled: true, percentage: 100, variants });
    const def = (JSON.parse(await readFile(file, 'utf8')) as { flags: Record<string, { targeting: { if: Array<{ fractional?: unknown[] }> } }> }).flags.recovery!;
    expect(def.targeting.if[1]!.fractional!.slice(1)).toEqual([['auto_recovery', 3333], ['manual_recovery', 3334], ['no_recovery', 3333]]);
    const { counts } = await variantsOf('recovery');
    for (const v of variants) expect(Math.abs(pct(counts[v.name]) - v.percent), v.name).toBeLessThan(1);
    expect((await b.read('recovery')).variants).toEqual([{ name: 'auto_recovery', weight: 333 }, { name: 'manual_recovery', weight: 334 }, { name: 'no_recovery', weight: 333 }]);
  });

  it('honours the rollout\'s share: at 20 % about 20 % are in the experiment, split 50/50 among them; users keep in and keep their variant as it grows', async () => {
    const variants = [{ name: 'control', percent: 50 }, { name: 'treatment', percent: 50 }];
    await b.apply({ flag: 'exp', enabled: true, percentage: 20, variants });
    const at20 = await variantsOf('exp');
    const inside = N - (at20.counts.off ?? 0);
    expect(Math.abs(pct(inside) - 20)).toBeLessThan(1);
    expect(Math.abs(pct(at20.counts.control, inside) - 50)).toBeLessThan(2.5); // 2,000 users: binomial sd 1.1 %
    expect(await b.read('exp')).toMatchObject({ percentage: 20, variants: [{ name: 'control', weight: 500 }, { name: 'treatment', weight: 500 }] });
    await b.apply({ flag: 'exp', enabled: true, percentage: 60, variants });
    const at60 = await variantsOf('exp');
    expect(Math.abs(pct(N - (at60.counts.off ?? 0)) - 60)).toBeLessThan(1);
    expect(Math.abs(pct(at60.counts.control, N - (at60.counts.off ?? 0)) - 50)).toBeLessThan(1.5);
    for (const [k, v] of at20.byUser) if (v !== 'off') expect(at60.byUser.get(k), k).toBe(v);
    expect((await b.read('exp')).percentage).toBe(60);
    // the in/out hash is the plain rollout's: the same users are in as with a boolean rollout at 20 %
    const plain = create({ path: 'plain.flagd.json' }, ctxFor(dir));
    await plain.apply({ flag: 'exp', enabled: true, percentage: 20 });
    const core = new FlagdCore();
    core.setConfigurations(await readFile(join(dir, 'plain.flagd.json'), 'utf8'));
    for (const [k, v] of at20.byUser) expect(core.resolveBooleanEvaluation('exp', false, { targetingKey: k }).value, k).toBe(v !== 'off');
  });

  it('0 % is nobody; the segment/ring chain stays in front (allowlisted callers get the split alone; a ring its share)', async () => {
    const variants = [{ name: 'control', percent: 50 }, { name: 'treatment', percent: 50 }];
    await b.apply({ flag: 'exp', enabled: true, percentage: 0, variants });
    expect((await variantsOf('exp')).counts.off).toBe(N);
    await b.apply({ flag: 'exp', enabled: true, percentage: 10, segments: ['beta'], rings: { internal: 50 }, variants });
    const def = (JSON.parse(await readFile(file, 'utf8')) as { flags: Record<string, { targeting: { if: Array<{ in?: unknown[] }> } }> }).flags.exp!;
    expect(def.targeting.if[0]!.in).toEqual([{ var: 'segment' }, ['beta']]);
    expect(def.targeting.if[2]!.in).toEqual([{ var: 'ring' }, ['internal']]);
    const seg = await variantsOf('exp', (k) => ({ targetingKey: k, segment: 'beta' }));
    expect(seg.counts.off ?? 0).toBe(0);
    expect(Math.abs(pct(seg.counts.control) - 50)).toBeLessThan(1);
    const ring = await variantsOf('exp', (k) => ({ targetingKey: k, ring: 'internal' }));
    expect(Math.abs(pct(N - (ring.counts.off ?? 0)) - 50)).toBeLessThan(1.5);
    const rest = await variantsOf('exp');
    expect(Math.abs(pct(N - (rest.counts.off ?? 0)) - 10)).toBeLessThan(1);
    expect(await b.read('exp')).toMatchObject({ percentage: 10, segments: ['beta'], rings: { internal: 50 }, variants: [{ name: 'control', weight: 500 }, { name: 'treatment', weight: 500 }] });
  });

  it('with another bucketBy, the split hashes that attribute; evaluations without it get off', async () => {
    const e = create({ path: 'flags.flagd.json', bucketBy: 'email' }, ctxFor(dir));
    await e.apply({ flag: 'exp', enabled: true, percentage: 100, variants: [{ name: 'a', percent: 25 }, { name: 'b', percent: 75 }] });
    const { counts } = await variantsOf('exp', (k) => ({ targetingKey: 'same', email: k }));
    expect(Math.abs(pct(counts.a) - 25)).toBeLessThan(1);
    expect((await variantsOf('exp', () => ({ targetingKey: 'x' }))).counts.off).toBe(N);
    expect(await e.read('exp')).toMatchObject({ percentage: 100, variants: [{ name: 'a', weight: 250 }, { name: 'b', weight: 750 }] });
  });

  it('a plain step after an experiment writes the on/off flag again; a variant called "off" is refused', async () => {
    await b.apply({ flag: 'exp', enabled: true, percentage: 30, variants: [{ name: 'control', percent: 50 }, { name: 'treatment', percent: 50 }] });
    await b.apply({ flag: 'exp', enabled: true, percentage: 30 });
    const r = await b.read('exp');
    expect(r).toMatchObject({ percentage: 30 });
    expect(r.variants).toBeUndefined();
    await expect(b.apply({ flag: 'x', enabled: true, percentage: 10, variants: [{ name: 'off', percent: 50 }, { name: 'on', percent: 50 }] })).rejects.toThrow(/cannot be called "off"/);
  });
});
