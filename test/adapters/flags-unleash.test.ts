/**
 * The unleash flag backend against a real Unleash 7.5.1 (its own pristine instance from the
 * harness, so flag names and token tables are ours alone).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ALLOWLIST_TITLE, ROLLOUT_TITLE, create, options } from '../../src/adapters/flags/unleash.js';
import type { AdapterContext, FlagBackend, FlagChange, FlagState } from '../../src/adapters/types.js';
import { BackendError } from '../../src/errors.js';
import { redact } from '../../src/util/redact.js';
import { startFreshUnleash } from '../services/fresh.js';
import type { Unleash } from '../services/unleash.js';
import { CONTRACT_FLAGS, CONTRACT_MISSING_FLAG, flagBackendContract } from './flag-contract.js';
import { UnleashAdmin } from './unleash-admin.js';
import { startUnleashProxy } from './unleash-proxy.js';

let unleash: Unleash;
let admin: UnleashAdmin;
const logs: string[] = [];
const ctx: AdapterContext = { baseDir: process.cwd(), cwd: process.cwd(), log: (m) => logs.push(m), env: process.env };

beforeAll(async () => {
  unleash = await startFreshUnleash();
  admin = new UnleashAdmin(unleash.url, unleash.adminToken);
}, 60_000);
afterAll(async () => {
  await unleash?.stop();
});

const uniq = (p: string) => `${p}-${randomBytes(4).toString('hex')}`;

function backend(extra: Record<string, unknown> = {}): FlagBackend {
  return create({ url: unleash.url, token: unleash.adminToken, timeoutMs: 5_000, retryBudgetMs: 3_000, ...extra }, ctx);
}

/** A backend whose implementation can be swapped mid-test (to make the next call fail). */
class Switchable implements FlagBackend {
  constructor(public current: FlagBackend) {}
  get name() {
    return this.current.name;
  }
  apply(c: FlagChange): Promise<void> {
    return this.current.apply(c);
  }
  read(f: string): Promise<FlagState> {
    return this.current.read(f);
  }
}

flagBackendContract(
  'unleash (real server)',
  async () => {
    for (const f of CONTRACT_FLAGS) await admin.reset(f);
    return { backend: new Switchable(backend()) };
  },
  {
    decimals: true,
    users: true,
    failure: async (inst, call) => {
      const sw = inst.backend as Switchable;
      if (call === 'apply') {
        // A real refusal from Unleash: the flag's name is taken (by the same flag, in another project).
        sw.current = backend({ project: 'no-such-project', create: true });
        return { status: 409, message: 'A flag with that name already exists' };
      }
      sw.current = backend({ token: `*:*.${'0'.repeat(32)}` });
      return { status: 401, message: 'You must log in to use Unleash.' };
    },
  },
);

