/**
 * Prometheus with history: write an OpenMetrics file, turn it into TSDB blocks with
 * `promtool tsdb create-blocks-from openmetrics`, and start a throwaway Prometheus (no scrape
 * targets) on that data dir. For backtests: `query_range` over the past sees exactly the
 * samples written. Samples must lie within the retention (default 15 d) before the newest.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startPrometheus, type Prometheus } from './prometheus.js';
import { run } from './util.js';

export const PROMTOOL_BIN = process.env.ROLLOUT_PROMTOOL_BIN ?? '/usr/bin/promtool';

export interface GaugeSeries {
  name: string;
  labels?: Record<string, string>;
  /** [epoch ms, value] in time order; a gap is simply no point. */
  points: Array<[number, number]>;
}

/** OpenMetrics text for gauges (timestamps in seconds), ending with # EOF. */
export function openMetrics(series: GaugeSeries[]): string {
  const out: string[] = [];
  const typed = new Set<string>();
  for (const s of series) {
    if (!typed.has(s.name)) out.push(`# TYPE ${s.name} gauge`);
    typed.add(s.name);
    const labels = Object.entries(s.labels ?? {})
      .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`)
      .join(',');
    for (const [t, v] of s.points) out.push(`${s.name}${labels ? `{${labels}}` : ''} ${v} ${t / 1000}`);
  }
  // OpenMetrics wants all samples of a metric family together: series are given grouped by name.
  out.push('# EOF', '');
  return out.join('\n');
}

/** Start a Prometheus whose TSDB holds these series (backfilled before start). */
export async function startPrometheusWithHistory(series: GaugeSeries[], opts: { timeoutMs?: number } = {}): Promise<Prometheus> {
  return startPrometheus([], {
    timeoutMs: opts.timeoutMs ?? 60_000,
    beforeStart: async (data) => {
      const file = join(data, '..', 'history.om');
      await writeFile(file, openMetrics(series));
      await run(PROMTOOL_BIN, ['tsdb', 'create-blocks-from', 'openmetrics', file, data], { timeoutMs: 120_000 });
    },
    extraArgs: ['--storage.tsdb.retention.time=30d'],
  });
}
