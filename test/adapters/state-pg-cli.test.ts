/**
 * PostgreSQL as the shared state store, end to end: a run started from one working directory
 * (one "machine") is visible, steerable and finished from another, through ROLLOUT_STATE_URL.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabaseAt } from '../services/postgres.js';
import { cli, quickPlan, tempDir, write } from '../cli/helpers.js';

let url: string;
const dirs: Array<{ dir: string; cleanup: () => Promise<void> }> = [];
beforeAll(async () => {
  url = await createDatabaseAt(inject('pgUrl'), `rollout_cli_${randomBytes(4).toString('hex')}`);
  dirs.push(await tempDir(), await tempDir());
});
afterAll(async () => {
  for (const d of dirs) await d.cleanup();
});

describe('ROLLOUT_STATE_URL=postgres://…', () => {
  // Nine CLI processes in a row: ~4 s alone, 21-27 s while the crash sweeps load both cores,
  // once over the 30 s default. A bound with room, not a wait.
  it('a run started in one place is seen, promoted and rolled back from another', { timeout: 90_000 }, async () => {
    const [a, b] = dirs.map((d) => d.dir) as [string, string];
    const env = { ROLLOUT_STATE_URL: url };
    const f = await write(a, 'plan.yaml', quickPlan({ name: 'shared', hold: '1h' }));
    const adv = await cli(["advance", f], { cwd: a, env });
    expect(adv.code).toBe(6);
    // Another machine: a different directory, no files of the first.
    const st = JSON.parse((await cli(['status', 'shared', '--json'], { cwd: b, env })).stdout);
    expect(st).toMatchObject({ plan: 'shared', status: 'running', flags: { 'quick-flag': { percentage: 10 } } });
    // A second run on the same flag is refused from anywhere.
    const g = await write(b, 'other.yaml', quickPlan({ name: 'other', hold: '1h' }));
    const locked = await cli(['start', g], { cwd: b, env });
    expect(locked.code).toBe(5);
    expect(locked.stderr).toMatch(/flag quick-flag is locked by run shared-/);
    const log = JSON.parse((await cli(['log', 'shared', '--json'], { cwd: b, env })).stdout);
    expect(log.events.some((e: { type: string }) => e.type === 'step.applied')).toBe(true);
    // Steered from the second place; the first sees the outcome.
    expect((await cli(['promote', 'shared'], { cwd: b, env })).code).toBe(0);
    const rb = await cli(['rollback', 'shared', '--reason', 'seen from b'], { cwd: b, env });
    expect(rb.code).toBe(0); // a control that did what was asked exits 0
    const after = JSON.parse((await cli(['status', 'shared', '--json'], { cwd: a, env })).stdout);
    expect(after.status).toBe('rolled-back');
    expect(after.reason).toMatch(/seen from b/);
    // The state never mentions the database password.
    expect(JSON.stringify(st)).not.toContain(new URL(url).password || '\u0000');
  });

  it("status (one run and --all) answers from the plan the run stored, not from a plan file the other machine lacks", { timeout: 90_000 }, async () => {
    const [a, b] = dirs.map((d) => d.dir) as [string, string];
    const env = { ROLLOUT_STATE_URL: url };
    const f = await write(a, 'snap.yaml', quickPlan({ name: 'snap', flags: ['snap-flag'], hold: '1h' }));
    expect((await cli(['advance', f], { cwd: a, env })).code).toBe(6);
    // On "another machine" the plan file is not there (and its variables would not be set).
    const { rename } = await import('node:fs/promises');
    await rename(f, `${f}.elsewhere`);
    const one = JSON.parse((await cli(['status', 'snap', '--json'], { cwd: b, env })).stdout) as Record<string, unknown>;
    expect(one).toMatchObject({ plan: 'snap', phase: 'main', step: '10%', nextStep: { phase: 'main', step: '50%' } });
    const all = JSON.parse((await cli(['status', '--all', '--json'], { cwd: b, env })).stdout) as { runs: Array<Record<string, unknown>> };
    expect(all.runs.find((r) => r.plan === 'snap')).toMatchObject({ phase: 'main', step: '10%', nextStep: { phase: 'main', step: '50%' } });
  });
});

describe('a driver on another host (issue 8 item 2)', () => {
  const plantDriver = async (id: string, leaseMs: number) => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      await c.query(
        `UPDATE rollout.run_locks SET host = 'elsewhere.example', pid = 4242, worker = NULL, epoch = epoch + 1,
           lease_until = (extract(epoch from clock_timestamp()) * 1000)::bigint + $2 WHERE run_id = $1`,
        [id, leaseMs],
      );
    } finally {
      await c.end();
    }
  };

  it('a command waits for a dead driver\'s lease to lapse and takes the run over; a live one: exit 5 naming it and until when', { timeout: 90_000 }, async () => {
    const [a, b] = dirs.map((d) => d.dir) as [string, string];
    const env = { ROLLOUT_STATE_URL: url };
    const f = await write(a, 'far.yaml', quickPlan({ name: 'far', flags: ['far-flag'], hold: '1h' }));
    expect((await cli(['advance', f], { cwd: a, env })).code).toBe(6);
    const id = JSON.parse((await cli(['status', 'far', '--json'], { cwd: b, env })).stdout).run as string;
    // Its driver "on another host" dies: its lease (3 s left) is not renewed.
    await plantDriver(id, 3_000);
    const t0 = Date.now();
    const paused = await cli(['pause', id, '--reason', 'driver gone'], { cwd: b, env });
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stderr).toMatch(/is gone \(its lease lapsed\); taking the run over here/);
    expect(Date.now() - t0).toBeLessThan(15_000);
    const st = JSON.parse((await cli(['status', id, '--json'], { cwd: b, env })).stdout);
    expect(st.status).toBe('paused');
    expect(st.reason).toMatch(/driver gone/);
    // A driver whose lease is renewed but which does not take the request: exit 5, who and until when.
    await plantDriver(id, 3_600_000);
    const stuck = await cli(['resume', id], { cwd: b, env, timeoutMs: 40_000 });
    expect(stuck.code, stuck.stderr).toBe(5);
    expect(stuck.stderr).toMatch(/driven by pid 4242 on elsewhere\.example \(lease until \d{4}-\d\d-\d\dT/);
  });
});
