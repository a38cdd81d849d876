/** Crash safety against a real Unleash, a run that breaches and rolls back: see crash.test.ts for what is checked. */
import { describe, expect, it } from 'vitest';
import { sweep } from './crash-sweep.js';
import { unleashCrashSetup } from './crash-unleash.js';

describe('crash safety: real Unleash', () => {
  const { env, variant, inUnleash } = unleashCrashSetup();

  it('a run that breaches and rolls back', async () => {
    const s = await sweep('unleash, rolls back', variant('rb', true), { env, extra: (v) => inUnleash(v) });
    expect(s.rollbackReruns.length).toBe(1);
    expect(s.baseExtra).toMatchObject({ A: { enabled: false }, B: { enabled: false } });
    const history = (s.baseExtra as { A: { history: string[] } }).A.history;
    expect(history.filter((h) => h.startsWith('feature-strategy-')).map((h) => h.split(':')[1])).toEqual(['10', '30']);
    expect(history[history.length - 1]).toBe('feature-environment-disabled');
  }, 600_000);
});
