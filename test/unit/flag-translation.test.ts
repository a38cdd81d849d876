/**
 * The pure halves of the vendor adapters (split out for issue 11): how a change becomes Unleash
 * strategies or LaunchDarkly weights and rules, and how a server's error body becomes a
 * message. The adapters' tests against a real Unleash and the LaunchDarkly fake cover the
 * calls; these pin the decisions that decide whether a write happens at all.
 */
import { describe, expect, it } from 'vitest';
import {
  ALLOWLIST_TITLE,
  ROLLOUT_TITLE,
  allowlistStrategy,
  findManaged,
  managedStrategy,
  readEnvironment,
  ringStrategy,
  sameStrategy,
  segmentStrategy,
  unleashVariants,
  type UnleashStrategy,
} from '../../src/adapters/flags/unleash/strategies.js';
import { experimentWeights, ruleInstructions, sameRollout, share, weightsOf, type Bucketing } from '../../src/adapters/flags/launchdarkly/targeting.js';
import { serverMessage } from '../../src/util/http.js';
import { distributeRemainder } from '../../src/util/variants.js';

/** A strategy as Unleash answers it: an id, and what rollout wrote. */
const asStored = (s: UnleashStrategy, more: Partial<UnleashStrategy> = {}): UnleashStrategy => ({ id: 'id-1', sortOrder: 0, ...s, ...more });

describe('Unleash strategies: one comparison decides whether to write', () => {
  it('a strategy as rollout wrote it is the same, whatever order Unleash keeps constraint values in', () => {
    const want = allowlistStrategy('f', ['ann', 'bob', 'cy']);
    const stored = asStored(want, { constraints: [{ ...want.constraints![0]!, values: ['cy', 'ann', 'bob'] }] });
    expect(sameStrategy(stored, want)).toBe(true);
  });

  it.each<[string, Partial<UnleashStrategy>]>([
    ['disabled', { disabled: true }],
    ['another rollout', { parameters: { rollout: '50', stickiness: 'default', groupId: 'f' } }],
    ['another groupId (a ring member would fall out as the share grows)', { parameters: { rollout: '10', stickiness: 'userId', groupId: 'other' } }],
    ['another stickiness', { parameters: { rollout: '10', stickiness: 'default', groupId: 'f' } }],
    ['another ring value', { constraints: [{ contextName: 'ring', operator: 'IN', values: ['beta'], inverted: false, caseInsensitive: false }] }],
    ['an inverted constraint', { constraints: [{ contextName: 'ring', operator: 'IN', values: ['alpha'], inverted: true, caseInsensitive: false }] }],
    ['a segment added by hand', { segments: [7] }],
  ])('a ring strategy that is %s differs', (_why, edit) => {
    const want = ringStrategy('f', 'ring', 'alpha', 10, 'userId');
    expect(sameStrategy(asStored(want), want)).toBe(true);
    expect(sameStrategy(asStored(want, edit), want)).toBe(false);
  });

  it('the gradual rollout: an adopted plain strategy keeps its extra parameters, gets the title, and compares variants only when the change has a split', () => {
    const plain: UnleashStrategy = { id: 's1', name: 'flexibleRollout', title: '', constraints: [], segments: [], parameters: { rollout: '25', stickiness: 'default', groupId: 'f', extra: 'x' } };
    expect(findManaged([plain])).toBe(plain);
    const want = managedStrategy('f', 25, 'default', plain);
    expect(want).toMatchObject({ title: ROLLOUT_TITLE, parameters: { rollout: '25', stickiness: 'default', groupId: 'f', extra: 'x' } });
    expect(sameStrategy(plain, want)).toBe(false); // untitled: adopted by a write
    const titled = { ...plain, title: ROLLOUT_TITLE, variants: [{ name: 'a', weight: 500 }] };
    expect(sameStrategy(titled, managedStrategy('f', 25, 'default', titled))).toBe(true); // no split asked: the stored one is not compared
    const split = unleashVariants([{ name: 'a', percent: 50 }, { name: 'b', percent: 50 }], 'default');
    expect(sameStrategy(titled, managedStrategy('f', 25, 'default', titled, split))).toBe(false);
    expect(sameStrategy({ ...titled, variants: split }, managedStrategy('f', 25, 'default', titled, split))).toBe(true);
  });

  it('reads back what the strategies enable; disabled owned strategies count for nothing', () => {
    const strategies = [
      asStored(managedStrategy('f', 30, 'default', undefined)),
      asStored(allowlistStrategy('f', ['ann'])),
      asStored(segmentStrategy('f', 'staff', 3), { disabled: true }),
      asStored(ringStrategy('f', 'ring', 'canary', 50, 'default')),
    ];
    expect(readEnvironment('f', { name: 'development', enabled: true, strategies })).toEqual({ flag: 'f', exists: true, enabled: true, percentage: 30, users: ['ann'], rings: { canary: 50 } });
    expect(strategies[1]!.title).toBe(ALLOWLIST_TITLE);
    // Not managed by rollout: the widest plain strategy, and an environment on with none serves everybody.
    expect(readEnvironment('f', { name: 'development', enabled: true, strategies: [] }).percentage).toBe(100);
    expect(readEnvironment('f', { name: 'development', enabled: false, strategies: [] }).percentage).toBe(0);
  });
});

