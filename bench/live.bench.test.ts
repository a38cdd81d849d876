/**
 * Live figures against the services harness (real Unleash 7.5.1, real Prometheus scraping the
 * test exporter). Printed, not asserted (only "the measurement worked" is checked):
 *
 *  (a) breach→off: from the moment the raised error rate is visible in Prometheus (polling its
 *      query API) to the moment the last flag of the plan is off in Unleash (polling the Admin
 *      API), for a running `rollout start` with a 1 s check interval. Target: < interval + 1 s.
 *  (b) 500-flag rollback: 500 Unleash flags enabled at 30% by a run (`rollout start --detach`
 *      creates them), then `rollout rollback`: time until every flag is off (the run's own
 *      rollback.started → rollback.flags-off, and the command's wall time). Target: < 3 s.
 *
 * Run with `npm run bench` (after bench/run.js) or `npx vitest run --config bench/vitest.config.ts`.
 */
import { randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import '../test/services/provided.d.ts';
import { setExporterGauge } from '../test/services/exporter.js';
import { cli, spawn, tempDir, write } from '../test/cli/helpers.js';

const unleashUrl = inject('unleashUrl');
const adminToken = inject('unleashAdminToken');
const prometheusUrl = inject('prometheusUrl');
const exporterUrl = inject('exporterUrl');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const figures: string[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups) await c().catch(() => undefined);
  console.log(`\n=== live bench ===\n${figures.join('\n')}\n==================`);
});

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 1_000_000; i++) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) break;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function promValue(query: string): Promise<number | undefined> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`, { signal: AbortSignal.timeout(3000) });
  const j = (await res.json()) as { data?: { result?: Array<{ value: [number, string] }> } };
  const v = j.data?.result?.[0]?.value?.[1];
  return v === undefined ? undefined : Number(v);
}

/** Is the flag enabled in the development environment? undefined: no such flag. */
async function enabled(flag: string): Promise<boolean | undefined> {
  const res = await fetch(`${unleashUrl}/api/admin/projects/default/features/${encodeURIComponent(flag)}`, {
    headers: { authorization: adminToken, accept: 'application/json' },
    signal: AbortSignal.timeout(5000),
  });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`admin GET ${flag}: HTTP ${res.status}`);
  const f = (await res.json()) as { environments: Array<{ name: string; enabled: boolean }> };
  return f.environments.find((e) => e.name === 'development')?.enabled;
}

/** Map with at most `limit` calls in flight. */
async function pool<T, R>(items: T[], limit: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]!);
      }
    }),
  );
  return out;
}

const env = { BENCH_UNLEASH_URL: unleashUrl, BENCH_UNLEASH_TOKEN: adminToken, BENCH_PROMETHEUS_URL: prometheusUrl };
const backend = `backend:
  type: unleash
  url: \${BENCH_UNLEASH_URL}
  token: \${BENCH_UNLEASH_TOKEN}
  create: true
  timeoutMs: 10000
  retryBudgetMs: 5000`;

describe('live bench', () => {
  it('(a) breach→off latency with a 1 s check interval', async () => {
    const REPS = Number(process.env.BENCH_LIVE_REPS ?? 3);
    const results: Array<{ latency: number; fromSet: number }> = [];
    for (let rep = 0; rep < REPS; rep++) {
      const tag = randomBytes(3).toString('hex');
      const metric = `rollout_bench_${process.pid}_${tag}_error_rate`;
      const flags = ['a', 'b', 'c'].map((x) => `bench-breach-${tag}-${x}`);
      const { dir, cleanup } = await tempDir();
      cleanups.push(cleanup);
      await setExporterGauge(exporterUrl, metric, 0.5);
      await until('Prometheus to see the healthy value', async () => ((await promValue(metric)) === 0.5 ? true : undefined), 15_000, 200);
      const file = await write(
        dir,
        'plan.yaml',
        `name: bench-breach-${tag}
${backend}
metrics:
  prom:
    type: prometheus
    url: \${BENCH_PROMETHEUS_URL}
    timeoutMs: 3000
    retryBudgetMs: 1000
defaults: { hold: 10m, interval: 1s, maxJump: 100 }
checks:
  - { name: error-rate, provider: prom, query: '${metric}', max: 5, unit: '%', tier: critical }
phases:
  - name: main
    flags: [${flags.join(', ')}]
    steps: [10, 100]
