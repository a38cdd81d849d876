/**
 * Issue 9: behaviour a user relies on — plans that cannot work are refused before they start,
 * errors that say what to do, control commands whose exit code says whether they did it.
 */
import { existsSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { quickPlan, run, spawn, tempDir, write } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

const script = async (name: string, mode = 0o755) => {
  const p = await write(dir, name, '#!/bin/sh\necho 0.1\n');
  await chmod(p, mode);
  return p;
};

describe('programs the plan names (item 7)', () => {
  const plan = (o: { rollback: string }) => quickPlan({ rollbackCommands: `    - [${o.rollback}, --now]` });

  it('validate names a misspelt rollback script, where it looked, and the near match; exit 2', async () => {
    await script('plans/rollback.sh');
    const f = await write(dir, 'plans/p.yaml', plan({ rollback: './rolback.sh' }));
    const r = await run(['validate', f], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/p\.yaml:\d+:\d+: error: rollback command 1: program \.\/rolback\.sh not found \(looked for .*plans\/rolback\.sh\) — did you mean "\.\/rollback\.sh"\?/);
  });

  it('a script that is not executable is named, with the chmod to run', async () => {
    await script('plans/rollback.sh', 0o644);
    const f = await write(dir, 'plans/p.yaml', plan({ rollback: './rollback.sh' }));
    const r = await run(['validate', f, '--json'], { cwd: dir });
    expect(r.code).toBe(2);
    const issue = JSON.parse(r.stdout).results[0].issues[0];
    expect(issue).toMatchObject({ path: 'rollback.commands.0.0', severity: 'error', line: expect.any(Number) });
    expect(issue.message).toMatch(/\.\/rollback\.sh \(.*plans\/rollback\.sh\) is not executable — `chmod \+x/);
  });

  it('a metrics command and a program missing from PATH are named; relative to the plan file, not the working directory', async () => {
    await script('plans/metric.sh');
    await script('metrc.sh'); // in the working directory, not beside the plan: does not count
    const text = quickPlan({ rollbackCommands: '    - [no-such-program-xyz, --now]' })
      .replace('metrics:\n', 'metrics:\n  cmd: { type: command, argv: [./metrc.sh] }\n')
      .replace('checks:\n', 'checks:\n  - { name: latency, provider: cmd, query: x, max: 5 }\n');
    const f = await write(dir, 'plans/p.yaml', text);
    const r = await run(['validate', f], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/metrics provider "cmd": program \.\/metrc\.sh not found .*did you mean "\.\/metric\.sh"/);
    expect(r.stderr).toMatch(/rollback command 1: program "no-such-program-xyz" is not on PATH/);
    // --no-programs: validating on another machine than the one that runs the plan.
    expect((await run(['validate', '--no-programs', f], { cwd: dir })).code).toBe(0);
  });

  it('start refuses the plan before it writes any flag (exit 2)', async () => {
    const f = await write(dir, 'p.yaml', plan({ rollback: './rolback.sh' }));
    const r = await run(['start', f], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/rolback\.sh not found/);
    expect(existsSync(join(dir, '.rollout/flags.json'))).toBe(false);
    expect(existsSync(join(dir, '.rollout/runs'))).toBe(false);
  });

  it('a plan whose programs all resolve validates', async () => {
    await script('plans/rollback.sh');
    const f = await write(dir, 'plans/p.yaml', plan({ rollback: './rollback.sh' }));
    const r = await run(['validate', f], { cwd: dir });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('errors that help (item 9)', () => {
  it('hold without a unit, "10%", maximum:, a misspelt required key: one useful message each, with the line and a caret', async () => {
    const text = quickPlan()
      .replace(/defaults: \{ hold: [^,]+,/, 'defaults: { hold: 20,')
      .replace("max: 5, unit: '%'", "maximum: 5, unit: '%'")
      .replace('  - name: main', '  - nmae: main')
      .replace('steps: [10, 50, 100]', 'steps:\n      - 10%\n      - 50');
    const f = await write(dir, 'p.yaml', text);
    const r = await run(['validate', f], { cwd: dir });
    expect(r.code).toBe(2);
    const lines = r.stderr.split('\n');
    const holdAt = lines.findIndex((l) => /error: a duration needs a unit: write "20s" or "20m"/.test(l));
    expect(holdAt).toBeGreaterThanOrEqual(0);
    // tsc style: the offending line, then a caret under the column the message names.
    const col = Number(/p\.yaml:\d+:(\d+):/.exec(lines[holdAt]!)![1]);
    expect(lines[holdAt + 1]).toMatch(/^\s+\d+ \| defaults: \{ hold: 20,/);
    const gutter = lines[holdAt + 1]!.indexOf('| ') + 2;
    expect(lines[holdAt + 2]!.indexOf('^')).toBe(gutter + col - 1);
    expect(lines[holdAt + 1]![gutter + col - 1]).toBe('2');
    expect(r.stderr).toMatch(/error: write a percentage as a plain number: 10, not "10%"/);
    expect(r.stderr).toMatch(/unknown key "maximum" — did you mean "max"\?/);
    expect(r.stderr).toMatch(/unknown key "nmae" — did you mean "name"\?/);
    // No schema noise next to the "did you mean": nothing about name being missing.
    expect(r.stderr).not.toMatch(/phases\.0\.name\)/);
    expect(r.stderr).not.toMatch(/expected (string|number), received/);
    expect(r.stderr).toMatch(/✖ .*p\.yaml: 4 errors/);
  });

  it('status with no runs names the directory it looked in', async () => {
    const r = await run(['status'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`no runs yet in ${join(dir, '.rollout')}`);
    const all = await run(['status', '--all', '--state-dir', 'elsewhere'], { cwd: dir });
    expect(all.stdout).toContain(`no runs yet in ${join(dir, 'elsewhere')}`);
  });

  it('status of an unknown run hints status --all; evaluate of a flag not in the store says so, suggests, exits 2', async () => {
    const f = await write(dir, 'p.yaml', quickPlan({ hold: '1h' }));
    expect((await run(['advance', f], { cwd: dir })).code).toBe(6);
    const st = await run(['status', 'nosuchrun'], { cwd: dir });
    expect(st.code).toBe(2);
    expect(st.stderr).toMatch(/no run or plan named "nosuchrun"[\s\S]*`rollout status --all`/);
    const ev = await run(['evaluate', 'quick-flg', '--key', 'u1'], { cwd: dir });
    expect(ev.code).toBe(2);
    expect(ev.stderr).toMatch(/flag "quick-flg" is not in the store .*flags\.json/);
    expect(ev.stderr).toMatch(/Did you mean "quick-flag"\?/);
    const none = await run(['evaluate', 'nosuch', '--key', 'u1', '--json'], { cwd: dir });
    expect(none.code).toBe(2);
    expect(JSON.parse(none.stdout).error).toMatch(/not in the store/);
    expect((await run(['evaluate', 'quick-flag', '--key', 'u1'], { cwd: dir })).code).toBe(0);
  });
});

describe('control commands exit 0 when they did what was asked (item 6)', () => {
  it('abort, rollback --to and rollback exit 0 and print the state; a rollback with a failed command exits 7', async () => {
    const f = await write(dir, 'p.yaml', quickPlan({ hold: '1h', steps: '[10, 25, 50]' }));
    expect((await run(['advance', f], { cwd: dir })).code).toBe(6);
    expect((await run(['promote'], { cwd: dir })).code).toBe(0);
    expect((await run(['advance'], { cwd: dir })).code).toBe(6);
    const partial = await run(['rollback', '--to', '10', '--reason', 'errors at 25%', '--json'], { cwd: dir });
    expect(partial.code, partial.stderr).toBe(0);
    expect(JSON.parse(partial.stdout)).toMatchObject({ status: 'paused' });
    const full = await run(['rollback', '--reason', 'still bad'], { cwd: dir });
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout).toMatch(/rolled-back/);
    expect(existsSync(join(dir, 'rollback-ran.json'))).toBe(true);

    const g = await write(dir, 'q.yaml', quickPlan({ name: 'other', flags: ['other-flag'], hold: '1h' }));
    expect((await run(['advance', g], { cwd: dir })).code).toBe(6);
    const abort = await run(['abort', 'other', '--json'], { cwd: dir });
    expect(abort.code, abort.stderr).toBe(0);
    expect(JSON.parse(abort.stdout)).toMatchObject({ status: 'aborted' });

    const h = await write(dir, 'r.yaml', quickPlan({ name: 'failing', flags: ['failing-flag'], hold: '1h', rollbackCommands: '    - [node, -e, "process.exit(3)"]' }));
    expect((await run(['advance', h], { cwd: dir })).code).toBe(6);
    expect((await run(['rollback', 'failing', '--reason', 'x'], { cwd: dir })).code).toBe(7);
  });

  it('to a live driver: pause, resume and abort exit 0 while the driver (start) exits with the run state, 9', async () => {
    const f = await write(dir, 'p.yaml', quickPlan({ hold: '1h' }));
    const p = spawn(['start', f], { cwd: dir });
    for (let i = 0; i < 200; i++) {
      const s = await run(['status', '--json'], { cwd: dir });
      if (s.code === 0 && JSON.parse(s.stdout).driver) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // pause and resume go to the driver, which carries on: both done as asked.
    expect((await run(['pause', '--reason', 'a look'], { cwd: dir })).code).toBe(0);
    expect((await run(['resume'], { cwd: dir })).code).toBe(0);
    const r = await run(['abort', '--reason', 'changed my mind'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/aborted/);
    expect((await p).exitCode).toBe(9);
  });
});

describe('start on a paused run (item 3)', () => {
  it('exits 4 at once with how to resume; --resume resumes and follows it', async () => {
    const f = await write(dir, 'p.yaml', quickPlan({ hold: '1h' }));
    expect((await run(['advance', f], { cwd: dir })).code).toBe(6);
    expect((await run(['pause', '--reason', 'looking at a graph'], { cwd: dir })).code).toBe(0);
    const t0 = Date.now();
    const r = await run(['start', f], { cwd: dir });
    expect(r.code).toBe(4);
    expect(Date.now() - t0).toBeLessThan(8_000);
    expect(r.stderr).toMatch(/run quick-\S+ of plan quick is paused: looking at a graph/);
    expect(r.stderr).toMatch(/hint: Resume it with `rollout resume quick-\S+`/);
    const j = await run(['start', f, '--json'], { cwd: dir });
    expect(j.code).toBe(4);
    expect(JSON.parse(j.stdout)).toMatchObject({ exitCode: 4, hint: expect.stringMatching(/rollout resume/) });
    const res = await run(['start', f, '--resume', '--detach', '--json'], { cwd: dir });
    expect(res.code, res.stderr).toBe(6);
    expect(JSON.parse(res.stdout)).toMatchObject({ status: 'running' });
  });
});
