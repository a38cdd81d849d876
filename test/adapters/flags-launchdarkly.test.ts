import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { create, options } from '../../src/adapters/flags/launchdarkly.js';
import type { AdapterContext, FlagBackend } from '../../src/adapters/types.js';
import { BackendError } from '../../src/errors.js';
import { startLaunchDarklyFake, type LaunchDarklyFake } from '../fakes/launchdarkly.js';
import { CONTRACT_FLAGS, flagBackendContract } from './flag-contract.js';

let fake: LaunchDarklyFake;
const logs: string[] = [];
const ctx: AdapterContext = { baseDir: process.cwd(), cwd: process.cwd(), log: (m) => logs.push(m), env: process.env };

beforeAll(async () => {
  fake = await startLaunchDarklyFake({ token: 'api-0123456789-secret-token', environments: ['production', 'staging'] });
});
afterAll(async () => {
  await fake.close();
});

function backend(extra: Record<string, unknown> = {}): FlagBackend {
  return create(
    { baseUrl: fake.url, apiToken: fake.token, projectKey: 'shop', environmentKey: 'production', retryBudgetMs: 3_000, timeoutMs: 2_000, ...extra },
    ctx,
  );
}

function seedAll(): void {
  fake.reset();
  for (const f of [...CONTRACT_FLAGS, 'checkout']) fake.seedFlag('shop', f);
}

flagBackendContract(
  'launchdarkly (fake)',
  async () => {
    seedAll();
    return { backend: backend() };
  },
  {
    decimals: true,
    users: true,
    failure: async (_inst, call) => {
      if (call === 'apply') {
        fake.failNext(1, { status: 409, method: 'PATCH' });
        return { status: 409, message: 'modified by another request' };
      }
      fake.failNext(1, { status: 401 });
      return { status: 401, message: 'Invalid access token' };
    },
  },
);

