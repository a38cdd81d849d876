/** Crash safety against a real Unleash, a run that completes: see crash.test.ts for what is checked. */
import { describe, expect, it } from 'vitest';
import { sweep } from './crash-sweep.js';
import { unleashCrashSetup } from './crash-unleash.js';

describe('crash safety: real Unleash', () => {
  const { env, variant, inUnleash } = unleashCrashSetup();

  it('a run that completes', async () => {
    const s = await sweep('unleash, completes', variant('ok', false), { env, extra: (v) => inUnleash(v) });
    expect(s.rollbackReruns).toEqual([]);
    expect(s.baseExtra).toMatchObject({ A: { enabled: true, strategies: [{ title: 'managed by rollout', rollout: '100' }] }, B: { enabled: true, strategies: [{ rollout: '100' }] } });
    const history = (s.baseExtra as { A: { history: string[] } }).A.history;
    expect(history.filter((h) => h.startsWith('feature-strategy-')).map((h) => h.split(':')[1])).toEqual(['10', '30', '60', '100']);
  }, 600_000);
});
