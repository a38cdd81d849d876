/**
 * A partial rollback (FlagChange.exclude) on the real Unleash 7.5.1: the adapter ANDs the
 * negated cohort onto every strategy it owns, and the official SDK (unleash-client, client
 * token) over 2,000 users sees the flag off for every member of the rolled-back segment / ring
 * while everybody else keeps exactly the bucket a plain rollout gives them (src/util/bucket.ts,
 * Unleash's own hashing) — through a later step, until the exclusion is lifted.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { create } from '../../src/adapters/flags/unleash.js';
import type { AdapterContext, FlagBackend } from '../../src/adapters/types.js';
import { unleashSdk, type UnleashClient } from './unleash-sdk.js';
import { BackendError } from '../../src/errors.js';
import { inRollout } from '../../src/util/bucket.js';
import { UnleashAdmin } from './unleash-admin.js';

const N = 2_000;
const USERS = Array.from({ length: N }, (_, i) => `user-${i}`);
/** The rolled-back cohort: every 10th user, as an Unleash segment `userId IN [...]`. */
const COHORT = USERS.filter((_, i) => i % 10 === 0);
const ctx: AdapterContext = { baseDir: process.cwd(), cwd: process.cwd(), log: () => undefined, env: process.env };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const uniq = (p: string) => `${p}-${randomBytes(4).toString('hex')}`;

let backend: FlagBackend;
let admin: UnleashAdmin;
let client: UnleashClient;
const clientErrors: string[] = [];

beforeAll(async () => {
  backend = create({ url: inject('unleashUrl'), token: inject('unleashAdminToken'), create: true, timeoutMs: 5_000, retryBudgetMs: 5_000 }, ctx);
  admin = new UnleashAdmin(inject('unleashUrl'), inject('unleashAdminToken'));
  client = await unleashSdk('rollout-exclude-test', clientErrors);
}, 30_000);
afterAll(() => client?.destroy());

/** Wait (bounded) until the SDK's copy of the flag satisfies `ok`. */
async function sdkSees(flag: string, what: string, ok: (def: NonNullable<ReturnType<UnleashClient['getFeatureToggleDefinition']>>) => boolean): Promise<void> {
  for (const t0 = Date.now(); Date.now() - t0 < 15_000; await sleep(50)) {
    const def = client.getFeatureToggleDefinition(flag);
    if (def && ok(def)) return;
  }
  throw new Error(`the SDK did not see ${what} on ${flag} within 15 s; client errors: ${clientErrors.join('; ') || 'none'}`);
}
type Def = { enabled?: boolean; strategies?: Array<{ parameters?: Record<string, unknown>; constraints?: Array<{ operator?: string }> }> };
/** Strategies (as the SDK holds them: the client API leaves titles out) carrying a NOT_IN: the exclusion. */
const excluding = (d: Def) => (d.strategies ?? []).filter((s) => s.constraints?.some((c) => c.operator === 'NOT_IN')).length;

/** Who gets the flag, per the SDK, for users with these context properties. */
function exposure(flag: string, properties: Record<string, string> = {}) {
  const on = new Set<string>();
  for (const userId of USERS) if (client.isEnabled(flag, { userId, properties })) on.add(userId);
  return on;
}

