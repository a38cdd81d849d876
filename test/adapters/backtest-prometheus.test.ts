/**
 * `rollout backtest` against a real Prometheus holding 7 days of backfilled history with known
 * incidents (test/services/history.ts): it must report exactly those incidents, at their
 * times, through the engine's own for:/action rules — and touch nothing (no flag store, no
 * rollback command). A second pass at a 15 s interval over two days needs more than 11,000
 * points per series, so the range queries are split, and must find the same incidents.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, tempDir, write } from '../cli/helpers.js';
import { startPrometheusWithHistory, type GaugeSeries } from '../services/history.js';
import type { Prometheus } from '../services/prometheus.js';
import { create } from '../../src/adapters/metrics/prometheus.js';

const M = 60_000;
const H = 60 * M;
// History ends at the last full hour (pinned as --to); 7 days of one point a minute.
const TO = Math.floor(Date.now() / H) * H - H;
const FROM = TO - 7 * 24 * H;
const iso = (t: number) => new Date(t).toISOString().replace(':00.000Z', 'Z');

// The incidents.
const ERR_INCIDENT = { from: FROM + 2 * 24 * H + 3 * H + 10 * M, minutes: 20, value: 8 }; // > 5 % for 20 min: rollback after 5 min
const ERR_BLIP = { from: FROM + 4 * 24 * H + 12 * H, minutes: 3, value: 7 }; // > 5 % for 3 min: under `for: 5m`, no breach
const P99_INCIDENT = { from: FROM + 5 * 24 * H + 9 * H + 30 * M, minutes: 10, value: 400 }; // > 250 ms: pause at once
const GAP = { from: FROM + 6 * 24 * H + 1 * H, minutes: 30 }; // the exporter was down

function history(): GaugeSeries[] {
  const errors: Array<[number, number]> = [];
  const p99: Array<[number, number]> = [];
  const within = (t: number, w: { from: number; minutes: number }) => t >= w.from && t < w.from + w.minutes * M;
  for (let t = FROM - 30 * M, i = 0; t <= TO; t += M, i++) {
    if (within(t, GAP)) continue;
    errors.push([t, within(t, ERR_INCIDENT) ? ERR_INCIDENT.value : within(t, ERR_BLIP) ? ERR_BLIP.value : 0.5 + ((i * 37) % 100) / 100]);
    p99.push([t, within(t, P99_INCIDENT) ? P99_INCIDENT.value : 100 + ((i * 53) % 120)]);
  }
  return [
    { name: 'app_error_ratio', labels: { service: 'checkout' }, points: errors },
    { name: 'app_latency_p99_ms', labels: { service: 'checkout' }, points: p99 },
  ];
}

const plan = (interval: string) => `
name: history
backend: { type: local, path: flags.json }
metrics: { prom: { type: prometheus, url: "\${PROM_URL}", retryBudgetMs: 0 } }
defaults: { interval: ${interval}, hold: 1h }
checks:
  - { name: errors, provider: prom, query: 'max(app_error_ratio)', max: 5, for: 5m, unit: '%', tier: critical, noData: hold }
  - { name: p99, provider: prom, query: 'max(app_latency_p99_ms)', max: 250, unit: ms, tier: warning }
rollback: { commands: [[touch, ROLLBACK_RAN]] }
phases: [{ name: canary, flags: [checkout], steps: [1, 5, 25] }]
`;

let prom: Prometheus;
let dir: { dir: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  prom = await startPrometheusWithHistory(history());
  dir = await tempDir();
}, 120_000);
afterAll(async () => {
  await prom?.stop();
  await dir?.cleanup();
});

interface Json {
  from: string;
  to: string;
  caveat: string;
  decisions: Array<{ at: number; kind: string; check?: string; cause?: string }>;
  checks: Array<{ name: string; judged: number; breaches: Array<{ failingFrom: number; actedAt: number; until: number | null; action: string; worst: number }>; closest: Array<{ at: number; value: number }>; noData: { windows: number; stretches: Array<{ from: number; to: number }> }; suggested: { max?: number } | null }>;
}

async function backtest(interval: string, from: string, extra: string[] = []): Promise<{ json: Json; stdout: string }> {
  const f = await write(dir.dir, `plan-${interval}.yaml`, plan(interval));
  const r = await cli(['backtest', f, '--from', from, '--to', new Date(TO).toISOString(), '--json', ...extra], { cwd: dir.dir, env: { PROM_URL: prom.url }, timeoutMs: 60_000 });
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return { json: JSON.parse(r.stdout) as Json, stdout: r.stdout };
}

describe('backtest over 7 days of real Prometheus history', () => {
  it('finds exactly the known incidents, at their times, and nothing else', { timeout: 90_000 }, async () => {
    const { json } = await backtest('1m', '7d');
    expect(json.from).toBe(iso(FROM));
    expect(json.to).toBe(iso(TO));
    expect(json.caveat).toMatch(/cannot show the feature's effect/);
    const errors = json.checks.find((c) => c.name === 'errors')!;
    const p99 = json.checks.find((c) => c.name === 'p99')!;
    expect(errors.judged).toBe(7 * 24 * 60 + 1);
    expect(errors.breaches).toEqual([
      { failingFrom: ERR_INCIDENT.from, actedAt: ERR_INCIDENT.from + 5 * M, until: ERR_INCIDENT.from + 20 * M, action: 'rollback', worst: 8, reason: expect.any(String) },
    ]);
    expect(p99.breaches).toEqual([{ failingFrom: P99_INCIDENT.from, actedAt: P99_INCIDENT.from, until: P99_INCIDENT.from + 10 * M, action: 'pause', worst: 400, reason: expect.any(String) }]);
    // The gap pauses the run too (noData: hold, 15 min): each check on its own streak.
    expect(json.decisions.map((d) => [d.kind, d.check ?? null, d.cause ?? null, iso(d.at)])).toEqual([
      ['breach', 'errors', null, iso(ERR_INCIDENT.from + 5 * M)],
      ['rollback', 'errors', 'breach', iso(ERR_INCIDENT.from + 5 * M)],
      ['breach', 'p99', null, iso(P99_INCIDENT.from)],
      ['pause', 'p99', 'breach', iso(P99_INCIDENT.from)],
      ['pause', 'errors', 'no-data', iso(GAP.from + 20 * M)],
      ['pause', 'p99', 'no-data', iso(GAP.from + 21 * M)],
    ]);
    // The gap: Prometheus' 5-minute lookback bridges its start; then no data until it ends.
    expect(errors.noData.stretches).toEqual([{ from: GAP.from + 5 * M, to: GAP.from + 29 * M }]);
    expect(p99.noData.stretches).toEqual([{ from: GAP.from + 5 * M, to: GAP.from + 29 * M }]);
    // Healthy history peaks at 1.49 %: the closest approach, and a suggestion well under 5 %.
    expect(errors.closest[0]!.value).toBeCloseTo(1.49, 2);
    expect(errors.suggested!.max!).toBeGreaterThan(1.49);
    expect(errors.suggested!.max!).toBeLessThan(2.5);
    // Read-only: no flag store written, no rollback command run.
    expect(existsSync(join(dir.dir, 'flags.json'))).toBe(false);
    expect(existsSync(join(dir.dir, 'ROLLBACK_RAN'))).toBe(false);
  });

  it('is reproducible with --to pinned, and says it in words', { timeout: 90_000 }, async () => {
    const a = await backtest('1m', '3d');
    const b = await backtest('1m', '3d');
    expect(a.stdout).toBe(b.stdout);
    const f = join(dir.dir, 'plan-1m.yaml');
    const human = await cli(['backtest', f, '--from', '7d', '--to', new Date(TO).toISOString()], { cwd: dir.dir, env: { PROM_URL: prom.url }, timeoutMs: 60_000 });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`ROLLBACK at ${iso(ERR_INCIDENT.from + 5 * M)} (failing from ${iso(ERR_INCIDENT.from)}, recovered ${iso(ERR_INCIDENT.from + 20 * M)}), worst 8%`);
    expect(human.stdout).toContain(`PAUSE at ${iso(P99_INCIDENT.from)}`);
    expect(human.stdout).toMatch(/cannot show the feature's effect/);
    expect(human.stdout).toMatch(/suggested threshold: max \d/);
  });

  it('at a 15 s interval over 2 days (11,521 points per series: split queries) finds the same incidents', { timeout: 90_000 }, async () => {
    const p = create({ url: prom.url }, { baseDir: dir.dir, cwd: dir.dir, log: () => undefined, env: {} });
    const series = await p.queryRange('max(app_error_ratio)', TO - 2 * 24 * H, TO, 15_000);
    expect(series).toHaveLength(1);
    expect(series[0]!.points.length).toBeGreaterThan(11_000);
    expect(new Set(series[0]!.points.map((x) => x.at)).size).toBe(series[0]!.points.length);
    const { json } = await backtest('15s', '4d');
    const p99 = json.checks.find((c) => c.name === 'p99')!;
    expect(p99.judged).toBe(4 * 24 * 240 + 1);
    expect(p99.breaches.map((b) => [iso(b.failingFrom), b.until && iso(b.until)])).toEqual([[iso(P99_INCIDENT.from), iso(P99_INCIDENT.from + 10 * M)]]);
    expect(json.checks.find((c) => c.name === 'errors')!.breaches).toEqual([]);
  });
});
