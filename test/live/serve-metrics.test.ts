/**
 * GET /metrics of `rollout serve`, scraped by a real Prometheus (the harness's startPrometheus,
 * pointed at the server): the run's flag percentage, check value and threshold, status and
 * steps are queryable — and a check of another plan reading that metric gates its step.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore } from '../../src/state/file.js';
import { serve, type Serving } from '../../src/serve/server.js';
import { startPrometheus, type Prometheus } from '../services/prometheus.js';
import { waitFor } from '../services/util.js';
import { cli, tempDir, write } from '../cli/helpers.js';

const planA = `name: alpha
backend: { type: local }
metrics:
  sim: { type: simulated, series: { errors: 0.25 } }
defaults: { hold: 1h, interval: 1s, maxJump: 100 }
checks:
  - { name: errors, provider: sim, query: errors, max: 2, unit: '%', tier: critical }
phases:
  - { name: main, flags: [alpha-flag], steps: [25, 100] }
`;
const follower = (name: string, min: number, prom: string) => `name: ${name}
backend: { type: local }
metrics:
  prom: { type: prometheus, url: "${prom}" }
defaults: { hold: 1h, interval: 1s, maxJump: 100 }
checks:
  - { name: alpha-far-enough, provider: prom, query: 'max(rollout_flag_percentage{plan="alpha",flag="alpha-flag"})', min: ${min}, unit: '%', tier: warning, noData: hold }
phases:
  - { name: main, flags: [${name}-flag], steps: [10, 100] }
`;

async function query(prom: string, q: string): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
  const r = await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(q)}`);
  const j = (await r.json()) as { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } };
  return j.data.result;
}

describe('/metrics scraped by Prometheus', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let s: Serving;
  let prom: Prometheus;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    await write(dir, 'a.yaml', planA);
    expect((await cli(['advance', 'a.yaml'], { cwd: dir })).code).toBe(6);
    s = await serve({ store: new FileStore(join(dir, '.rollout')), context: { cwd: dir, stateDir: '.rollout', debug: false, interactive: false }, flagStore: join(dir, '.rollout', 'flags.json'), port: 0 });
    prom = await startPrometheus([new URL(s.url).host]);
  }, 60_000);
  afterAll(async () => {
    await prom?.stop();
    await s?.close();
    await cleanup?.();
  });

  it('has the run state in Prometheus: percentage, check value and threshold, status, steps', async () => {
    const pct = await waitFor('rollout_flag_percentage in prometheus', async () => {
      const r = await query(prom.url, 'rollout_flag_percentage{plan="alpha"}');
      return r.length ? r : undefined;
    }, { timeoutMs: 20_000 });
    expect(pct[0]!.metric).toMatchObject({ flag: 'alpha-flag', plan: 'alpha', job: 'rollout-test' });
    expect(Number(pct[0]!.value[1])).toBe(25);
    expect(Number((await query(prom.url, 'rollout_check_value{plan="alpha",check="errors"}'))[0]!.value[1])).toBe(0.25);
    expect(Number((await query(prom.url, 'rollout_check_threshold{plan="alpha",check="errors",bound="max"}'))[0]!.value[1])).toBe(2);
    expect((await query(prom.url, 'rollout_run_status{plan="alpha"} == 1'))[0]!.metric.status).toBe('running');
    expect(Number((await query(prom.url, 'rollout_run_steps_completed{plan="alpha"}'))[0]!.value[1])).toBe(1);
    expect(Number((await query(prom.url, 'rollout_check_verdict{plan="alpha",check="errors",verdict="pass"}'))[0]!.value[1])).toBe(1);
  });

  it("gates another plan's step on this plan's metric", async () => {
    await write(dir, 'b.yaml', follower('beta', 20, prom.url)); // alpha is at 25: passes
    await write(dir, 'c.yaml', follower('gamma', 50, prom.url)); // alpha is at 25: blocks
    await cli(['advance', 'b.yaml'], { cwd: dir });
    await cli(['advance', 'c.yaml'], { cwd: dir });
    const b = JSON.parse((await cli(['status', 'beta', '--json'], { cwd: dir })).stdout) as { flags: Record<string, { percentage: number }>; checks: Record<string, { value: number; verdict: string }> };
    expect(b.checks['alpha-far-enough']).toMatchObject({ value: 25, verdict: 'pass' });
    expect(b.flags['beta-flag']?.percentage).toBe(10);
    const c = JSON.parse((await cli(['status', 'gamma', '--json'], { cwd: dir })).stdout) as { flags: Record<string, unknown>; checks: Record<string, { value: number; verdict: string }> };
    expect(c.checks['alpha-far-enough']).toMatchObject({ value: 25, verdict: 'fail' });
    expect(c.flags['gamma-flag']).toBeUndefined();
  }, 60_000);
});