`,
      );
      const child = spawn(['start', file], { cwd: dir, env, timeoutMs: 120_000 });
      let exited = false;
      void child.finally(() => (exited = true));
      await until(
        'every flag on in Unleash',
        async () => {
          if (exited) throw new Error(`start exited early: ${String((await child).stdout)}\n${String((await child).stderr)}`);
          return (await Promise.all(flags.map(enabled))).every((e) => e === true) ? true : undefined;
        },
        30_000,
        100,
      ).catch(async (err: Error) => {
        if (!exited) child.kill();
        const r = await child;
        throw new Error(`${err.message}\nstart: ${String(r.stdout)}\n${String(r.stderr)}`);
      });
      // Let the run settle into its hold, at a random phase of its 1 s check cycle.
      await sleep(1500 + Math.random() * 1000);
      const tSet = performance.now();
      await setExporterGauge(exporterUrl, metric, 9);
      let tVisible: number | undefined;
      let tOff: number | undefined;
      await Promise.all([
        until('Prometheus to show the raised value', async () => ((await promValue(metric)) === 9 ? (tVisible = performance.now()) : undefined), 15_000, 20),
        until('the last flag off in Unleash', async () => ((await Promise.all(flags.map(enabled))).every((e) => e === false) ? (tOff = performance.now()) : undefined), 20_000, 20),
      ]);
      const r = await child;
      expect(r.exitCode, `${String(r.stdout)}\n${String(r.stderr)}`).toBe(3);
      results.push({ latency: (tOff! - tVisible!) / 1000, fromSet: (tOff! - tSet) / 1000 });
      await fetch(`${exporterUrl}/reset`, { method: 'POST', body: JSON.stringify({ name: metric }), signal: AbortSignal.timeout(3000) }).catch(() => undefined);
    }
    const lat = results.map((x) => x.latency).sort((a, b) => a - b);
    const line = `breach→off: ${lat[lat.length - 1]!.toFixed(2)} s worst, ${lat[Math.floor(lat.length / 2)]!.toFixed(2)} s median over ${lat.length} runs (interval 1 s; target < 2 s) — each: ${results
      .map((x) => `${x.latency.toFixed(2)} s (${x.fromSet.toFixed(2)} s from setting the exporter)`)
      .join(', ')}`;
    figures.push(line);
    console.log(line);
  });

  it('(b) rollback of 500 Unleash flags', async () => {
    const N = Number(process.env.BENCH_ROLLBACK_FLAGS ?? 500);
    const tag = randomBytes(3).toString('hex');
    const flags = Array.from({ length: N }, (_, i) => `bench-500-${tag}-${String(i).padStart(3, '0')}`);
    const { dir, cleanup } = await tempDir();
    cleanups.push(cleanup);
    const file = await write(
      dir,
      'plan.yaml',
      `name: bench-500-${tag}
${backend}
defaults: { hold: 1h, maxJump: 100 }
phases:
  - name: main
    flags:
${flags.map((f) => `      - ${f}`).join('\n')}
    steps: [30, 100]
`,
    );
    // Setup: the run creates the 500 flags and turns them on at 30%.
    const t0 = performance.now();
    const on = await cli(['start', file, '--detach'], { cwd: dir, env, timeoutMs: 240_000 });
    const onS = (performance.now() - t0) / 1000;
    expect(on.code, `${on.stdout}\n${on.stderr}`).toBe(6);
    const sample = flags.filter((_, i) => i % 25 === 0);
    expect((await pool(sample, 10, enabled)).every((e) => e === true)).toBe(true);

    // The measurement: rollback (no live driver: the command itself carries it out).
    const t1 = performance.now();
    const rb = await cli(['rollback', '--reason', 'bench: 500 flags'], { cwd: dir, env, timeoutMs: 120_000 });
    const wall = (performance.now() - t1) / 1000;
    expect(rb.code, `${rb.stdout}\n${rb.stderr}`).toBe(3);
    const runs = await readdir(join(dir, '.rollout/runs'));
    const events = (await readFile(join(dir, '.rollout/runs', runs[0]!, 'events.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; at: number });
    const started = events.find((e) => e.type === 'rollback.started')!;
    const off = events.find((e) => e.type === 'rollback.flags-off');
    expect(off, events.map((e) => e.type).join(', ')).toBeDefined();
    // Every one of them is off in Unleash.
    const states = await pool(flags, 20, enabled);
    const stillOn = states.filter((e) => e !== false).length;
    expect(stillOn).toBe(0);
    const line = `rollback of ${N} flags: ${((off!.at - started.at) / 1000).toFixed(2)} s to all flags off (rollback.started → rollback.flags-off; target < 3 s), \`rollout rollback\` wall time ${wall.toFixed(2)} s incl. node start; concurrency 16; verified ${N - stillOn}/${N} off in Unleash. (Setup: ${N} flags created and on at 30% by \`start --detach\` in ${onS.toFixed(1)} s.)`;
    figures.push(line);
    console.log(line);
  });
});