describe('LaunchDarkly targeting: one reading of what a rule serves', () => {
  const b: Bucketing = { contextKind: 'user', bucketBy: 'key', ringAttribute: 'ring' };

  it('a rollout sums its weights per variation; a fixed variation serves all', () => {
    const ro = { rollout: { variations: [{ variation: 0, weight: 20_000 }, { variation: 1, weight: 80_000 }, { variation: 0, weight: 5_000 }] } };
    expect([...weightsOf(ro)]).toEqual([[0, 25_000], [1, 80_000]]);
    expect(share(ro, 0)).toBe(25);
    expect(share({ variation: 1 }, 1)).toBe(100);
    expect(share({ variation: 1 }, 0)).toBe(0);
    expect(share(undefined, 0)).toBe(0);
  });

  it('the same split is the same only as a rollout bucketed the same way', () => {
    const want = new Map([[0, 10_000], [1, 90_000]]);
    const ro = { variations: [{ variation: 0, weight: 10_000 }, { variation: 1, weight: 90_000 }] };
    expect(sameRollout({ rollout: ro }, want, b)).toBe(true);
    expect(sameRollout({ rollout: { ...ro, bucketBy: 'email' } }, want, b)).toBe(false);
    expect(sameRollout({ variation: 0 }, new Map([[0, 100_000]]), b)).toBe(false); // a fixed variation is rewritten as a rollout
    expect(sameRollout({ rollout: ro }, new Map([[0, 10_000], [1, 80_000], [2, 10_000]]), b)).toBe(false);
  });

  it('experiment weights: the rollout share split by largest remainder, the rest off', () => {
    expect(experimentWeights(100, [{ name: 'a', percent: 33.33 }, { name: 'b', percent: 33.33 }, { name: 'c', percent: 33.34 }])).toEqual({
      variants: [{ name: 'a', weight: 33_330 }, { name: 'b', weight: 33_330 }, { name: 'c', weight: 33_340 }],
      off: 0,
    });
    expect(experimentWeights(20, [{ name: 'a', percent: 50 }, { name: 'b', percent: 50 }])).toEqual({ variants: [{ name: 'a', weight: 10_000 }, { name: 'b', weight: 10_000 }], off: 80_000 });
    expect(distributeRemainder([1 / 3, 1 / 3, 1 / 3], 1)).toEqual([0, 0, 1]); // ties: the later part
  });

  it('a ring rule that already serves its share is left alone; one that does not is updated in place', () => {
    const on = { idx: 0, id: 'T', offId: 'F' };
    const rule = (w: number) => ({
      _id: 'r1',
      description: 'managed by rollout: ring canary',
      clauses: [{ attribute: 'ring', op: 'in', values: ['canary'], contextKind: 'user' }],
      rollout: { variations: [{ variation: 0, weight: w }, { variation: 1, weight: 100_000 - w }] },
    });
    const change = { flag: 'f', enabled: true, percentage: 5, rings: { canary: 10 } };
    expect(ruleInstructions({ on: true, rules: [rule(10_000)] }, change, on, b)).toEqual([]);
    expect(ruleInstructions({ on: true, rules: [rule(5_000)] }, change, on, b)).toEqual([
      { kind: 'updateRuleVariationOrRollout', ruleId: 'r1', rolloutWeights: { T: 10_000, F: 90_000 }, rolloutBucketBy: 'key', rolloutContextKind: 'user' },
    ]);
  });
});

describe('serverMessage: the server\'s own words from an error body', () => {
  it.each([
    [JSON.stringify({ error: 'rate limit exceeded' }), 'rate limit exceeded'],
    [JSON.stringify({ message: 'forbidden', code: 'x' }), 'forbidden'],
    [JSON.stringify({ errors: ['a', 'b'] }), '["a","b"]'],
    // Unleash's validation answer: the message points at the details, which are the useful part (once each).
    [
      JSON.stringify({
        message: 'Request validation failed: your request body or params contain invalid data. Refer to the `details` list for more information.',
        details: [{ message: '"name" must be URL friendly' }, { description: '"name" must be URL friendly' }, { message: 'type is unknown' }],
      }),
      'Request validation failed: your request body or params contain invalid data: "name" must be URL friendly; type is unknown',
    ],
    [JSON.stringify({ message: 'The flag "x" already exists', details: [{ message: 'already exists' }] }), 'The flag "x" already exists'],
    ['<html>Bad gateway</html>', '<html>Bad gateway</html>'],
    ['', '(empty response)'],
    ['null', 'null'],
  ])('%s → %s', (body, message) => {
    expect(serverMessage(body)).toBe(message);
  });
});