describe('launchdarkly adapter', () => {
  beforeEach(() => {
    seedAll();
    logs.length = 0;
  });

  it('validates its options strictly', () => {
    expect(() => options.parse({ apiToken: 't', projectKey: 'p', environmentKey: 'e', bogus: 1 })).toThrow();
    expect(options.parse({ apiToken: 't', projectKey: 'p', environmentKey: 'e' }).baseUrl).toBe('https://app.launchdarkly.com');
  });

  it('sends a documented semantic patch: content type, token, instructions, weights in thousandths', async () => {
    const b = backend();
    await b.apply({ flag: 'checkout', enabled: true, percentage: 25 });
    const patch = fake.requests.find((r) => r.method === 'PATCH');
    expect(patch).toBeDefined();
    expect(patch!.path).toBe('/api/v2/flags/shop/checkout');
    expect(patch!.headers['content-type']).toBe('application/json; domain-model=launchdarkly.semanticpatch');
    expect(patch!.headers.authorization).toBe(fake.token);
    const body = JSON.parse(patch!.body) as { environmentKey: string; instructions: Array<Record<string, unknown>> };
    expect(body.environmentKey).toBe('production');
    const flag = fake.flag('shop', 'checkout')!;
    const onId = flag.variations.find((v) => v.value === true)!._id;
    const offId = flag.variations.find((v) => v.value === false)!._id;
    expect(body.instructions).toEqual([
      { kind: 'turnFlagOn' },
      { kind: 'updateFallthroughVariationOrRollout', rolloutWeights: { [onId]: 25_000, [offId]: 75_000 }, rolloutBucketBy: 'key', rolloutContextKind: 'user' },
    ]);
    // the GET used ?env= to fetch only our environment
    expect(fake.requests[0]!.path).toBe('/api/v2/flags/shop/checkout?env=production');
    // other environments untouched
    expect(flag.environments.staging!.on).toBe(false);
  });

  it('does not PATCH when the flag already looks like the change', async () => {
    const b = backend();
    await b.apply({ flag: 'checkout', enabled: true, percentage: 40, users: ['u1'] });
    const n = fake.requests.filter((r) => r.method === 'PATCH').length;
    await b.apply({ flag: 'checkout', enabled: true, percentage: 40, users: ['u1'] });
    expect(fake.requests.filter((r) => r.method === 'PATCH').length).toBe(n);
    await b.apply({ flag: 'checkout', enabled: false });
    await b.apply({ flag: 'checkout', enabled: false });
    expect(fake.requests.filter((r) => r.method === 'PATCH').length).toBe(n + 1);
  });

  it('disabling turns targeting off and keeps the default rule for re-enabling', async () => {
    const b = backend();
    await b.apply({ flag: 'checkout', enabled: true, percentage: 30 });
    await b.apply({ flag: 'checkout', enabled: false });
    const last = fake.requests.filter((r) => r.method === 'PATCH').at(-1)!;
    expect((JSON.parse(last.body) as { instructions: unknown[] }).instructions).toEqual([{ kind: 'turnFlagOff' }]);
    expect(await b.read('checkout')).toMatchObject({ enabled: false, percentage: 30 });
  });

  it('rounds to LaunchDarkly precision (0.001 %) and says so', async () => {
    const b = backend();
    await b.apply({ flag: 'checkout', enabled: true, percentage: 33.33333 });
    expect((await b.read('checkout')).percentage).toBe(33.333);
    expect(logs.join('\n')).toMatch(/rounded to 33\.333%/);
  });

  it('reads a default rule that serves a single variation', async () => {
    const flag = fake.flag('shop', 'checkout')!;
    flag.environments.production!.on = true;
    flag.environments.production!.fallthrough = { variation: 0 };
    expect(await backend().read('checkout')).toMatchObject({ exists: true, enabled: true, percentage: 100 });
    flag.environments.production!.fallthrough = { variation: 1 };
    expect(await backend().read('checkout')).toMatchObject({ exists: true, enabled: true, percentage: 0 });
  });

  it('manages only the user targets of the true variation', async () => {
    const b = backend();
    await b.apply({ flag: 'checkout', enabled: true, percentage: 5, users: ['alice', 'bob'] });
    await b.apply({ flag: 'checkout', enabled: true, percentage: 5, users: ['bob', 'carol'] });
    const last = JSON.parse(fake.requests.filter((r) => r.method === 'PATCH').at(-1)!.body) as { instructions: Array<Record<string, unknown>> };
    expect(last.instructions.map((i) => i.kind)).toEqual(['removeTargets', 'addTargets']);
    expect(last.instructions[0]).toMatchObject({ values: ['alice'], contextKind: 'user' });
    expect(last.instructions[1]).toMatchObject({ values: ['carol'], contextKind: 'user' });
    // users not given → targets left alone
    await b.apply({ flag: 'checkout', enabled: true, percentage: 6 });
    expect((await b.read('checkout')).users?.sort()).toEqual(['bob', 'carol']);
  });

  it('allowlists segments with one segmentMatch rule serving true; unchanged = no PATCH; [] removes it', async () => {
    const b = backend();
    await b.apply({ flag: 'checkout', enabled: true, percentage: 5, segments: ['internal-team', 'dogfood-beta'] });
    const flag = () => fake.flag('shop', 'checkout')!;
    const onIdx = flag().variations.findIndex((v) => v.value === true);
    expect(flag().environments.production!.rules).toEqual([
      expect.objectContaining({ description: 'managed by rollout: segments', variation: onIdx, clauses: [expect.objectContaining({ attribute: 'segmentMatch', op: 'segmentMatch', values: ['internal-team', 'dogfood-beta'], negate: false })] }),
    ]);
    expect(await b.read('checkout')).toMatchObject({ percentage: 5, segments: ['internal-team', 'dogfood-beta'] });
    const n = fake.requests.filter((r) => r.method === 'PATCH').length;
    await b.apply({ flag: 'checkout', enabled: true, percentage: 5, segments: ['dogfood-beta', 'internal-team'] });
    await b.apply({ flag: 'checkout', enabled: true, percentage: 5 }); // segments absent: left alone
    expect(fake.requests.filter((r) => r.method === 'PATCH').length).toBe(n);
    await b.apply({ flag: 'checkout', enabled: true, percentage: 5, segments: [] });
    expect(flag().environments.production!.rules).toEqual([]);
  });

  it('ring steps: one rule per ring on the ring attribute with its own rollout; updated in place; a percentage step removes them', async () => {
    const b = backend();
    // someone else's rule stays where it is
    const flag = () => fake.flag('shop', 'checkout')!;
    const onId = flag().variations.find((v) => v.value === true)!._id;
    const offId = flag().variations.find((v) => v.value === false)!._id;
    flag().environments.production!.rules.push({ _id: 'theirs', description: 'QA', clauses: [{ _id: 'c', contextKind: 'user', attribute: 'email', op: 'endsWith', values: ['@qa.example'], negate: false }], variation: 0, trackEvents: false });
    await b.apply({ flag: 'checkout', enabled: true, percentage: 0, rings: { internal: 100, beta: 10 } });
    const rules = () => flag().environments.production!.rules;
    expect(rules().map((r) => r.description)).toEqual(['QA', 'managed by rollout: ring internal', 'managed by rollout: ring beta']);
    expect(rules()[2]).toMatchObject({ clauses: [{ contextKind: 'user', attribute: 'ring', op: 'in', values: ['beta'], negate: false }], rollout: { bucketBy: 'key', contextKind: 'user' } });
    expect(await b.read('checkout')).toMatchObject({ percentage: 0, rings: { internal: 100, beta: 10 } });
    const betaId = rules()[2]!._id;
    await b.apply({ flag: 'checkout', enabled: true, percentage: 0, rings: { internal: 100, beta: 50 } });
    const last = JSON.parse(fake.requests.filter((r) => r.method === 'PATCH').at(-1)!.body) as { instructions: Array<Record<string, unknown>> };
    expect(last.instructions).toEqual([{ kind: 'updateRuleVariationOrRollout', ruleId: betaId, rolloutWeights: { [onId]: 50_000, [offId]: 50_000 }, rolloutBucketBy: 'key', rolloutContextKind: 'user' }]);
    expect((await b.read('checkout')).rings).toEqual({ internal: 100, beta: 50 });
    await b.apply({ flag: 'checkout', enabled: true, percentage: 25 });
    expect(rules().map((r) => r.description)).toEqual(['QA']);
    expect((await b.read('checkout')).rings).toBeUndefined();
  });

  it('refuses to create flags and says how to fix it', async () => {
    const err = (await backend().apply({ flag: 'nope', enabled: true, percentage: 5 }).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toMatch(/does not exist/);
    expect(err.hint).toMatch(/Create the flag/);
    expect(fake.requests.some((r) => r.method === 'PATCH')).toBe(false);
  });

  it('refuses non-boolean flags and unknown environments', async () => {
    fake.seedFlag('shop', 'colour', { variations: ['red', 'blue'] });
    await expect(backend().apply({ flag: 'colour', enabled: true, percentage: 5 })).rejects.toThrow(/not a boolean flag/);
    await expect(backend({ environmentKey: 'nowhere' }).read('checkout')).rejects.toThrow(/no environment "nowhere"/);
  });

  it('honours 429 Retry-After and retries the PATCH', async () => {
    const b = backend();
    fake.failNext(1, { status: 429, retryAfterSec: 1, method: 'PATCH' });
    const t0 = Date.now();
    await b.apply({ flag: 'checkout', enabled: true, percentage: 15 });
    const took = Date.now() - t0;
    expect(fake.requests.filter((r) => r.method === 'PATCH').length).toBe(2);
    expect(took).toBeGreaterThanOrEqual(900);
    expect(await b.read('checkout')).toMatchObject({ enabled: true, percentage: 15 });
  });

  it('retries a 503 on GET within the budget', async () => {
    fake.failNext(2, { status: 503, method: 'GET' });
    expect(await backend().read('checkout')).toMatchObject({ exists: true });
    expect(fake.requests.filter((r) => r.method === 'GET').length).toBe(3);
  });

  it('fails fast on 401 without retrying, and never shows the token', async () => {
    const b = create({ baseUrl: fake.url, apiToken: 'api-wrong-token-abcdef', projectKey: 'shop', environmentKey: 'production' }, ctx);
    fake.requests.length = 0;
    const err = (await b.apply({ flag: 'checkout', enabled: true, percentage: 5 }).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(401);
    expect(err.message).toContain('Invalid access token');
    expect(err.message).not.toContain('api-wrong-token-abcdef');
    expect(b.name).not.toContain('api-wrong-token-abcdef');
    expect(fake.requests.length).toBe(1);
  });

  it('surfaces a 400 from the API (e.g. conflicting targets) with its message', async () => {
    const flag = fake.flag('shop', 'checkout')!;
    flag.environments.production!.targets.push({ values: ['mallory'], variation: 1, contextKind: 'user' });
    const err = (await backend().apply({ flag: 'checkout', enabled: true, percentage: 5, users: ['mallory'] }).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/already targeted/);
  });
});

describe('launchdarkly variant experiments (phase variants:)', () => {
  beforeEach(() => {
    seedAll();
    // a multivariate string flag; its off variation (index 1, "off") is what users outside the experiment get
    fake.seedFlag('shop', 'exp', { variations: ['legacy', 'off'] });
  });
  const patches = () => fake.requests.filter((r) => r.method === 'PATCH').map((r) => JSON.parse(r.body) as { environmentKey?: string; instructions: Array<Record<string, unknown>> });
  const fiftyFifty = [{ name: 'control', percent: 50 }, { name: 'treatment', percent: 50 }];

  it('declares variant support', () => {
    expect(backend().variants).toBe(true);
  });

  it('adds one named variation per variant (addVariation), then writes the percentage rollout over them in thousandths; reads back', async () => {
    const b = backend();
    await b.apply({ flag: 'exp', enabled: true, percentage: 100, variants: fiftyFifty });
    const flag = fake.flag('shop', 'exp')!;
    expect(flag.variations.map((v) => [v.name, v.value])).toEqual([[undefined, 'legacy'], [undefined, 'off'], ['control', 'control'], ['treatment', 'treatment']]);
    const [add, split] = patches();
    expect(add!.instructions).toEqual([{ kind: 'addVariation', value: 'control', name: 'control' }, { kind: 'addVariation', value: 'treatment', name: 'treatment' }]);
    const id = (name: string) => flag.variations.find((v) => v.name === name || v.value === name)!._id;
    expect(split!.instructions).toEqual([
      { kind: 'turnFlagOn' },
      { kind: 'updateFallthroughVariationOrRollout', rolloutWeights: { [id('off')]: 0, [id('control')]: 50_000, [id('treatment')]: 50_000 }, rolloutBucketBy: 'key', rolloutContextKind: 'user' },
    ]);
    const env = flag.environments.production!;
    expect(env.on).toBe(true);
    expect(env.fallthrough.rollout!.variations).toEqual([{ variation: 1, weight: 0 }, { variation: 2, weight: 50_000 }, { variation: 3, weight: 50_000 }]);
    expect(await b.read('exp')).toEqual({ flag: 'exp', exists: true, enabled: true, percentage: 100, variants: [{ name: 'control', weight: 500 }, { name: 'treatment', weight: 500 }] });
    // applying it again changes nothing: no PATCH at all
    const before = fake.requests.length;
    await b.apply({ flag: 'exp', enabled: true, percentage: 100, variants: fiftyFifty });
    expect(fake.requests.slice(before).every((r) => r.method === 'GET')).toBe(true);
  });

  it('33.33/33.33/33.34 at 100 % is exactly 33330/33330/33340; the rollout\'s share goes to the off variation; existing variations are reused by name', async () => {
    const variants = [{ name: 'no_recovery', percent: 33.33 }, { name: 'auto_recovery', percent: 33.33 }, { name: 'manual_recovery', percent: 33.34 }];
    const b = backend();
    await b.apply({ flag: 'exp', enabled: true, percentage: 100, variants });
    const w = () => {
      const flag = fake.flag('shop', 'exp')!;
      return Object.fromEntries(flag.environments.production!.fallthrough.rollout!.variations.map((v) => [flag.variations[v.variation]!.name ?? flag.variations[v.variation]!.value, v.weight]));
    };
    expect(w()).toEqual({ off: 0, no_recovery: 33_330, auto_recovery: 33_330, manual_recovery: 33_340 });
    expect((await b.read('exp')).variants).toEqual([{ name: 'auto_recovery', weight: 333 }, { name: 'manual_recovery', weight: 334 }, { name: 'no_recovery', weight: 333 }]);
    const n = patches().length;
    await b.apply({ flag: 'exp', enabled: true, percentage: 20, variants: fiftyFifty.map((v) => ({ ...v, name: v.name === 'control' ? 'no_recovery' : 'auto_recovery' })) });
    expect(patches().slice(n).map((p) => p.instructions.map((i) => i.kind))).toEqual([['updateFallthroughVariationOrRollout']]); // no addVariation: found by name
    expect(w()).toEqual({ off: 80_000, no_recovery: 10_000, auto_recovery: 10_000 });
    expect(await b.read('exp')).toMatchObject({ percentage: 20, variants: [{ name: 'auto_recovery', weight: 500 }, { name: 'no_recovery', weight: 500 }] });
    expect(fake.flag('shop', 'exp')!.variations).toHaveLength(5);
  });

  it('disabling turns targeting off (everybody gets the off variation) and keeps the split', async () => {
    const b = backend();
    await b.apply({ flag: 'exp', enabled: true, percentage: 40, variants: fiftyFifty });
    await b.apply({ flag: 'exp', enabled: false });
    expect(await b.read('exp')).toMatchObject({ enabled: false, percentage: 40, variants: [{ name: 'control', weight: 500 }, { name: 'treatment', weight: 500 }] });
  });

  it('refuses what LaunchDarkly cannot do, with a hint: a boolean flag, users/segments/rings, a variant that is the off variation', async () => {
    const b = backend();
    await expect(b.apply({ flag: 'checkout', enabled: true, percentage: 50, variants: fiftyFifty })).rejects.toThrow(/boolean flag.*cannot be split into variants/);
    await expect(b.apply({ flag: 'exp', enabled: true, percentage: 50, variants: fiftyFifty, users: ['alice'] })).rejects.toThrow(/default rule only/);
    await expect(b.apply({ flag: 'exp', enabled: true, percentage: 50, variants: [{ name: 'off', percent: 50 }, { name: 'x', percent: 50 }] })).rejects.toThrow(/off variation "off" is also a variant/);
    expect(patches()).toEqual([]);
  });

  it('the fake follows LaunchDarkly: addVariation is refused on a boolean flag and for a value of another type', async () => {
    const res = await fetch(`${fake.url}/api/v2/flags/shop/checkout`, { method: 'PATCH', headers: { authorization: fake.token, 'content-type': 'application/json; domain-model=launchdarkly.semanticpatch' }, body: JSON.stringify({ instructions: [{ kind: 'addVariation', value: 'x', name: 'x' }] }) });
    expect(res.status).toBe(400);
    const res2 = await fetch(`${fake.url}/api/v2/flags/shop/exp`, { method: 'PATCH', headers: { authorization: fake.token, 'content-type': 'application/json; domain-model=launchdarkly.semanticpatch' }, body: JSON.stringify({ instructions: [{ kind: 'addVariation', value: 20 }] }) });
    expect(res2.status).toBe(400);
  });
});
