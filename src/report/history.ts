/**
 * `rollout report --history`: each check's values over the whole run, asked of its metrics
 * provider (range queries: Prometheus, Datadog), instead of only the values the run recorded
 * when a verdict changed. Best effort: a provider without range queries, or one that fails,
 * leaves that check with the recorded values (and says why).
 */
import type { RunState } from '../engine/types.js';
import type { Check, Plan } from '../plan/model.js';
import type { RangeSeries } from '../adapters/types.js';
import { redact } from '../util/redact.js';

export type History = Record<string, Array<[number, number | null, number | null]>>;

const first = (s: RangeSeries[]) => (s.length ? s[0]!.points : []);

export async function checkHistory(plan: Plan, state: RunState, o: { cwd: string; now: number; maxPoints?: number; log: (m: string) => void }): Promise<History> {
  const { metricsProviders } = await import('../adapters/registry.js');
  const from = state.startedAt;
  const to = state.finishedAt ?? o.now;
  const step = Math.max(1000, plan.intervalMs || 0, Math.ceil((to - from) / (o.maxPoints ?? 600)));
  const checks = new Map<string, Check>();
  for (const p of plan.phases) for (const c of p.checks) if (!checks.has(c.name)) checks.set(c.name, c);
  const out: History = {};
  for (const c of checks.values()) {
    const spec = plan.metrics[c.provider];
    const loader = spec ? metricsProviders[spec.type] : undefined;
    if (!spec || !loader) continue;
    const provider = (await loader()).create(spec.options, { baseDir: plan.dir, cwd: o.cwd, log: o.log, env: process.env });
    try {
      if (!provider.querySeries) {
        o.log(`check ${c.name}: ${spec.type} has no range queries; the chart shows the values the run recorded`);
        continue;
      }
      const [main, base] = await Promise.all([provider.querySeries(c.query, from, to, step), c.relative ? provider.querySeries(c.relative.baseline, from, to, step) : Promise.resolve([])]);
      const baseAt = new Map(first(base).map((p) => [p.at, p.value]));
      out[c.name] = first(main).map((p) => [p.at, p.value, baseAt.get(p.at) ?? null]);
    } catch (err) {
      o.log(`check ${c.name}: history from ${spec.type} failed (${redact((err as Error)?.message ?? String(err))}); the chart shows the values the run recorded`);
    } finally {
      await provider.close?.();
    }
  }
  return out;
}
