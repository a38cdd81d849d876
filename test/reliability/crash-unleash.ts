/**
 * The crash sweeps against a real Unleash (crash-unleash.test.ts: a run that completes;
 * crash-unleash-rollback.test.ts: one that rolls back; two files so they run in parallel):
 * plans on fresh flags per crash point, and what Unleash itself holds and has seen.
 */
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { UnleashAdmin } from '../adapters/unleash-admin.js';
import { crashPlan } from './helpers.js';
import type { Variant } from './crash-sweep.js';

export function unleashCrashSetup() {
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
  return { env, variant, inUnleash };
}