describe('unleash adapter', () => {
  beforeEach(() => {
    logs.length = 0;
  });

  it('validates its options strictly and fills defaults', () => {
    expect(() => options.parse({ url: 'http://x', token: 't', bogus: 1 })).toThrow();
    expect(() => options.parse({ url: 'not a url', token: 't' })).toThrow();
    expect(() => options.parse({ url: 'http://x' })).toThrow();
    expect(options.parse({ url: 'http://x', token: 't' })).toMatchObject({
      project: 'default',
      environment: 'development',
      create: false,
      stickiness: 'default',
      insecureTls: false,
    });
  });

  it('is named after its URL, never its token; warns when TLS checks are off', () => {
    const b = create({ url: `${unleash.url}/api/`, token: unleash.adminToken, insecureTls: true }, ctx);
    expect(b.name).toBe(`unleash (${unleash.url})`);
    expect(b.name).not.toContain(unleash.adminToken);
    expect(logs.join('\n')).toMatch(/TLS certificate verification is off/i);
    expect(redact(`x ${unleash.adminToken} y`)).toBe('x *** y');
  });

  it('writes one titled flexibleRollout with rollout, stickiness and groupId; no duplicates on re-apply', async () => {
    const flag = uniq('shape');
    await admin.createFeature(flag);
    const b = backend();
    await b.apply({ flag, enabled: true, percentage: 25 });
    await b.apply({ flag, enabled: true, percentage: 25 });
    await b.apply({ flag, enabled: true, percentage: 30, stickiness: 'userId' });
    await b.apply({ flag, enabled: true, percentage: 30, stickiness: 'userId' });
    const env = await admin.env(flag);
    expect(env.enabled).toBe(true);
    expect(env.strategies).toHaveLength(1);
    expect(env.strategies[0]).toMatchObject({
      name: 'flexibleRollout',
      title: ROLLOUT_TITLE,
      disabled: false,
      constraints: [],
      parameters: { rollout: '30', stickiness: 'userId', groupId: flag },
    });
    // other environments untouched
    const prod = (await admin.feature(flag))!.environments.find((e) => e.name === 'production')!;
    expect(prod).toMatchObject({ enabled: false, strategies: [] });
  });

  it('leaves strategies it does not own alone, and warns about unconstrained ones', async () => {
    const flag = uniq('others');
    await admin.createFeature(flag);
    const internal = await admin.addStrategy(flag, {
      name: 'flexibleRollout',
      title: 'internal staff',
      constraints: [{ contextName: 'userId', operator: 'IN', values: ['staff-1'] }],
      parameters: { rollout: '100', stickiness: 'default', groupId: flag },
    });
    const b = backend();
    await b.apply({ flag, enabled: true, percentage: 10 });
    let env = await admin.env(flag);
    expect(env.strategies).toHaveLength(2);
    expect(env.strategies.find((s) => s.id === internal)).toMatchObject({ title: 'internal staff', parameters: { rollout: '100' } });
    expect(env.strategies.find((s) => s.title === ROLLOUT_TITLE)).toMatchObject({ parameters: { rollout: '10' } });
    expect(logs.join('\n')).not.toMatch(/other unconstrained/);

    await admin.addStrategy(flag, { name: 'default', constraints: [], parameters: {} });
    await b.apply({ flag, enabled: true, percentage: 20 });
    env = await admin.env(flag);
    expect(env.strategies).toHaveLength(3);
    expect(logs.join('\n')).toMatch(/1 other unconstrained strategy \(default\) also enable.*more than 20% of users/);
    expect(await b.read(flag)).toMatchObject({ enabled: true, percentage: 20 });
  });

  it('adopts the 100% strategy Unleash adds itself when a flag is switched on bare', async () => {
    const flag = uniq('adopt');
    await admin.createFeature(flag);
    await admin.setEnabled(flag, true); // Unleash adds an untitled flexibleRollout at 100%
    const before = await admin.env(flag);
    expect(before.strategies).toHaveLength(1);
    expect(before.strategies[0]!.title ?? null).toBeNull();
    const b = backend();
    expect(await b.read(flag)).toMatchObject({ exists: true, enabled: true, percentage: 100 });
    await b.apply({ flag, enabled: true, percentage: 5 });
    const after = await admin.env(flag);
    expect(after.strategies).toHaveLength(1);
    expect(after.strategies[0]).toMatchObject({ id: before.strategies[0]!.id, title: ROLLOUT_TITLE, parameters: { rollout: '5' } });
  });

  it('keeps the allowlist in its own constrained strategy; [] removes it, absent leaves it', async () => {
    const flag = uniq('users');
    await admin.createFeature(flag);
    const b = backend();
    await b.apply({ flag, enabled: true, percentage: 5, users: ['alice', 'bob', 'alice'] });
    let env = await admin.env(flag);
    const list = env.strategies.find((s) => s.title === ALLOWLIST_TITLE);
    expect(list).toMatchObject({
      name: 'flexibleRollout',
      parameters: { rollout: '100' },
      constraints: [expect.objectContaining({ contextName: 'userId', operator: 'IN', values: ['alice', 'bob'] })],
    });
    await b.apply({ flag, enabled: true, percentage: 7 }); // users absent: list kept
    expect((await b.read(flag)).users?.sort()).toEqual(['alice', 'bob']);
    await b.apply({ flag, enabled: true, percentage: 7, users: ['bob', 'alice'] }); // same set: no write
    env = await admin.env(flag);
    expect(env.strategies).toHaveLength(2);
    await b.apply({ flag, enabled: true, percentage: 7, users: [] });
    env = await admin.env(flag);
    expect(env.strategies.map((s) => s.title)).toEqual([ROLLOUT_TITLE]);
    expect((await b.read(flag)).users).toBeUndefined();
  });

  it('allowlists Unleash segments, one strategy each; [] removes them; unknown names write nothing', async () => {
    const flag = uniq('segs');
    const beta = uniq('beta-users');
    const staff = uniq('staff');
    const betaId = await admin.createSegment(beta, ['b1', 'b2']);
    const staffId = await admin.createSegment(staff, ['s1']);
    await admin.createFeature(flag);
    const b = backend();
    await b.apply({ flag, enabled: true, percentage: 5, segments: [beta, staff] });
    await b.apply({ flag, enabled: true, percentage: 5, segments: [staff, beta] });
    let env = await admin.env(flag);
    expect(env.strategies).toHaveLength(3);
    expect(env.strategies.find((s) => s.title === `managed by rollout: segment ${beta}`)).toMatchObject({ segments: [betaId], constraints: [], parameters: { rollout: '100' } });
    expect(env.strategies.find((s) => s.title === `managed by rollout: segment ${staff}`)).toMatchObject({ segments: [staffId] });
    expect((await b.read(flag)).segments?.sort()).toEqual([beta, staff].sort());
    expect(logs.join('\n')).not.toMatch(/other unconstrained/);

    await b.apply({ flag, enabled: true, percentage: 5, segments: [staff] });
    expect((await b.read(flag)).segments).toEqual([staff]);

    const before = await admin.env(flag);
    const err = (await b.apply({ flag, enabled: true, percentage: 50, segments: [staff, 'no-such-segment'] }).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toMatch(/unknown Unleash segment "no-such-segment"/);
    expect(err.hint).toMatch(/Create the segment/);
    expect(await admin.env(flag)).toEqual(before);

    await b.apply({ flag, enabled: true, percentage: 5, segments: [] });
    env = await admin.env(flag);
    expect(env.strategies.map((s) => s.title)).toEqual([ROLLOUT_TITLE]);
    expect((await b.read(flag)).segments).toBeUndefined();
  });

  it('disabling switches the environment off and keeps the rollout for re-enabling', async () => {
    const flag = uniq('off');
    await admin.createFeature(flag);
    const b = backend();
    await b.apply({ flag, enabled: true, percentage: 35 });
    await b.apply({ flag, enabled: false });
    expect(await b.read(flag)).toMatchObject({ exists: true, enabled: false, percentage: 35 });
    const env = await admin.env(flag);
    expect(env.enabled).toBe(false);
    expect(env.strategies).toHaveLength(1);
  });

  it('applies a plan of several flags at once, each independent', async () => {
    const flags = ['checkout', 'search', 'payments', 'profile'].map(uniq);
    const b = backend({ create: true });
    const pcts = [1, 5, 50, 100];
    await Promise.all(flags.map((flag, i) => b.apply({ flag, enabled: true, percentage: pcts[i] })));
    await b.apply({ flag: flags[1]!, enabled: false });
    const states = await Promise.all(flags.map((f) => b.read(f)));
    expect(states.map((s) => [s.enabled, s.percentage])).toEqual([
      [true, 1],
      [false, 5],
      [true, 50],
      [true, 100],
    ]);
  });

  it('fails fast on a bad token with 401 and Unleash’s message, never showing the token', async () => {
    const bad = `*:*.${randomBytes(16).toString('hex')}`;
    const flag = uniq('auth');
    const b = create({ url: unleash.url, token: bad, create: true, retryBudgetMs: 10_000 }, ctx);
    const err = (await b.apply({ flag, enabled: true, percentage: 5 }).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(401);
    expect(err.message).toContain(`unleash (${unleash.url}): HTTP 401: You must log in to use Unleash.`);
    expect(err.hint).toMatch(/token/);
    expect(err.message).not.toContain(bad);
    expect(err.retryable).toBe(false);
    const rerr = (await b.read(flag).catch((e: unknown) => e)) as BackendError;
    expect(rerr.status).toBe(401);
    expect(await admin.feature(flag)).toBeUndefined();
  });

  it('explains a 403 for a backend (client) token used on the Admin API', async () => {
    const b = create({ url: unleash.url, token: unleash.clientToken }, ctx);
    const err = (await b.read(uniq('client')).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(403);
    expect(err.message).toMatch(/HTTP 403: .*token type/);
    expect(err.message).not.toContain(unleash.clientToken);
    expect(err.hint).toMatch(/admin API token or a personal access token/);
  });

  it('does not mistake a 404 that is not from the Admin API for a missing flag', async () => {
    const proxy = await startUnleashProxy(unleash.url);
    try {
      proxy.rule({ method: 'GET', path: /./, action: { status: 404, body: '<html>Not Found</html>' }, times: 1 });
      const err = (await create({ url: proxy.url, token: unleash.adminToken }, ctx).read('anything').catch((e: unknown) => e)) as BackendError;
      expect(err).toBeInstanceOf(BackendError);
      expect(err.status).toBe(404);
      expect(err.message).toMatch(/not Unleash's/);
      expect(err.hint).toMatch(/Check `url`/);
    } finally {
      await proxy.close();
    }
    // a base URL with a wrong path in front of a real Unleash fails too, rather than reading "absent"
    await expect(create({ url: `${unleash.url}/wrong/prefix`, token: unleash.adminToken }, ctx).read('anything')).rejects.toBeInstanceOf(BackendError);
  });

  it('refuses a missing flag without create: names the flag, hints at create: true, writes nothing', async () => {
    const flag = uniq('missing');
    const err = (await backend().apply({ flag, enabled: true, percentage: 5 }).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toContain(`unleash (${unleash.url})`);
    expect(err.message).toContain(`flag ${flag} does not exist in project default`);
    expect(err.hint).toMatch(/create: true/);
    expect(await admin.feature(flag)).toBeUndefined();
    expect(await backend().read(flag)).toEqual({ flag, exists: false, enabled: false, percentage: 0 });
  });

  it('creates a missing flag when asked', async () => {
    const flag = uniq('created');
    await backend({ create: true }).apply({ flag, enabled: true, percentage: 15 });
    expect(await admin.feature(flag)).toMatchObject({ name: flag, project: 'default' });
    expect(await backend().read(flag)).toMatchObject({ exists: true, enabled: true, percentage: 15 });
    expect(logs.join('\n')).toContain(`created flag ${flag}`);
  });

  it('says why it cannot create a flag whose name is taken by an archived one', async () => {
    const flag = uniq('archived');
    await admin.createFeature(flag);
    await admin.archive(flag);
    const err = (await backend({ create: true }).apply({ flag, enabled: true }).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(409);
    expect(err.message).toContain('An archived flag with that name already exists');
    expect(err.hint).toMatch(/archive/);
  });

  it('shows the details of a 400 from Unleash (not just "refer to details")', async () => {
    const err = (await backend({ create: true }).apply({ flag: 'not url friendly', enabled: true }).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/HTTP 400: Request validation failed.*: "name" must be URL friendly/);
    expect(err.message).not.toMatch(/Refer to the/);
  });

  it('names the environments a flag has when the configured one is missing', async () => {
    const flag = uniq('env');
    await admin.createFeature(flag);
    await expect(backend({ environment: 'staging' }).read(flag)).rejects.toThrow(/no environment "staging".*development, production/);
  });

  it('creating a flag for an environment Unleash does not have fails with Unleash\'s message', async () => {
    const flag = uniq('newenv');
    const err = (await backend({ create: true, environment: 'staging' }).apply({ flag, enabled: true, percentage: 5 }).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(400);
    expect(err.message).toMatch(/HTTP 400: Request validation failed.*: You have not added the current environment to the project$/);
    expect(err.message.split('You have not added').length, 'said once').toBe(2);
  });

  it('logs that Unleash buckets in whole percents', async () => {
    const flag = uniq('frac');
    await admin.createFeature(flag);
    await backend().apply({ flag, enabled: true, percentage: 12.5 });
    expect(logs.join('\n')).toMatch(/12\.5% serves the same users as 12%/);
    expect((await admin.env(flag)).strategies[0]!.parameters).toMatchObject({ rollout: '12.5' });
  });

  describe('writes whose outcome is unknown', () => {
    it('re-reads instead of re-posting when a strategy POST landed but its answer was lost', async () => {
      const proxy = await startUnleashProxy(unleash.url);
      try {
        const flag = uniq('lost');
        await admin.createFeature(flag);
        proxy.rule({ method: 'POST', path: /\/strategies$/, action: 'lose-answer', times: 1 });
        const b = create({ url: proxy.url, token: unleash.adminToken, timeoutMs: 3_000, retryBudgetMs: 2_000 }, ctx);
        await b.apply({ flag, enabled: true, percentage: 40 });
        expect(proxy.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/strategies'))).toHaveLength(1);
        const env = await admin.env(flag);
        expect(env.strategies).toHaveLength(1);
        expect(env.strategies[0]).toMatchObject({ title: ROLLOUT_TITLE, parameters: { rollout: '40' } });
        expect(env.enabled).toBe(true);
      } finally {
        await proxy.close();
      }
    });

    it('posts once more when the re-read shows the write did not happen', async () => {
      const proxy = await startUnleashProxy(unleash.url);
      try {
        const flag = uniq('notlanded');
        proxy.rule({ method: 'POST', path: /\/projects\/default\/features$/, action: { status: 503 }, times: 1 });
        const b = create({ url: proxy.url, token: unleash.adminToken, create: true, timeoutMs: 3_000, retryBudgetMs: 2_000 }, ctx);
        await b.apply({ flag, enabled: true, percentage: 3 });
        expect(proxy.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/features'))).toHaveLength(2);
        expect(logs.join('\n')).toMatch(/did not happen, trying once more/);
        expect(await admin.env(flag)).toMatchObject({ enabled: true, strategies: [expect.objectContaining({ parameters: expect.objectContaining({ rollout: '3' }) })] });
      } finally {
        await proxy.close();
      }
    });

    it('gives up with the original error when the second try fails too', async () => {
      const proxy = await startUnleashProxy(unleash.url);
      try {
        const flag = uniq('gaveup');
        proxy.rule({ method: 'POST', path: /\/projects\/default\/features$/, action: { status: 503, body: '{"message":"maintenance"}' }, times: 5 });
        const b = create({ url: proxy.url, token: unleash.adminToken, create: true, timeoutMs: 3_000, retryBudgetMs: 2_000 }, ctx);
        const err = (await b.apply({ flag, enabled: true }).catch((e: unknown) => e)) as BackendError;
        expect(err).toBeInstanceOf(BackendError);
        expect(err.status).toBe(503);
        expect(err.message).toContain('maintenance');
        expect(proxy.requests.filter((r) => r.method === 'POST')).toHaveLength(2);
        expect(await admin.feature(flag)).toBeUndefined();
      } finally {
        await proxy.close();
      }
    });
  });

  it('applies and disables 500 flags with bounded concurrency', { timeout: 300_000 }, async () => {
    const prefix = uniq('bulk');
    const flags = Array.from({ length: 500 }, (_, i) => `${prefix}-${i}`);
    const b = backend({ create: true, timeoutMs: 20_000, retryBudgetMs: 20_000 });
    const limit = 8;
    let inFlight = 0;
    let maxInFlight = 0;
    const runAll = async (job: (flag: string, i: number) => Promise<void>) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: limit }, async () => {
          while (next < flags.length) {
            const i = next++;
            inFlight++;
            maxInFlight = Math.max(maxInFlight, inFlight);
            try {
              await job(flags[i]!, i);
            } finally {
              inFlight--;
            }
          }
        }),
      );
    };
    await runAll((flag, i) => b.apply({ flag, enabled: true, percentage: i % 101 }));
    await runAll((flag) => b.apply({ flag, enabled: false }));
    expect(maxInFlight).toBeLessThanOrEqual(limit);
    const states: FlagState[] = [];
    await runAll(async (flag) => void states.push(await b.read(flag)));
    expect(states).toHaveLength(500);
    for (const s of states) {
      const i = Number(s.flag.slice(prefix.length + 1));
      expect(s).toEqual({ flag: s.flag, exists: true, enabled: false, percentage: i % 101 });
    }
    // no duplicates anywhere: exactly one strategy per flag
    for (const f of [flags[0]!, flags[250]!, flags[499]!]) expect((await admin.env(f)).strategies).toHaveLength(1);
  });
});

it('the contract\'s missing flag was never created', async () => {
  expect(await admin.feature(CONTRACT_MISSING_FLAG)).toBeUndefined();
});
