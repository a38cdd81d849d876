/**
 * `rollout report --history`: a check's chart from the provider's range query (a real
 * Prometheus scraping the harness exporter) — every value over the run, not only the values
 * recorded when the verdict changed.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { setExporterGauge } from '../services/exporter.js';
import { waitFor } from '../services/util.js';
import { cli, tempDir, write } from '../cli/helpers.js';

const prom = inject('prometheusUrl');
const exporter = inject('exporterUrl');
const metric = `report_history_errors_${process.pid}`;

async function seen(value: number): Promise<void> {
  await waitFor(`${metric} = ${value} in prometheus`, async () => {
    const r = (await (await fetch(`${prom}/api/v1/query?query=${metric}`)).json()) as { data: { result: Array<{ value: [number, string] }> } };
    return r.data.result[0] && Number(r.data.result[0].value[1]) === value ? true : undefined;
  }, { timeoutMs: 15_000, intervalMs: 200 });
}

describe('rollout report --history', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    await setExporterGauge(exporter, metric, 0.5);
    await seen(0.5);
    await write(dir, 'h.yaml', `name: hist\nbackend: { type: local }\nmetrics:\n  prom: { type: prometheus, url: "${prom}" }\ndefaults: { hold: 1h, interval: 1s, maxJump: 100 }\nchecks:\n  - { name: errors, provider: prom, query: '${metric}', max: 5, unit: '%', tier: critical }\nphases:\n  - { name: main, flags: [h-flag], steps: [10, 100] }\n`);
    expect((await cli(['advance', 'h.yaml'], { cwd: dir })).code).toBe(6);
    // The value moves while the run holds; the run records no verdict change (still passing).
    await new Promise((r) => setTimeout(r, 2500));
    await setExporterGauge(exporter, metric, 1.5);
    await seen(1.5);
    await new Promise((r) => setTimeout(r, 2500));
  }, 60_000);
  afterAll(async () => cleanup?.());

  const checkOf = async (file: string) => {
    const html = await readFile(join(dir, file), 'utf8');
    const data = JSON.parse(/<script type="application\/json" id="rollout-data">(.*?)<\/script>/s.exec(html)![1]!) as { model: { checks: Array<{ name: string; source: string; points: Array<[number, number | null, number | null]> }> } };
    return data.model.checks.find((c) => c.name === 'errors')!;
  };

  it('charts every value the provider had over the run', async () => {
    const r = await cli(['report', 'hist', '--history', '--out', 'with.html'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const c = await checkOf('with.html');
    expect(c.source).toBe('history');
    expect(c.points.length).toBeGreaterThanOrEqual(4);
    const values = new Set(c.points.map((p) => p[1]));
    expect(values.has(0.5) && values.has(1.5)).toBe(true);
  });

  it('without --history: only what the run recorded', async () => {
    expect((await cli(['report', 'hist', '--out', 'without.html'], { cwd: dir })).code).toBe(0);
    const c = await checkOf('without.html');
    expect(c.source).toBe('recorded');
    expect(c.points.map((p) => p[1])).not.toContain(1.5);
  });
});
