/**
 * `simulated`: scripted metric values over time, for the demo, `rollout simulate` and tests.
 * A series maps a query name to points [{after: "30s", value: 0.4}, …]: the value in force is
 * the last point whose `after` (time since the run started) has passed. Unknown queries use
 * `default` (or no data when there is none).
 */
import { z } from 'zod';
import { parseDuration } from '../../util/duration.js';
import type { MetricsProviderFactory } from '../types.js';

const point = z.object({ after: z.string(), value: z.number().nullable() }).strict();
export const options = z
  .object({
    series: z.record(z.string(), z.union([z.number(), z.null(), z.array(point)])).default({}),
    default: z.number().nullable().optional(),
    /** Epoch ms the timeline starts at; the runner sets it to the run's start. */
    origin: z.number().optional(),
  })
  .strict();

export const create: MetricsProviderFactory = (opts) => {
  const o = options.parse(opts);
  const series = Object.fromEntries(
    Object.entries(o.series).map(([k, v]) => [
      k,
      Array.isArray(v) ? v.map((p) => ({ afterMs: parseDuration(p.after) ?? 0, value: p.value })).sort((a, b) => a.afterMs - b.afterMs) : [{ afterMs: 0, value: v }],
    ]),
  );
  return {
    name: 'simulated',
    async query({ query, now }) {
      const origin = o.origin ?? now;
      const pts = series[query.trim()];
      if (!pts) return o.default === undefined || o.default === null ? { value: null, at: now, note: `no series "${query}"` } : { value: o.default, at: now };
      let v: number | null = null;
      for (const p of pts) if (now - origin >= p.afterMs) v = p.value;
      return v === null ? { value: null, at: now, note: 'scripted no-data' } : { value: v, at: now };
    },
  };
};
