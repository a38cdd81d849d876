/**
 * The CLI in a temp directory: what a user (or a CI job) sees — output, exit codes, files left
 * behind. In-process through main(argv, io) (`run`); the binary itself (`cli`, `spawn`) where
 * only a process shows it: signals, a driving process steered from another, the exit code and
 * stream split of the executable.
 */
import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, quickPlan, spawn, tempDir, write, ROOT, run } from './helpers.js';
import { STATE_SCHEMA_VERSION } from '../../src/engine/types.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

describe('validate', () => {
  it('accepts the demo plan', async () => {
    const r = await run(['validate', join(ROOT, 'plans/demo.yaml')], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/plan "demo" is valid/);
  });

  it('names file, line and column, suggests keys, exits 2', async () => {
    const f = await write(dir, 'bad.yaml', quickPlan().replace('phases:', 'phases:\n  - name: extra\n    flags: [x]\n    stpes: [1]'));
    const r = await run(['validate', f], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:\d+:\d+: error: .*stpes/);
    expect(r.stderr).toMatch(/did you mean "steps"/i);
  });

  it('reports a YAML syntax error with its position and no stack trace', async () => {
    const f = await write(dir, 'broken.yaml', 'name: x\nphases: [\n  - {');
    const r = await run(['validate', f], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/broken\.yaml:\d+:\d+/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('--json lists issues with line and column', async () => {
    const f = await write(dir, 'bad.yaml', quickPlan().replace('max: 5', 'max: "five"'));
    const r = await run(['validate', f, '--json'], { cwd: dir });
    expect(r.code).toBe(2);
    const j = JSON.parse(r.stdout);
    expect(j.valid).toBe(false);
    expect(j.results[0].issues[0]).toMatchObject({ line: expect.any(Number), col: expect.any(Number), severity: 'error' });
  });

  it('a missing file and a directory are plan errors (exit 2), not crashes', async () => {
    expect((await run(['validate', 'nope.yaml'], { cwd: dir })).code).toBe(2);
    const r = await run(['validate', '.'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/directory/);
  });
});

describe('start', () => {
  it('rolls a healthy plan to 100% and exits 0; status, log and evaluate agree', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan());
    const r = await run(['start', f], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/10% applied/);
    expect(r.stdout).toMatch(/run quick-\S+: completed/);
    const st = JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout);
    expect(st).toMatchObject({ plan: 'quick', status: 'completed', flags: { 'quick-flag': { enabled: true, percentage: 100 } } });
    const log = JSON.parse((await run(['log', '--json'], { cwd: dir })).stdout);
    expect(log.events.filter((e: { type: string }) => e.type === 'step.applied')).toHaveLength(3);
    const ev = JSON.parse((await run(['evaluate', 'quick-flag', '--key', 'user-1', '--json'], { cwd: dir })).stdout);
    expect(ev.enabled).toBe(true);
    // The state file is private and versioned.
    const runDir = join(dir, '.rollout/runs', st.run);
    expect((await stat(join(runDir, 'state.json'))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(join(runDir, 'state.json'), 'utf8')).schema).toBe(STATE_SCHEMA_VERSION);
  });

  it('a critical breach rolls back: flags off, the command runs with the reason in env, an incident is recorded, exit 3', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '300ms', series: '      errors:\n        - { after: 0s, value: 0.1 }\n        - { after: 500ms, value: 9 }' }));
    const r = await run(['start', f], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/ROLLBACK/);
    const ran = JSON.parse(await readFile(join(dir, 'rollback-ran.json'), 'utf8'));
    expect(ran.reason).toMatch(/check "errors" breached \(critical\): 9% > max 5%/);
    const st = JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout);
    expect(st.status).toBe('rolled-back');
    expect(st.flags['quick-flag']).toEqual({ enabled: false, percentage: 0 });
    const files = await readdir(join(dir, '.rollout/runs', st.run));
    expect(files.some((x) => x.startsWith('incident-'))).toBe(true);
    const log = JSON.parse((await run(['log', '--json'], { cwd: dir })).stdout);
    expect(log.events.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(['breach.detected', 'rollback.started', 'rollback.flags-off', 'incident.recorded', 'command.finished', 'run.rolled-back']));
    const flags = JSON.parse(await readFile(join(dir, '.rollout/flags.json'), 'utf8'));
    expect(flags['quick-flag'].enabled).toBe(false);
  });

  it('--dry-run writes no flags and runs no command', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan());
    const r = await run(['start', f, '--dry-run'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, '.rollout/flags.json'))).toBe(false);
  });

  it('--json prints one JSON document with the outcome', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan());
    const r = await run(['start', f, '--json'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'completed', exitCode: 0 });
  });

  it('SIGINT leaves the run paused (exit 4) and says how to resume; resume finishes it', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '1h' }));
    const p = spawn(['start', f], { cwd: dir });
    // Wait (bounded) until the first step is applied, then interrupt.
    for (const until = Date.now() + 30_000; Date.now() < until && !existsSync(join(dir, '.rollout/flags.json')); ) await new Promise((r) => setTimeout(r, 50));
    p.kill('SIGINT');
    const r = await p;
    expect(r.exitCode).toBe(4);
    expect(String(r.stdout)).toMatch(/resume with: rollout resume quick-/);
    const st = JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout);
    expect(st.status).toBe('paused');
    expect(st.flags['quick-flag'].percentage).toBe(10);
    // resume → running again; promote --full skips the holds; it completes.
    const res = spawn(['resume'], { cwd: dir });
    for (const until = Date.now() + 30_000; Date.now() < until; ) {
      const s = JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout);
      if (s.status === 'running' && s.driver) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect((await run(['promote', '--full'], { cwd: dir })).code).toBe(0);
    const rr = await res;
    expect(rr.exitCode).toBe(0);
  });

  it('a control the driving process refuses comes back at once with its reason (exit 2)', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '1h' }));
    const p = spawn(['start', f], { cwd: dir });
    for (const until = Date.now() + 30_000; Date.now() < until; ) {
      const s = await run(['status', '--json'], { cwd: dir });
      if (s.code === 0 && JSON.parse(s.stdout).driver) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const t0 = Date.now();
    const r = await run(['resume'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is running, not paused/);
    expect(Date.now() - t0).toBeLessThan(10_000); // not the 15 s inbox timeout
    expect((await run(['abort'], { cwd: dir })).code).toBe(0); // the control did what was asked
    expect((await p).exitCode).toBe(9); // the driver exits with where the run stands
  });

  it('a second run on the same flag exits 5 naming the holder', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '1h' }));
    const g = await write(dir, 'other.yaml', quickPlan({ name: 'other', hold: '1h' }));
    expect((await run(['advance', f], { cwd: dir })).code).toBe(6);
    const r = await run(['start', g], { cwd: dir });
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/flag quick-flag is locked by run quick-/);
  });
});

