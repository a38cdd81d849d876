/**
 * `rollout report` and `rollout serve` on runs kept in PostgreSQL (ROLLOUT_STATE_URL): the same
 * report and API as with the file store, and the live cache notices a change made elsewhere.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabaseAt } from '../services/postgres.js';
import { cli, tempDir, write } from '../cli/helpers.js';
import { startServe, type Served } from '../serve/helpers.js';

const plan = `name: pg-report
backend: { type: local }
metrics:
  sim: { type: simulated, series: { errors: 0.3 } }
defaults: { hold: 1h, interval: 1s, maxJump: 100 }
checks:
  - { name: errors, provider: sim, query: errors, max: 4, unit: '%', tier: critical }
phases:
  - { name: main, flags: [pg-flag], steps: [15, 100] }
`;

describe('report and serve with ROLLOUT_STATE_URL=postgres://…', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let env: Record<string, string>;
  let served: Served | undefined;

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    env = { ROLLOUT_STATE_URL: await createDatabaseAt(inject('pgUrl'), `rollout_serve_${randomBytes(4).toString('hex')}`) };
    await write(dir, 'p.yaml', plan);
    expect((await cli(['advance', 'p.yaml'], { cwd: dir, env })).code).toBe(6);
  }, 60_000);
  afterAll(async () => {
    await served?.stop();
    await cleanup?.();
  });

  it('writes the report of a live run', async () => {
    const r = await cli(['report', 'pg-report', '--out', 'r.html'], { cwd: dir, env });
    expect(r.code, r.stderr).toBe(0);
    const html = await readFile(join(dir, 'r.html'), 'utf8');
    const data = JSON.parse(/<script type="application\/json" id="rollout-data">(.*?)<\/script>/s.exec(html)![1]!) as { model: { run: { status: string; flags: Record<string, { percentage: number }> }; checks: Array<{ name: string; max: number }>; log: Array<{ type: string }> } };
    expect(data.model.run.status).toBe('running');
    expect(data.model.run.flags['pg-flag']?.percentage).toBe(15);
    expect(data.model.checks.find((c) => c.name === 'errors')?.max).toBe(4);
    expect(data.model.log.map((e) => e.type)).toContain('step.applied');
  });

  it('serves the run and sees a pause made from the CLI', async () => {
    served = await startServe(dir, env);
    const runs = (await (await fetch(served.url + '/api/runs')).json()) as { runs: Array<{ plan: string; status: string }> };
    expect(runs.runs.map((r) => [r.plan, r.status])).toEqual([['pg-report', 'running']]);
    expect((await cli(['pause', 'pg-report', '--reason', 'pg pause'], { cwd: dir, env })).code).toBe(0);
    let status = '';
    for (let i = 0; i < 30 && status !== 'paused'; i++) {
      status = ((await (await fetch(served.url + '/api/runs/pg-report')).json()) as { status: string }).status;
      if (status !== 'paused') await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe('paused');
  });
});
