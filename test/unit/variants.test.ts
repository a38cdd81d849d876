/**
 * Variant experiments on the local store: the split (Unleash weights of 1000, sorted by name as
 * Unleash keeps them), assignment identical to the official unleash-client SDK's own code user
 * by user, the shares over 10,000 users, `rollout evaluate` answering with the variant, and
 * plan validation (shares add up; backends that cannot split refuse).
 */
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { create as createLocal, evaluate, readStore } from '../../src/adapters/flags/local.js';
import { unleashVariants } from '../../src/adapters/flags/unleash.js';
import { parsePlanText } from '../../src/plan/load.js';
import { stepChanges } from '../../src/engine/engine.js';
import { selectVariant, toWeights } from '../../src/util/variants.js';
import { cli } from '../cli/helpers.js';

// The SDK's own variant selection (CommonJS, not in its public exports): the reference.
const require = createRequire(import.meta.url);
const sdk = require('unleash-client/lib/variant.js') as {
  selectVariantDefinition: (groupId: string, stickiness: string | undefined, variants: Array<{ name: string; weight: number; stickiness?: string }>, context: Record<string, unknown>) => { name: string } | null;
};

const N = 10_000;
const USERS = Array.from({ length: N }, (_, i) => (i % 3 ? `user-${i}` : `${(i * 7919).toString(36)}@example.com`));

describe('toWeights: percent splits as Unleash weights', () => {
  it.each([
    [{ control: 50, treatment: 50 }, [['control', 500], ['treatment', 500]]],
    [{ no_recovery: 33.33, auto_recovery: 33.33, manual_recovery: 33.34 }, [['auto_recovery', 333], ['manual_recovery', 334], ['no_recovery', 333]]],
    [{ b: 10, a: 90 }, [['a', 900], ['b', 100]]],
    [{ x: 33.3333, y: 33.3333, z: 33.3334 }, [['x', 333], ['y', 333], ['z', 334]]],
  ])('%o → %o, summing to 1000', (shares, want) => {
    const w = toWeights(Object.entries(shares).map(([name, percent]) => ({ name, percent })));
    expect(w.map((v) => [v.name, v.weight])).toEqual(want);
    expect(w.reduce((s, v) => s + v.weight, 0)).toBe(1000);
  });
  it('Unleash gets every variant but the last as a fixed weight (it recomputes variable ones)', () => {
    const v = unleashVariants([{ name: 'control', percent: 50 }, { name: 'treatment', percent: 50 }], 'default');
    expect(v).toEqual([
      { name: 'control', weight: 500, weightType: 'fix', stickiness: 'default' },
      { name: 'treatment', weight: 500, weightType: 'variable', stickiness: 'default' },
    ]);
  });
});

describe('selectVariant agrees with unleash-client user by user', () => {
  it.each([
    ['50/50', { control: 50, treatment: 50 }],
    ['33.33/33.33/33.34', { no_recovery: 33.33, auto_recovery: 33.33, manual_recovery: 33.34 }],
    ['90/10', { control: 90, treatment: 10 }],
  ])('%s over 10,000 users: same variant as the SDK for every user, shares within ±1 %', (_, shares) => {
    const weights = toWeights(Object.entries(shares).map(([name, percent]) => ({ name, percent })));
    const counts = new Map<string, number>();
    const disagree: string[] = [];
    for (const userId of USERS) {
      const ours = selectVariant('exp-flag', userId, weights);
      const theirs = sdk.selectVariantDefinition('exp-flag', 'default', weights.map((w) => ({ ...w, stickiness: 'default' })), { userId })?.name ?? null;
      if (ours !== theirs) disagree.push(`${userId}: ${ours} vs ${theirs}`);
      counts.set(ours!, (counts.get(ours!) ?? 0) + 1);
    }
    expect(disagree.slice(0, 5)).toEqual([]);
    for (const [name, pct] of Object.entries(shares)) expect(Math.abs(((counts.get(name) ?? 0) / N) * 100 - pct)).toBeLessThanOrEqual(1);
  });
});