describe('advance (CI)', () => {
  it('steps through a plan one call at a time with distinct exit codes; rollback passes the reason only through env', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '1h', extra: '' }));
    expect((await run(['advance', f], { cwd: dir })).code).toBe(6);
    let st = JSON.parse((await run(['status', 'quick', '--json'], { cwd: dir })).stdout);
    expect(st.flags['quick-flag'].percentage).toBe(10);
    expect((await run(['advance', 'quick'], { cwd: dir })).code).toBe(6); // still holding
    st = JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout);
    expect(st.flags['quick-flag'].percentage).toBe(10);
    expect((await run(['promote'], { cwd: dir })).code).toBe(0);
    expect((await run(['advance'], { cwd: dir })).code).toBe(6);
    st = JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout);
    expect(st.flags['quick-flag'].percentage).toBe(50);
    const pwned = join(dir, 'pwned');
    const reason = `bad $(touch ${pwned}) \`touch ${pwned}\`; touch ${pwned} "quoted" 'single' && rm -rf /`;
    const r = await run(['rollback', '--reason', reason], { cwd: dir });
    expect(r.code).toBe(0);
    const ran = JSON.parse(await readFile(join(dir, 'rollback-ran.json'), 'utf8'));
    expect(ran.reason).toContain(reason);
    expect(existsSync(pwned)).toBe(false);
    st = JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout);
    expect(st.status).toBe('rolled-back');
    expect(st.flags['quick-flag'].enabled).toBe(false);
  });

  it('rollback --to steps down and pauses (exit 0: done as asked) without the emergency procedure; resume climbs again', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '1h', steps: '[10, 25, 50]' }));
    expect((await run(['advance', f], { cwd: dir })).code).toBe(6);
    for (let i = 0; i < 2; i++) {
      expect((await run(['promote'], { cwd: dir })).code).toBe(0);
      expect((await run(['advance'], { cwd: dir })).code).toBe(6);
    }
    const r = await run(['rollback', '--to', '25', '--reason', 'error rate 7% at 50%', '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    const st = JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout);
    expect(st).toMatchObject({ status: 'paused', step: '25%', flags: { 'quick-flag': { enabled: true, percentage: 25 } } });
    expect(st.reason).toMatch(/partially rolled back to 25%/);
    expect(existsSync(join(dir, 'rollback-ran.json'))).toBe(false);
    expect((await run(['rollback', '--to', '30', '--reason', 'x'], { cwd: dir })).code).toBe(2);
    expect((await run(['rollback', '--to', '10', '--mode', 'gradual', '--reason', 'x'], { cwd: dir })).code).toBe(2);
    expect((await run(['resume', '--detach'], { cwd: dir })).code).toBe(6);
  });

  it('an approval gate: exit 4 until approved, then it goes on', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ steps: '[10, {percent: 100, approval: {message: "go to 100%?"}}]', hold: '0s' }));
    expect((await run(['advance', f], { cwd: dir })).code).toBe(4);
    const st = JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout);
    expect(st.status).toBe('awaiting-approval');
    expect(st.approval.message).toBe('go to 100%?');
    expect((await run(['approve', '--by', 'alice'], { cwd: dir })).code).toBe(0);
    expect((await run(['advance'], { cwd: dir })).code).toBe(0);
    const log = JSON.parse((await run(['log', '--json'], { cwd: dir })).stdout);
    expect(log.events.find((e: { type: string }) => e.type === 'approval.granted').msg).toMatch(/alice/);
  });

  it('--yes approves gates in CI', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ steps: '[{percent: 100, approval: true}]', hold: '0s' }));
    expect((await run(['start', f, '--yes'], { cwd: dir })).code).toBe(0);
  });

  it('unknown run ids get a clear error with a hint', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '1h' }));
    await run(['advance', f], { cwd: dir });
    const r = await run(['status', 'quik'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no run or plan named "quik"/);
    expect(r.stderr).toMatch(/did you mean "quick"/i);
  });
});

