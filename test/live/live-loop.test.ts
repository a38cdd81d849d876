/**
 * The whole loop against real servers: `rollout start` (the built binary) on a plan whose flags
 * live in the harness Unleash (created by the run) and whose check queries the harness
 * Prometheus, which scrapes the controllable exporter. Midway — after the second step is
 * applied, seen through `status --json` — the test raises the exporter's error rate past the
 * critical threshold. The run must roll back on its own: exit 3, every flag of the plan off in
 * Unleash (read through the Admin API, not through rollout), the rollback command run with
 * the reason in $ROLLOUT_REASON, the incident in `log --json`.
 */
import { randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { setExporterGauge } from '../services/exporter.js';
import { cli, spawn, tempDir, write } from '../cli/helpers.js';

const unleashUrl = inject('unleashUrl');
const adminToken = inject('unleashAdminToken');
const prometheusUrl = inject('prometheusUrl');
const exporterUrl = inject('exporterUrl');

const tag = `${process.pid}_${randomBytes(3).toString('hex')}`;
const metric = `rollout_live_${tag}_error_rate_percent`;
const flags = ['a', 'b', 'c'].map((x) => `live-loop-${tag.replace(/_/g, '-')}-${x}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `fn` until it returns something defined; bounded. */
async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (let i = 0; i < 10_000; i++) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) break;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

async function promValue(query: string): Promise<number | undefined> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}`, { signal: AbortSignal.timeout(3000) });
  const j = (await res.json()) as { data?: { result?: Array<{ value: [number, string] }> } };
  const v = j.data?.result?.[0]?.value?.[1];
  return v === undefined ? undefined : Number(v);
}

interface AdminEnv {
  name: string;
  enabled: boolean;
  strategies: Array<{ name: string; title?: string | null; parameters?: Record<string, string> }>;
}
async function unleashEnv(flag: string): Promise<AdminEnv | undefined> {
  const res = await fetch(`${unleashUrl}/api/admin/projects/default/features/${encodeURIComponent(flag)}`, {
    headers: { authorization: adminToken, accept: 'application/json' },
    signal: AbortSignal.timeout(5000),
  });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Error(`admin GET ${flag}: HTTP ${res.status}`);
  const f = (await res.json()) as { environments: AdminEnv[] };
  return f.environments.find((e) => e.name === 'development');
}

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  await setExporterGauge(exporterUrl, metric, 0.4);
  await until('Prometheus to scrape the healthy value', async () => ((await promValue(metric)) === 0.4 ? true : undefined), 15_000);
});
afterAll(async () => {
  await fetch(`${exporterUrl}/reset`, { method: 'POST', body: JSON.stringify({ name: metric }), signal: AbortSignal.timeout(3000) }).catch(() => undefined);
  await cleanup?.();
});

function plan(): string {
  return `name: live-loop-${tag.replace(/_/g, '-')}
backend:
  type: unleash
  url: \${LIVE_UNLEASH_URL}
  token: \${LIVE_UNLEASH_TOKEN}
  create: true
  timeoutMs: 5000
  retryBudgetMs: 3000
metrics:
  prom:
    type: prometheus
    url: \${LIVE_PROMETHEUS_URL}
    timeoutMs: 3000
    retryBudgetMs: 2000
defaults: { hold: 1s, interval: 1s, maxJump: 100 }
checks:
  - { name: error-rate, provider: prom, query: '${metric}', max: 5, unit: '%', tier: critical }
phases:
  - name: main
    flags: [${flags.join(', ')}]
    steps: [5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
rollback:
  commands:
    - run: [node, -e, "require('fs').writeFileSync('rollback-reason.txt', process.env.ROLLOUT_REASON ?? '(unset)')"]
      timeout: 20s
`;
}