describe('local backend: an experiment phase', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rollout-variants-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const yaml = (backend: string, variants = '{ control: 50, treatment: 50 }') => `
name: exp
backend: { type: ${backend}, url: "http://127.0.0.1:1", token: t, path: flags.json, apiKey: k, projectKey: p, environment: e, file: f.json }
phases:
  - { name: ab, flags: [state_persistence_performance], steps: [100], variants: ${variants} }
`;
  it('the step carries the split; the store keeps it; evaluate returns the variant, sticky per user', async () => {
    const { plan } = await parsePlanText(yaml('local').replace(/, url.*file: f.json/, ''), join(dir, 'p.yaml'), 'p.yaml');
    const [change] = stepChanges(plan, 0, 0);
    expect(change!.variants).toEqual([{ name: 'control', percent: 50 }, { name: 'treatment', percent: 50 }]);
    const path = join(dir, 'flags.json');
    const backend = createLocal({ path }, { baseDir: dir, cwd: dir, log: () => undefined, env: {} });
    await backend.apply(change!);
    const f = (await readStore(path)).state_persistence_performance;
    expect(f?.variants).toEqual([{ name: 'control', weight: 500 }, { name: 'treatment', weight: 500 }]);
    expect((await backend.read('state_persistence_performance')).variants).toEqual(f?.variants);
    const r = evaluate('state_persistence_performance', f, 'user-42');
    expect(r.enabled).toBe(true);
    expect(r.variant).toBe(selectVariant('state_persistence_performance', 'user-42', f!.variants!));
    expect(r.reason).toMatch(/variant (control|treatment)$/);
    expect(evaluate('state_persistence_performance', f, 'user-42').variant).toBe(r.variant);
    const off = evaluate('state_persistence_performance', { ...f!, enabled: false }, 'user-42');
    expect(off.variant).toBeUndefined();
    // The command: `rollout evaluate <flag> --key <user> --json` answers with the variant.
    const cmd = await cli(['evaluate', 'state_persistence_performance', '--key', 'user-42', '--store', path, '--json'], { cwd: dir });
    expect(cmd.code).toBe(0);
    const out = JSON.parse(cmd.stdout) as { variant?: string };
    expect(out).toMatchObject({ flag: 'state_persistence_performance', key: 'user-42', enabled: true });
    expect(out.variant).toBe(selectVariant('state_persistence_performance', 'user-42', f!.variants!));
    const human = await cli(['evaluate', 'state_persistence_performance', '--key', 'user-42', '--store', path], { cwd: dir, env: { NO_COLOR: '1' } });
    expect(human.stdout).toContain(`state_persistence_performance for user-42: ON variant ${out.variant}`);
  });
  it('validation: shares must add up to 100, and only backends that can split accept it', async () => {
    const bad = await parsePlanText(yaml('local', '{ a: 50, b: 40 }').replace(/, url.*file: f.json/, ''), join(dir, 'p.yaml'), 'p.yaml').catch((e: Error) => e);
    expect(String((bad as Error).message ?? bad) + JSON.stringify(bad)).toMatch(/add up to 90%, not 100%/);
    const ld = await parsePlanText(yaml('env-file').replace(/, url.*file: f.json/, ', path: x.env'), join(dir, 'p.yaml'), 'p.yaml').catch((e: Error) => e);
    expect(String((ld as Error).message ?? ld) + JSON.stringify(ld)).toMatch(/env-file backend cannot split a flag into variants \(backends that can: local, unleash, flagd, launchdarkly, and http when its write request sends {{variants}}\)/);
    const flagd = yaml('flagd').replace(/, url.*file: f.json/, ', path: flags.json');
    const { plan } = await parsePlanText(flagd, join(dir, 'p.yaml'), 'p.yaml');
    expect(stepChanges(plan, 0, 0)[0]).toMatchObject({ variants: [{ name: 'control', percent: 50 }, { name: 'treatment', percent: 50 }] });
    const ldPlan = await parsePlanText(yaml('launchdarkly').replace(/, url.*file: f.json/, ', apiToken: t, projectKey: p, environmentKey: production'), join(dir, 'p.yaml'), 'p.yaml');
    expect(stepChanges(ldPlan.plan, 0, 0)[0]).toMatchObject({ variants: [{ name: 'control', percent: 50 }, { name: 'treatment', percent: 50 }] });
    const off = await parsePlanText(yaml('flagd', '{ off: 50, on: 50 }').replace(/, url.*file: f.json/, ', path: flags.json'), join(dir, 'p.yaml'), 'p.yaml').catch((e: Error) => e);
    expect(String((off as Error).message ?? off) + JSON.stringify(off)).toMatch(/on flagd a variant cannot be called "off"/);
  });
});
