/**
 * What users actually get: set rollout steps through the adapter on the shared real Unleash,
 * then evaluate 10,000 user ids with the official Node SDK (unleash-client, client token). The
 * share enabled must track the step, the SDK must agree user by user with src/util/bucket.ts
 * (the local backend's bucketing), and a user in at a lower step must stay in at higher ones.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { create } from '../../src/adapters/flags/unleash.js';
import type { AdapterContext, FlagBackend } from '../../src/adapters/types.js';
import { unleashSdk, type UnleashClient } from './unleash-sdk.js';
import { inRollout } from '../../src/util/bucket.js';

const STEPS = [1, 5, 10, 25, 50, 75, 100];
const N = 10_000;
const USERS = Array.from({ length: N }, (_, i) => (i % 2 ? `user-${i}` : `${i.toString(36)}@example.com`));
const logs: string[] = [];
const ctx: AdapterContext = { baseDir: process.cwd(), cwd: process.cwd(), log: (m) => logs.push(m), env: process.env };

let backend: FlagBackend;
let client: UnleashClient;
const clientErrors: string[] = [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait (bounded) until the SDK's copy of `flag` satisfies `ok`. */
async function sdkSees(flag: string, ok: (def: ReturnType<UnleashClient['getFeatureToggleDefinition']>) => boolean, timeoutMs = 15_000): Promise<void> {
  const started = Date.now();
  while (!ok(client.getFeatureToggleDefinition(flag))) {
    if (Date.now() - started > timeoutMs) {
      throw new Error(`the SDK did not see the change to ${flag} within ${timeoutMs} ms: ${JSON.stringify(client.getFeatureToggleDefinition(flag))}; client errors: ${clientErrors.join('; ') || 'none'}`);
    }
    await sleep(50);
  }
}

const rolloutOf = (def: ReturnType<UnleashClient['getFeatureToggleDefinition']>) =>
  def?.strategies?.find((s) => s.name === 'flexibleRollout' && s.constraints?.length === 0)?.parameters?.rollout;

async function applyAndSync(flag: string, pct: number, users?: string[]): Promise<void> {
  await backend.apply({ flag, enabled: true, percentage: pct, ...(users ? { users } : {}) });
  await sdkSees(flag, (def) => def?.enabled === true && rolloutOf(def) === String(pct) && (!users || (def.strategies?.length ?? 0) === 2));
}

beforeAll(async () => {
  backend = create({ url: inject('unleashUrl'), token: inject('unleashAdminToken'), create: true, timeoutMs: 5_000, retryBudgetMs: 5_000 }, ctx);
  client = await unleashSdk('rollout-distribution-test', clientErrors);
}, 30_000);

afterAll(() => {
  client?.destroy();
});

