/**
 * `rollout serve` / `rollout report` figures (printed, not asserted; only "the measurement
 * worked" is checked):
 *  (a) report generation for a 19-day run with 28 steps (seed 004, simulated)    target < 1 s
 *  (b) 1,000 runs: dashboard first paint in Chromium                              target < 1 s
 *  (c) event → visible on the open dashboard                                      target < 1 s
 *  (d) GET /metrics with 1,000 runs                                               target < 200 ms
 *  (e) OFREP single evaluation with 1,000 flags: p50/p99 on loopback (one client) target p99 < 2 ms
 *  (f) throughput, side by side with the real unleash-server of the harness answering the same
 *      1,000 flags and keys through its frontend API (answers compared first)   goal ≥ 3×
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile, rename } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { afterAll, describe, expect, inject, it } from 'vitest';
import '../test/services/provided.d.ts';
import { cli, tempDir, write } from '../test/cli/helpers.js';
import { launchBrowser, startServe, type Served } from '../test/serve/helpers.js';

const figures: string[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  console.log(['', `rollout serve / report figures (2-core machine, Node ${process.version}, load average at the end ${loadavg().map((x) => x.toFixed(1)).join(' ')})`, ...figures.map((f) => '  ' + f), ''].join('\n'));
});
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const ms = (n: number) => `${n < 10 ? n.toFixed(2) : n.toFixed(0)} ms`;

/** `n` requests with `concurrency` in flight over keep-alive; returns req/s and per-request latencies. */
async function load(url: string, n: number, concurrency: number, make: (i: number) => { path: string; body: string; headers?: Record<string, string> }, check?: (status: number, body: string, i: number) => void) {
  const u = new URL(url);
  const pool = new Pool(u.origin, { connections: concurrency, pipelining: 1 });
  const lat: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (;;) {
        const i = next++;
        if (i >= n) return;
        const r = make(i);
        const s = performance.now();
        const res = await pool.request({ path: r.path, method: r.body ? 'POST' : 'GET', body: r.body || undefined, headers: { 'content-type': 'application/json', ...(r.headers ?? {}) } });
        const text = await res.body.text();
        lat.push(performance.now() - s);
        check?.(res.statusCode, text, i);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  await pool.close();
  return { rps: n / secs, p50: pct(lat, 50), p99: pct(lat, 99), max: pct(lat, 100) };
}

describe('serve and report figures', () => {
  it('(a) report of a 19-day run with 28 steps', async () => {
    const root = resolve(import.meta.dirname, '..');
    const { loadPlan } = await import(join(root, 'dist/plan/load.js'));
    const { simulatePlan } = await import(join(root, 'dist/runner/simulate.js'));
    const { renderReport } = await import(join(root, 'dist/report/html.js'));
    const { plan } = await loadPlan(join(root, 'plans/state-persistence.yaml'), { adapters: false });
    const sim = await simulatePlan(plan, { start: Date.parse('2026-12-01T08:00:00Z') });
    const steps = sim.events.filter((e: { type: string }) => e.type === 'step.applied').length;
    const times: number[] = [];
    let html = '';
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      html = renderReport({ state: sim.state, events: sim.events, plan });
      times.push(performance.now() - t0);
    }
    const days = (sim.endedAt - sim.startedAt) / 86400_000;
    figures.push(`(a) report of seed 004 (${days.toFixed(1)} days, ${steps} steps, ${sim.events.length} events): ${ms(pct(times, 50))} median, first ${ms(times[0]!)} (target < 1 s); ${Math.round(html.length / 1024)} KB`);
    expect(html).toContain('uPlot');
  });

  describe('1,000 runs', () => {
    let served: Served;
    let dir: string;
    it('(b)(c)(d) dashboard first paint, event → visible, /metrics', async () => {
      const t = await tempDir();
      dir = t.dir;
      cleanups.push(t.cleanup);
      await write(dir, 'p.yaml', `name: bench\nbackend: { type: local }\nmetrics:\n  sim: { type: simulated, series: { errors: 0.3 } }\ndefaults: { hold: 1h, interval: 1s, maxJump: 100 }\nchecks:\n  - { name: errors, provider: sim, query: errors, max: 5, unit: '%', tier: critical }\nphases:\n  - { name: main, flags: [bench-flag], steps: [10, 50, 100] }\n`);
      expect((await cli(['advance', 'p.yaml'], { cwd: dir })).code).toBe(6);
      // 999 more runs: copies of that real run under other ids and plan names.
      const runs = join(dir, '.rollout', 'runs');
      const [orig] = await readdir(runs);
      const state = JSON.parse(await readFile(join(runs, orig!, 'state.json'), 'utf8'));
      const events = await readFile(join(runs, orig!, 'events.jsonl'), 'utf8');
      const snap = await readFile(join(runs, orig!, 'plan.json'), 'utf8').catch(() => undefined);
      for (let i = 1; i < 1000; i++) {
        const id = `bench-${String(i).padStart(4, '0')}`;
        await mkdir(join(runs, id, 'inbox'), { recursive: true });
        const s = { ...state, id, plan: { ...state.plan, name: `plan-${i % 100}` }, flags: { [`flag-${i}`]: { enabled: true, percentage: (i % 10) * 10 } }, startedAt: state.startedAt - i * 60_000 };
        await writeFile(join(runs, id, 'state.json'), JSON.stringify(s, null, 2));
        await writeFile(join(runs, id, 'events.jsonl'), events);
        if (snap) await writeFile(join(runs, id, 'plan.json'), snap);
      }
      const t0 = performance.now();
      served = await startServe(dir, {});
      cleanups.push(() => served.stop());
      const startup = performance.now() - t0;

      // (d) /metrics
      const mt: number[] = [];
      let text = '';
      for (let i = 0; i < 20; i++) {
        const s = performance.now();
        text = await (await fetch(served.url + '/metrics')).text();
        mt.push(performance.now() - s);
      }
      expect(text).toContain('rollout_flag_percentage{run="bench-0999"');
      figures.push(`(d) GET /metrics, 1,000 runs: ${ms(pct(mt, 50))} median, ${ms(pct(mt, 100))} worst of 20 (target < 200 ms); ${Math.round(text.length / 1024)} KB, ${text.split('\n').filter((l) => l && !l.startsWith('#')).length} series; server start-up with 1,000 runs ${ms(startup)}`);

      // (b) first paint in Chromium
      const browser = await launchBrowser();
      cleanups.push(() => browser.close());
      const fcp: number[] = [];
      const ready: number[] = [];
      for (let i = 0; i < 4; i++) {
        const page = await browser.context.newPage();
        const s = performance.now();
        await page.goto(served.url + '/');
        await page.waitForSelector('body[data-ready="1"]');
        ready.push(performance.now() - s);
        const paint = (await page.evaluate("performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint')?.startTime ?? -1")) as number;
        fcp.push(paint);
        expect(await page.$$eval('#runs tr', (r) => r.length)).toBe(1000);
        if (i < 3) await page.close();
      }
      figures.push(`(b) dashboard with 1,000 runs in Chromium: first contentful paint ${ms(pct(fcp.slice(1), 50))} median (first load ${ms(fcp[0]!)}), table drawn ${ms(pct(ready.slice(1), 50))} after navigation (target < 1 s)`);

      // (c) event → visible: a state change written as the runner writes it (atomic rename).
      const page = browser.context.pages().at(-1)!;
      await page.waitForSelector('body[data-live="open"]');
      const lag: number[] = [];
      for (let i = 0; i < 5; i++) {
        const id = `bench-${String(100 + i).padStart(4, '0')}`;
        const file = join(runs, id, 'state.json');
        const s = JSON.parse(await readFile(file, 'utf8'));
        s.status = 'paused';
        s.reason = `bench ${i}`;
        s.updatedAt = Date.now();
        s.seq += 1;
        await writeFile(file + '.tmp', JSON.stringify(s));
        const w = performance.now();
        await rename(file + '.tmp', file);
        await page.waitForSelector(`#run-${id} [data-status="paused"]`, { timeout: 5000 });
        lag.push(performance.now() - w);
      }
      figures.push(`(c) state change → visible on the open dashboard: ${ms(pct(lag, 50))} median, ${ms(pct(lag, 100))} worst of 5 (target < 1 s)`);
    }, 240_000);
  });

  it('(e)(f) OFREP with 1,000 flags, and the real Unleash frontend API side by side', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const N = 1000;
    const flags: Record<string, { enabled: boolean; percentage: number; updatedAt: string }> = {};
    const prefix = `ofrep-${randomBytes(3).toString('hex')}`;
    const name = (i: number) => `${prefix}-${String(i).padStart(4, '0')}`;
    for (let i = 0; i < N; i++) flags[name(i)] = { enabled: true, percentage: (i * 7) % 101, updatedAt: new Date().toISOString() };
    await mkdir(join(t.dir, '.rollout'), { recursive: true });
    await writeFile(join(t.dir, '.rollout', 'flags.json'), JSON.stringify(flags));
    const served = await startServe(t.dir, {});
    cleanups.push(() => served.stop());
    const single = (i: number) => ({ path: `/ofrep/v1/evaluate/flags/${name(i % N)}`, body: JSON.stringify({ context: { targetingKey: `user-${i}` } }) });
    const bulk = (i: number) => ({ path: '/ofrep/v1/evaluate/flags', body: JSON.stringify({ context: { targetingKey: `user-${i}` } }) });
    await load(served.url, 2000, 4, single); // warm-up
    const one = await load(served.url, 10_000, 1, single, (st) => expect(st).toBe(200));
    figures.push(`(e) OFREP single evaluation, 1,000 flags, one client in sequence: p50 ${ms(one.p50)}, p99 ${ms(one.p99)} (target p99 < 2 ms), ${Math.round(one.rps)} req/s`);
    const many = await load(served.url, 20_000, 16, single);
    const bulkR = await load(served.url, 1000, 16, bulk, (st) => expect(st).toBe(200));
    figures.push(`    16 concurrent clients: single ${Math.round(many.rps)} req/s (p99 ${ms(many.p99)}); bulk (all 1,000 flags for a user) ${Math.round(bulkR.rps)} req/s (p99 ${ms(bulkR.p99)})`);

    // (f) the same flags in the harness's Unleash, read through its frontend API.
    const unleashUrl = inject('unleashUrl');
    const admin = inject('unleashAdminToken');
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await fetch(unleashUrl + path, { method, headers: { authorization: admin, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(20_000) });
      if (r.status >= 400 && r.status !== 409) throw new Error(`${method} ${path}: ${r.status} ${(await r.text()).slice(0, 200)}`);
      return r.status === 204 ? undefined : r.json().catch(() => undefined);
    };
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (;;) {
          const i = next++;
          if (i >= N) return;
          const f = name(i);
          await call('POST', '/api/admin/projects/default/features', { name: f });
          await call('POST', `/api/admin/projects/default/features/${f}/environments/development/strategies`, { name: 'flexibleRollout', constraints: [], parameters: { rollout: String(flags[f]!.percentage), stickiness: 'default', groupId: f } });
          await call('POST', `/api/admin/projects/default/features/${f}/environments/development/on`);
        }
      }),
    );
    const setup = performance.now() - t0;
    const tok = (await call('POST', '/api/admin/api-tokens', { tokenName: `bench-${prefix}`, type: 'frontend', environment: 'development', projects: ['*'] })) as { secret: string };
    const front = (user: string) => fetch(`${unleashUrl}/api/frontend?userId=${encodeURIComponent(user)}`, { headers: { authorization: tok.secret } }).then((r) => r.json() as Promise<{ toggles: Array<{ name: string; enabled: boolean }> }>);
    // Its frontend cache refreshes on an interval: wait (bounded) until it has all our flags.
    const want = ((await (await fetch(served.url + '/ofrep/v1/evaluate/flags', { method: 'POST', body: JSON.stringify({ context: { targetingKey: 'user-probe' } }) })).json()) as { flags: Array<{ value: boolean }> }).flags.filter((f) => f.value).length;
    const deadline = Date.now() + 60_000;
    let have = -1;
    while (Date.now() < deadline && have !== want) {
      have = (await front('user-probe')).toggles.filter((x) => x.name.startsWith(prefix) && x.enabled).length;
      if (have !== want) await new Promise((r) => setTimeout(r, 500));
    }
    // Identical answers: 100 users, all 1,000 flags each.
    let differ = 0;
    let compared = 0;
    for (let u = 0; u < 100; u++) {
      const user = `user-${u}`;
      const unl = new Set((await front(user)).toggles.filter((x) => x.name.startsWith(prefix) && x.enabled).map((x) => x.name));
      const ours = (await (await fetch(served.url + '/ofrep/v1/evaluate/flags', { method: 'POST', body: JSON.stringify({ context: { targetingKey: user } }) })).json()) as { flags: Array<{ key: string; value: boolean }> };
      for (const f of ours.flags) {
        compared++;
        if (f.value !== unl.has(f.key)) differ++;
      }
    }
    figures.push(`(f) answers compared with Unleash for 100 users × 1,000 flags: ${compared - differ} identical, ${differ} different (Unleash set-up of 1,000 flags: ${(setup / 1000).toFixed(1)} s)`);
    const uPath = (i: number) => ({ path: `/api/frontend?userId=user-${i}`, body: '', headers: { authorization: tok.secret } });
    const unleash = await load(unleashUrl, 1000, 16, uPath, (st) => expect(st).toBe(200));
    const oursBulk = await load(served.url, 1000, 16, bulk);
    figures.push(`    all 1,000 flags for a user, 16 concurrent clients: rollout serve ${Math.round(oursBulk.rps)} req/s (p99 ${ms(oursBulk.p99)}) vs Unleash frontend API ${Math.round(unleash.rps)} req/s (p99 ${ms(unleash.p99)}): ${(oursBulk.rps / unleash.rps).toFixed(1)}× (goal ≥ 3×)`);
    figures.push(`    one flag for a user: rollout serve ${Math.round(many.rps)} req/s vs Unleash (its frontend API has no single-flag call: a client fetches all flags) ${Math.round(unleash.rps)} req/s: ${(many.rps / unleash.rps).toFixed(1)}×`);
    expect(differ).toBe(0);
  }, 300_000);
});