describe('simulate and plan', () => {
  it('simulate reports the breach and rollback of the demo without touching anything', async () => {
    const r = await run(['simulate', join(ROOT, 'plans/demo.yaml')], { cwd: dir });
    expect(r.code).toBe(3);
    expect(r.stdout).toMatch(/BREACH/);
    expect(existsSync(join(dir, '.rollout'))).toBe(false);
  });

  it('a scenario file scripts metrics over time', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '1h' }));
    const s = await write(dir, 'scn.yaml', 'checks:\n  errors:\n    - { after: 0s, value: 1 }\n    - { after: 90m, value: 50 }\n');
    const r = await run(['simulate', f, '--scenario', s, '--json'], { cwd: dir });
    expect(r.code).toBe(3);
    const j = JSON.parse(r.stdout);
    expect(j.status).toBe('rolled-back');
    expect(j.steps).toBe(2);
  });

  it('plan prints the timeline with the total duration', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '2h' }));
    const r = await run(['plan', f, '--json', '--start', '2026-12-01T09:00:00Z'], { cwd: dir });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.steps.map((s: { step: string }) => s.step)).toEqual(['10%', '50%', '100%']);
    expect(j.total).toBe('6h');
  });
});

describe('schema', () => {
  it('prints a JSON Schema that matches the committed one', async () => {
    const r = await run(['schema'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(await readFile(join(ROOT, 'schema/plan.schema.json'), 'utf8')));
  });
});

describe('usage errors', () => {
  it('unknown commands, missing arguments and conflicting options exit 2 with a hint', async () => {
    const unknown = await run(['stauts'], { cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Did you mean status\?/);
    expect((await run(['start'], { cwd: dir })).code).toBe(2);
    const conflict = await run(['start', 'x.yaml', '--dry-run', '--takeover'], { cwd: dir });
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toMatch(/cannot be used with/);
    expect((await run(['status', '--watch', '--json'], { cwd: dir })).code).toBe(2);
    const noRuns = await run(['status'], { cwd: dir });
    expect(noRuns.code).toBe(2);
    expect(noRuns.stderr).toMatch(/no runs yet[\s\S]*hint: Start one with `rollout start/);
  });

  it('rollback without a reason is refused with a hint', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '1h' }));
    await run(['advance', f], { cwd: dir });
    const r = await run(['rollback'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/reason is required[\s\S]*--reason/);
  });
});

describe('the binary', () => {
  it('bin/rollout.js carries main()’s exit code and keeps data on stdout, errors on stderr', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan());
    const ok = await cli(['start', f, '--json'], { cwd: dir });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ status: 'completed', exitCode: 0 });
    const bad = await cli(['status', 'nope'], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/no run or plan named "nope"/);
    const usage = await cli(['stauts'], { cwd: dir });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/Did you mean status\?[\s\S]*hint: see `rollout --help`/);
    expect((await cli(['--version'], { cwd: dir })).code).toBe(0);
  });
});

describe('in-process', () => {
  it('main() never touches the hosting process: no exit, no exit code, no process.env change', async () => {
    const before = { exitCode: process.exitCode, stateDir: process.env.ROLLOUT_STATE_DIR };
    const f = await write(dir, 'plan.yaml', quickPlan());
    const r = await run(['--state-dir', 'elsewhere', 'start', f], { cwd: dir });
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, 'elsewhere/flags.json'))).toBe(true);
    expect((await run(['--help'], { cwd: dir })).code).toBe(0);
    expect((await run(['start'], { cwd: dir })).code).toBe(2);
    expect({ exitCode: process.exitCode, stateDir: process.env.ROLLOUT_STATE_DIR }).toEqual(before);
  });
});