describe('unleash rollout distribution (unleash-client SDK)', () => {
  it('enables the step share, agrees with bucket.ts user by user, and is sticky across steps', { timeout: 120_000 }, async () => {
    const flag = `dist-${randomBytes(4).toString('hex')}`;
    const enabledAt = new Map<number, Set<string>>();
    for (const step of STEPS) {
      await applyAndSync(flag, step);
      const on = new Set<string>();
      const disagree: string[] = [];
      for (const userId of USERS) {
        const sdk = client.isEnabled(flag, { userId });
        if (sdk) on.add(userId);
        if (sdk !== inRollout(userId, flag, step)) disagree.push(userId);
      }
      enabledAt.set(step, on);
      expect(disagree, `SDK and bucket.ts disagree at ${step}% for ${disagree.length} users, e.g. ${disagree.slice(0, 5).join(', ')}`).toEqual([]);
      const share = (100 * on.size) / N;
      // deterministic per user, but the flag name (groupId) is random: allow 4 standard deviations
      const p = step / 100;
      const tolerance = Math.max(0.5, 400 * Math.sqrt((p * (1 - p)) / N));
      expect(Math.abs(share - step), `share at ${step}%: ${share}%`).toBeLessThanOrEqual(tolerance);
      if (step === 100) expect(on.size).toBe(N);
    }
    // stickiness: in at 5% → still in at 25%; and generally each step keeps the previous users
    const at5 = enabledAt.get(5)!;
    const at25 = enabledAt.get(25)!;
    expect(at5.size).toBeGreaterThan(0);
    expect([...at5].filter((u) => !at25.has(u))).toEqual([]);
    for (let i = 1; i < STEPS.length; i++) {
      const lost = [...enabledAt.get(STEPS[i - 1]!)!].filter((u) => !enabledAt.get(STEPS[i]!)!.has(u));
      expect(lost, `users dropped going from ${STEPS[i - 1]}% to ${STEPS[i]}%`).toEqual([]);
    }
  });

  it('serves allowlisted users outside the rollout, and nobody once disabled', { timeout: 60_000 }, async () => {
    const flag = `dist-list-${randomBytes(4).toString('hex')}`;
    const outside = USERS.filter((u) => !inRollout(u, flag, 1)).slice(0, 3);
    await applyAndSync(flag, 1, outside);
    for (const u of outside) expect(client.isEnabled(flag, { userId: u }), u).toBe(true);
    const share = USERS.filter((userId) => client.isEnabled(flag, { userId })).length;
    expect(share).toBe(USERS.filter((u) => inRollout(u, flag, 1)).length + outside.length);

    await backend.apply({ flag, enabled: false });
    await sdkSees(flag, (def) => def?.enabled === false);
    expect(USERS.some((userId) => client.isEnabled(flag, { userId }))).toBe(false);
  });

  it('serves the members of an allowlisted segment outside the rollout', { timeout: 60_000 }, async () => {
    const flag = `dist-seg-${randomBytes(4).toString('hex')}`;
    const members = USERS.filter((u) => !inRollout(u, flag, 2)).slice(0, 4);
    const segment = `rollout-beta-${randomBytes(4).toString('hex')}`;
    const res = await fetch(`${inject('unleashUrl')}/api/admin/segments`, {
      method: 'POST',
      headers: { authorization: inject('unleashAdminToken'), 'content-type': 'application/json' },
      body: JSON.stringify({ name: segment, constraints: [{ contextName: 'userId', operator: 'IN', values: members }] }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(res.status, await res.text()).toBe(201);
    await backend.apply({ flag, enabled: true, percentage: 2, segments: [segment] });
    await sdkSees(flag, (def) => def?.enabled === true && rolloutOf(def) === '2' && (def.strategies?.length ?? 0) === 2);
    for (const u of members) expect(client.isEnabled(flag, { userId: u }), u).toBe(true);
    const on = USERS.filter((userId) => client.isEnabled(flag, { userId })).length;
    expect(on).toBe(USERS.filter((u) => inRollout(u, flag, 2)).length + members.length);
  });

  it('ring steps: each ring its own share by the ring context field, everybody else the base; a percentage step removes them', { timeout: 60_000 }, async () => {
    const flag = `dist-ring-${randomBytes(4).toString('hex')}`;
    // seed 004: {"internal": 100, "beta": 50, "ga": 0} — ga is the base percentage
    await backend.apply({ flag, enabled: true, percentage: 0, rings: { internal: 100, beta: 50 } });
    await sdkSees(flag, (def) => def?.enabled === true && (def.strategies?.length ?? 0) === 3);
    const share = (ring?: string) => (100 * USERS.filter((userId) => client.isEnabled(flag, { userId, ...(ring ? { properties: { ring } } : {}) })).length) / N;
    expect(share('internal')).toBe(100);
    expect(Math.abs(share('beta') - 50)).toBeLessThanOrEqual(2);
    // the same users as bucket.ts at 50% (groupId = flag): a beta user in now stays in later
    expect(USERS.filter((userId) => client.isEnabled(flag, { userId, properties: { ring: 'beta' } }) !== inRollout(userId, flag, 50))).toEqual([]);
    expect(share()).toBe(0);
    expect(share('customers')).toBe(0);
    expect(await backend.read(flag)).toMatchObject({ enabled: true, percentage: 0, rings: { internal: 100, beta: 50 } });
    // the next step is a plain percentage: the ring strategies go
    await backend.apply({ flag, enabled: true, percentage: 25 });
    await sdkSees(flag, (def) => (def?.strategies?.length ?? 0) === 1 && rolloutOf(def) === '25');
    expect((await backend.read(flag)).rings).toBeUndefined();
    expect(Math.abs(share('internal') - 25)).toBeLessThanOrEqual(2);
  });

  it('honours stickiness userId the same way (bucket by userId, groupId = flag)', { timeout: 60_000 }, async () => {
    const flag = `dist-uid-${randomBytes(4).toString('hex')}`;
    await backend.apply({ flag, enabled: true, percentage: 30, stickiness: 'userId' });
    await sdkSees(flag, (def) => def?.enabled === true && def.strategies?.[0]?.parameters?.stickiness === 'userId');
    const disagree = USERS.filter((userId) => client.isEnabled(flag, { userId }) !== inRollout(userId, flag, 30));
    expect(disagree).toEqual([]);
    // without a userId, userId stickiness enables nobody (the SDK needs the field)
    expect(client.isEnabled(flag, { sessionId: 's-1' })).toBe(false);
  });
});