describe('unleash: roll back one cohort, the rest keep their percentage (unleash-client SDK over 2,000 users)', () => {
  it('a segment: off for all its members, everybody else exactly their bucket; kept by a later step; lifted by exclude {}', { timeout: 90_000 }, async () => {
    const flag = uniq('exclude-seg');
    const segment = uniq('cohort');
    await admin.createSegment(segment, COHORT);
    const allowed = COHORT[3]!; // allowlisted, but in the rolled-back segment: off as well
    await backend.apply({ flag, enabled: true, percentage: 50, users: [allowed] });
    await backend.apply({ flag, enabled: true, percentage: 50, users: [allowed], exclude: { segments: [segment] } });
    const env = await admin.env(flag);
    const ids = env.strategies.map((s) => s.id).sort();
    // Every strategy rollout owns carries the negated segment constraint.
    for (const s of env.strategies) expect(s.constraints, s.title ?? '').toContainEqual(expect.objectContaining({ contextName: 'userId', operator: 'NOT_IN', values: expect.arrayContaining(COHORT.slice(0, 5)) }));
    await sdkSees(flag, 'the exclusion', (d) => excluding(d) === 2);

    const on = exposure(flag);
    const wrong: string[] = [];
    for (const u of USERS) {
      const want = COHORT.includes(u) ? false : inRollout(u, flag, 50);
      if (on.has(u) !== want) wrong.push(`${u}: sdk ${on.has(u)}, expected ${want}`);
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(COHORT.filter((u) => on.has(u))).toEqual([]);
    const rest = USERS.length - COHORT.length;
    const share = ((on.size / rest) * 100).toFixed(1);
    // Measured share of everybody else (about 50 %): printed so the report can quote it.
    console.log(`unleash exclude: cohort ${COHORT.length} users all off; others ${on.size}/${rest} on (${share} %)`);

    // Idempotent: the same change writes nothing (same strategy ids, same constraints).
    await backend.apply({ flag, enabled: true, percentage: 50, users: [allowed], exclude: { segments: [segment] } });
    expect((await admin.env(flag)).strategies.map((s) => s.id).sort()).toEqual(ids);

    // A later step without `exclude` keeps it.
    await backend.apply({ flag, enabled: true, percentage: 75 });
    await sdkSees(flag, '75 %', (d) => (d.strategies ?? []).some((x) => x.parameters?.rollout === '75'));
    const at75 = exposure(flag);
    expect(COHORT.filter((u) => at75.has(u))).toEqual([]);
    expect(USERS.filter((u) => !COHORT.includes(u) && at75.has(u) !== inRollout(u, flag, 75))).toEqual([]);

    // Lifted: the cohort is back in its buckets.
    await backend.apply({ flag, enabled: true, percentage: 75, exclude: {} });
    await sdkSees(flag, 'the exclusion lifted', (d) => excluding(d) === 0);
    const back = exposure(flag);
    expect(COHORT.filter((u) => u !== allowed && back.has(u) !== inRollout(u, flag, 75))).toEqual([]);
    expect(back.has(allowed)).toBe(true);

    // A full rollback still turns everybody off.
    await backend.apply({ flag, enabled: true, percentage: 75, exclude: { segments: [segment] } });
    await backend.apply({ flag, enabled: false, percentage: 0 });
    await sdkSees(flag, 'off', (d) => d.enabled === false);
    expect(exposure(flag).size).toBe(0);
  });

  it('a ring: NOT_IN on the ring context field; ring members off, other rings keep their share', { timeout: 60_000 }, async () => {
    const flag = uniq('exclude-ring');
    await backend.apply({ flag, enabled: true, percentage: 30, rings: { beta: 100 }, exclude: { rings: ['internal'] } });
    expect((await backend.read(flag)).exclude).toEqual({ rings: ['internal'] });
    await sdkSees(flag, 'the ring exclusion', (d) => excluding(d) === 2);
    expect(exposure(flag, { ring: 'internal' }).size).toBe(0);
    expect(exposure(flag, { ring: 'beta' }).size).toBe(N);
    const ga = exposure(flag, { ring: 'ga' });
    expect(USERS.filter((u) => ga.has(u) !== inRollout(u, flag, 30))).toEqual([]);
  });

  it('a segment of several constraints cannot be negated by one strategy: refused with a hint, nothing written', async () => {
    const flag = uniq('exclude-multi');
    const segment = uniq('multi');
    await admin.call('POST', '/api/admin/segments', {
      name: segment,
      constraints: [
        { contextName: 'userId', operator: 'IN', values: ['a'] },
        { contextName: 'userId', operator: 'NOT_IN', values: ['b'] },
      ],
    });
    await backend.apply({ flag, enabled: true, percentage: 20 });
    const before = JSON.stringify((await admin.env(flag)).strategies);
    const err = (await backend.apply({ flag, enabled: true, percentage: 20, exclude: { segments: [segment] } }).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toMatch(/cannot roll back Unleash segment .* 2 constraints/);
    expect(err.hint).toMatch(/one constraint/);
    expect(JSON.stringify((await admin.env(flag)).strategies)).toBe(before);
    const unknown = (await backend.apply({ flag, enabled: true, percentage: 20, exclude: { segments: ['no-such-segment'] } }).catch((e: unknown) => e)) as BackendError;
    expect(unknown.message).toMatch(/unknown Unleash segment "no-such-segment"/);
  });
});
