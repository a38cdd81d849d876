/**
 * A partial rollback for some users (FlagChange.exclude) on the file and fake backends: flagd
 * (evaluated by @openfeature/flagd-core, flagd's own evaluation core), LaunchDarkly (the fake
 * built from its documented semantic patch: a rule serving `false` added first with
 * `beforeRuleId`), and the backends that cannot (env-file, command, http without {{exclude}})
 * refusing with a RolloutError that names the cohort and says which backends can.
 * Unleash has its own file against the real server (unleash-exclude.test.ts).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FlagdCore } from '@openfeature/flagd-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { create as flagd } from '../../src/adapters/flags/flagd.js';
import { create as launchdarkly } from '../../src/adapters/flags/launchdarkly.js';
import { create as envFile } from '../../src/adapters/flags/env-file.js';
import { create as command } from '../../src/adapters/flags/command.js';
import { create as httpBackend } from '../../src/adapters/flags/http.js';
import type { AdapterContext } from '../../src/adapters/types.js';
import { BackendError } from '../../src/errors.js';
import { startLaunchDarklyFake, type LaunchDarklyFake } from '../fakes/launchdarkly.js';

const KEYS = Array.from({ length: 5_000 }, (_, i) => `user-${i}`);
let dir: string;
const ctx = (): AdapterContext => ({ baseDir: dir, cwd: dir, log: () => undefined, env: process.env });
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rollout-exclude-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

describe('flagd: an `or` rule serving "off" first in the chain', () => {
  it('the rolled-back segment and ring get off, everybody else exactly what they got before; kept by a change without exclude; {} lifts it', async () => {
    const b = flagd({ path: 'flags.flagd.json' }, ctx());
    const file = join(dir, 'flags.flagd.json');
    const evaluate = async () => {
      const core = new FlagdCore();
      core.setConfigurations(await readFile(file, 'utf8'));
      return (c: Record<string, string>) => core.resolveBooleanEvaluation('chat', false, c).value;
    };
    await b.apply({ flag: 'chat', enabled: true, percentage: 40, segments: ['beta-users'], rings: { internal: 100 } });
    const before = await evaluate();
    const was = KEYS.map((k) => before({ targetingKey: k }));
    await b.apply({ flag: 'chat', enabled: true, percentage: 40, segments: ['beta-users'], rings: { internal: 100 }, exclude: { segments: ['eu-users'], rings: ['internal'] } });
    const ev = await evaluate();
    expect(KEYS.filter((k) => ev({ targetingKey: k, segment: 'eu-users' }))).toEqual([]);
    expect(KEYS.filter((k) => ev({ targetingKey: k, ring: 'internal' }))).toEqual([]);
    // everybody else: unchanged, user by user (about 40 %), and the beta segment still all on
    expect(KEYS.map((k) => ev({ targetingKey: k }))).toEqual(was);
    expect(KEYS.filter((k) => ev({ targetingKey: k, segment: 'beta-users' })).length).toBe(KEYS.length);
    expect((await b.read('chat')).exclude).toEqual({ segments: ['eu-users'], rings: ['internal'] });
    // A later step without `exclude` keeps it; `{}` lifts it.
    await b.apply({ flag: 'chat', enabled: true, percentage: 60 });
    const at60 = await evaluate();
    expect(KEYS.filter((k) => at60({ targetingKey: k, segment: 'eu-users' }))).toEqual([]);
    expect((await b.read('chat')).exclude).toEqual({ segments: ['eu-users'], rings: ['internal'] });
    await b.apply({ flag: 'chat', enabled: true, percentage: 60, exclude: {} });
    const lifted = await evaluate();
    expect(KEYS.filter((k) => lifted({ targetingKey: k, segment: 'eu-users' })).length).toBe(KEYS.filter((k) => lifted({ targetingKey: k })).length);
    expect((await b.read('chat')).exclude).toBeUndefined();
  });
});

describe('launchdarkly (fake): a rule serving false before every other rule', () => {
  let fake: LaunchDarklyFake;
  beforeAll(async () => {
    fake = await startLaunchDarklyFake({ token: 'api-0123456789-secret-token', environments: ['production'] });
  });
  afterAll(async () => fake.close());

  it('segments (segmentMatch) and rings (ring in), first via beforeRuleId; unchanged = no PATCH; [] removes them; read reports them', async () => {
    fake.reset();
    fake.seedFlag('shop', 'chat');
    const b = launchdarkly({ baseUrl: fake.url, apiToken: fake.token, projectKey: 'shop', environmentKey: 'production', retryBudgetMs: 0, timeoutMs: 2_000 }, ctx());
    await b.apply({ flag: 'chat', enabled: true, percentage: 25, segments: ['beta-users'], rings: { internal: 100 } });
    await b.apply({ flag: 'chat', enabled: true, percentage: 25, segments: ['beta-users'], rings: { internal: 100 }, exclude: { segments: ['eu-users'], rings: ['android-7'] } });
    const flag = () => fake.flag('shop', 'chat')!;
    const offIdx = flag().variations.findIndex((v) => v.value === false);
    const rules = () => flag().environments.production!.rules;
    expect(rules().map((r) => r.description)).toEqual(['managed by rollout: rolled back segments', 'managed by rollout: rolled back rings', 'managed by rollout: segments', 'managed by rollout: ring internal']);
    expect(rules()[0]).toMatchObject({ variation: offIdx, clauses: [expect.objectContaining({ attribute: 'segmentMatch', op: 'segmentMatch', values: ['eu-users'], negate: false })] });
    expect(rules()[1]).toMatchObject({ variation: offIdx, clauses: [expect.objectContaining({ attribute: 'ring', op: 'in', values: ['android-7'], negate: false })] });
    const patch = JSON.parse(fake.requests.filter((r) => r.method === 'PATCH').at(-1)!.body) as { instructions: Array<Record<string, unknown>> };
    expect(patch.instructions.filter((i) => i.kind === 'addRule').every((i) => typeof i.beforeRuleId === 'string')).toBe(true);
    expect(await b.read('chat')).toMatchObject({ percentage: 25, exclude: { segments: ['eu-users'], rings: ['android-7'] } });
    const n = fake.requests.filter((r) => r.method === 'PATCH').length;
    await b.apply({ flag: 'chat', enabled: true, percentage: 25, segments: ['beta-users'], rings: { internal: 100 }, exclude: { segments: ['eu-users'], rings: ['android-7'] } });
    await b.apply({ flag: 'chat', enabled: true, percentage: 25, segments: ['beta-users'], rings: { internal: 100 } }); // exclude absent: left alone
    expect(fake.requests.filter((r) => r.method === 'PATCH').length).toBe(n);
    await b.apply({ flag: 'chat', enabled: true, percentage: 50, rings: { internal: 100 }, exclude: { segments: [], rings: [] } });
    expect(rules().map((r) => r.description)).toEqual(['managed by rollout: segments', 'managed by rollout: ring internal']);
    expect((await b.read('chat')).exclude).toBeUndefined();
  });
});

describe('backends that cannot turn a flag off for some users only', () => {
  const change = { flag: 'domain', enabled: true, percentage: 25, exclude: { segments: ['eu-users'] } };
  it('env-file, command and http without {{exclude}} refuse (a RolloutError naming the cohort, the backends that can); off for everybody is fine', async () => {
    const backends = [
      envFile({ path: 'flags.env' }, ctx()),
      command({ apply: ['node', '-e', ''] }, ctx()),
      httpBackend({ baseUrl: 'http://127.0.0.1:9', apply: { path: '/flags/{{flag}}', body: { on: '{{enabled}}' } }, read: { path: '/flags/{{flag}}' }, retryBudgetMs: 0, timeoutMs: 500 }, ctx()),
    ];
    for (const b of backends) {
      expect(b.excludes ?? false, b.name).toBe(false);
      const err = (await b.apply(change).catch((e: unknown) => e)) as BackendError;
      expect(err, b.name).toBeInstanceOf(BackendError);
      expect(err.message).toMatch(/domain: cannot turn the flag off for segment eu-users only/);
      expect(err.hint).toMatch(/Backends that can: local, unleash, flagd, launchdarkly/);
      expect(err.exitCode).toBe(8);
    }
    await backends[0]!.apply({ ...change, enabled: false, percentage: 0 });
    expect(await readFile(join(dir, 'flags.env'), 'utf8')).toMatch(/DOMAIN_ENABLED=false/);
    // http with {{exclude}} in its write request can.
    const withExclude = httpBackend({ baseUrl: 'http://127.0.0.1:9', apply: { path: '/flags/{{flag}}', body: { on: '{{enabled}}', except: '{{exclude}}' } }, read: { path: '/flags/{{flag}}' } }, ctx());
    expect(withExclude.excludes).toBe(true);
  });
});