describe('live loop: rollout start against Unleash + Prometheus', () => {
  it('rolls out, breaches midway, rolls back by itself: exit 3, every flag off in Unleash, command ran with the reason, incident logged', async () => {
    const file = await write(dir, 'plan.yaml', plan());
    const env = { LIVE_UNLEASH_URL: unleashUrl, LIVE_UNLEASH_TOKEN: adminToken, LIVE_PROMETHEUS_URL: prometheusUrl };
    const child = spawn(['start', file], { cwd: dir, env, timeoutMs: 90_000 });
    const t0 = Date.now();

    // Watch `status --json` (bounded) until the second step (10%) is applied.
    const at2 = await until(
      'the second step to be applied',
      async () => {
        if (child.exitCode !== null && child.exitCode !== undefined) throw new Error(`start exited early with ${child.exitCode}`);
        const r = await cli(['status', '--json'], { cwd: dir, timeoutMs: 10_000 });
        if (r.code !== 0) return undefined;
        const j = JSON.parse(r.stdout) as { step: string | null; status: string };
        return j.step === '10%' ? j : undefined;
      },
      40_000,
      150,
    );
    expect(at2.status).toBe('running');
    // Unleash really has the flags at 10% right now.
    for (const f of flags) {
      const e = await unleashEnv(f);
      expect(e?.enabled, `${f} enabled in Unleash at step 2`).toBe(true);
      expect(e?.strategies.find((s) => s.title === 'managed by rollout')?.parameters?.rollout).toMatch(/^(10|20)$/);
    }
    const raisedAt = Date.now();
    await setExporterGauge(exporterUrl, metric, 9.5);

    const r = await child;
    const out = String(r.stdout);
    const err = String(r.stderr);
    const took = Date.now() - t0;
    expect(r.exitCode, `stdout:\n${out}\nstderr:\n${err}`).toBe(3);
    expect(out).toMatch(/rolled-back/);

    // Every flag of the plan is off in Unleash (Admin API, independent of rollout).
    for (const f of flags) {
      const e = await unleashEnv(f);
      expect(e, `${f} exists in Unleash`).toBeDefined();
      expect(e!.enabled, `${f} off in Unleash after the rollback`).toBe(false);
    }

    // The rollback command ran, with the reason.
    const reason = await readFile(join(dir, 'rollback-reason.txt'), 'utf8');
    expect(reason).toMatch(/error-rate/);
    expect(reason).toMatch(/breached/);

    // The event log has the breach, flags-off, the command and the incident.
    const log = JSON.parse((await cli(['log', '--json'], { cwd: dir })).stdout) as { events: Array<{ type: string; msg: string; data?: { incident?: { trigger: string; severity: string; reason: string } } }> };
    const types = log.events.map((e) => e.type);
    expect(types).toContain('breach.detected');
    expect(types).toContain('rollback.flags-off');
    expect(types).toContain('command.finished');
    const incident = log.events.find((e) => e.type === 'incident.recorded');
    expect(incident, types.join(', ')).toBeDefined();
    expect(incident!.data?.incident).toMatchObject({ trigger: 'check', severity: 'critical' });
    expect(incident!.data!.incident!.reason).toMatch(/error-rate/);
    // Order: flags off before the command, the incident recorded.
    expect(types.indexOf('rollback.flags-off')).toBeLessThan(types.indexOf('command.finished'));
    // It never reached 100%.
    const applied = log.events.filter((e) => e.type === 'step.applied').length;
    expect(applied).toBeGreaterThanOrEqual(2);
    expect(applied).toBeLessThan(11);

    // The incident file is on disk, and status agrees.
    const runs = await readdir(join(dir, '.rollout/runs'));
    expect(runs).toHaveLength(1);
    const files = await readdir(join(dir, '.rollout/runs', runs[0]!));
    expect(files.some((n) => n.startsWith('incident-'))).toBe(true);
    const st = JSON.parse((await cli(['status', '--json'], { cwd: dir })).stdout) as { status: string; flags: Record<string, { enabled: boolean }> };
    expect(st.status).toBe('rolled-back');
    for (const f of flags) expect(st.flags[f]?.enabled).toBe(false);
    console.log(`live loop: ${applied} step(s) applied, breach raised ${((raisedAt - t0) / 1000).toFixed(1)} s in, run over after ${(took / 1000).toFixed(1)} s`);
  }, 120_000);
});
