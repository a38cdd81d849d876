/**
 * `simulated`: scripted metric values over time, for the demo, `rollout simulate` and tests.
 *
 *   series:
 *     error_rate_percent:                 # the check's query selects the series
 *       - { after: 0s,  value: 0.4 }
 *       - { after: 9s,  value: 7.2 }      # from 9 s after the start on
 *       - { after: 20s, value: null }     # scripted no data
 *       - { after: 30s, error: "HTTP 503: overloaded" }   # the provider fails (BackendError)
 *     p95_latency_ms: 180                 # a constant
 *   default: 0                            # for queries without a series (else: no data)
 *
 * The value in force is that of the last point whose `after` (time since the timeline's
 * origin) has passed; before the first point there is no data. The origin is options.origin
 * (the runner sets it to the run's start); without one, the first query's `now` starts the
 * timeline. `after` is a duration with a unit ("0s", "90s", "5m"); a bare "0" is allowed.
 */
import { z } from 'zod';
import { BackendError } from '../../errors.js';
import { formatDuration, parseDuration } from '../../util/duration.js';
import type { MetricsProvider, MetricsProviderFactory, Reading } from '../types.js';

const after = z
  .string()
  .refine((s) => s.trim() === '0' || parseDuration(s) !== null, { message: 'not a duration: write it with a unit, e.g. "0s", "30s", "5m"' });
const point = z.union([
  z.strictObject({ after, value: z.number().nullable() }),
  z.strictObject({ after, error: z.string().min(1) }),
]);
export const options = z.strictObject({
  series: z.record(z.string(), z.union([z.number(), z.null(), z.array(point)])).default({}),
  /** Value for queries that have no series; absent or null = no data. */
  default: z.number().nullable().optional(),
  /** Epoch ms the timeline starts at; the runner sets it to the run's start. */
  origin: z.number().optional(),
});
export type SimulatedOptions = z.infer<typeof options>;

interface Point {
  afterMs: number;
  value: number | null;
  error?: string;
}

const toMs = (s: string) => (s.trim() === '0' ? 0 : parseDuration(s)!);

export const create: MetricsProviderFactory = (raw): MetricsProvider => {
  const o = options.parse(raw);
  const series = new Map<string, Point[]>(
    Object.entries(o.series).map(([k, v]) => [
      k.trim(),
      Array.isArray(v)
        ? v
            .map((p): Point => ('error' in p ? { afterMs: toMs(p.after), value: null, error: p.error } : { afterMs: toMs(p.after), value: p.value }))
            .sort((a, b) => a.afterMs - b.afterMs) // stable: equal `after`s keep their order, the later one wins
        : [{ afterMs: 0, value: v }],
    ]),
  );
  let origin = o.origin;
  return {
    name: 'simulated',
    async query({ query, now }): Promise<Reading> {
      origin ??= now;
      const pts = series.get(query.trim());
      if (!pts) {
        return o.default === undefined || o.default === null ? { value: null, at: now, note: `no series "${query.trim()}"` } : { value: o.default, at: now };
      }
      const elapsed = now - origin;
      let current: Point | undefined;
      for (const p of pts) if (elapsed >= p.afterMs) current = p;
      if (!current) return { value: null, at: now, note: `no scripted value yet (first at ${formatDuration(pts[0]!.afterMs)})` };
      if (current.error !== undefined) throw new BackendError('simulated', current.error, { retryable: true });
      return current.value === null ? { value: null, at: now, note: 'scripted no-data' } : { value: current.value, at: now };
    },
  };
};
