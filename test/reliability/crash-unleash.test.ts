/** Crash safety against a real Unleash: see crash.test.ts for what is checked. */
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { UnleashAdmin } from '../adapters/unleash-admin.js';
import { crashPlan } from './helpers.js';
import { sweep, type Variant } from './crash-sweep.js';

describe('crash safety: real Unleash', () => {
  const url = inject('unleashUrl');
  const token = inject('unleashAdminToken');
  const admin = new UnleashAdmin(url, token);
  const env = { UNLEASH_TOKEN: token };
  const backend = `{ type: unleash, url: "${url}", token: "\${UNLEASH_TOKEN}", create: true, environment: development, timeoutMs: 5000, retryBudgetMs: 3000 }`;
  const tag = randomBytes(3).toString('hex');
  const variant = (kind: string, breach: boolean) => (n: number): Variant => {
    const flags: [string, string] = [`crash-${kind}-${tag}-${n}-a`, `crash-${kind}-${tag}-${n}-b`];
    return { text: crashPlan({ name: `crash-${kind}`, flags, breach, backend }), flags };
  };

  /** What Unleash itself holds and has seen: state per flag and its change history. */
  const inUnleash = async (v: Variant) => {
    const out: Record<string, unknown> = {};
    for (const [role, flag] of [['A', v.flags[0]], ['B', v.flags[1]]] as const) {
      const e = await admin.env(flag);
      const history = (await admin.call('GET', `/api/admin/events/${encodeURIComponent(flag)}`)).json() as {
        events: Array<{ id: number; type: string; environment?: string; data?: { parameters?: { rollout?: string }; title?: string } | null }>;
      };
      out[role] = {
        enabled: e.enabled,
        strategies: e.strategies.map((s) => ({ title: s.title, rollout: s.parameters?.rollout })),
        // Oldest first: every change rollout made, with the rollout percentage it set.
        history: history.events
          .filter((x) => x.environment === 'development' || x.type.startsWith('feature-created'))
          .sort((a, b) => a.id - b.id)
          .map((x) => `${x.type}${x.data?.parameters?.rollout !== undefined ? `:${x.data.parameters.rollout}` : ''}`),
      };
    }
    return out;
  };

  it('a run that completes', async () => {
    const s = await sweep('unleash, completes', variant('ok', false), { env, extra: (v) => inUnleash(v) });
    expect(s.rollbackReruns).toEqual([]);
    expect(s.baseExtra).toMatchObject({ A: { enabled: true, strategies: [{ title: 'managed by rollout', rollout: '100' }] }, B: { enabled: true, strategies: [{ rollout: '100' }] } });
    const history = (s.baseExtra as { A: { history: string[] } }).A.history;
    expect(history.filter((h) => h.startsWith('feature-strategy-')).map((h) => h.split(':')[1])).toEqual(['10', '30', '60', '100']);
  }, 600_000);

  it('a run that breaches and rolls back', async () => {
    const s = await sweep('unleash, rolls back', variant('rb', true), { env, extra: (v) => inUnleash(v) });
    expect(s.rollbackReruns.length).toBe(1);
    expect(s.baseExtra).toMatchObject({ A: { enabled: false }, B: { enabled: false } });
    const history = (s.baseExtra as { A: { history: string[] } }).A.history;
    expect(history.filter((h) => h.startsWith('feature-strategy-')).map((h) => h.split(':')[1])).toEqual(['10', '30']);
    expect(history[history.length - 1]).toBe('feature-environment-disabled');
  }, 600_000);
});
