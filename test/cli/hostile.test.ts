/**
 * Hostile text (issue 8, items 4–5), through the built binary: control characters in reasons,
 * backend errors and command output never reach the terminal as such; `status --all --json`
 * and the plan snapshot. Hostile files (FIFOs, devices, wrong-shape state, unusable state
 * directories) are in test/reliability/hostile-files.test.ts.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, quickPlan, tempDir, write } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

describe('text that would forge output', () => {
  const evil = 'evil\x1b[2J\x1b]0;title\x07\nline2';

  it('a reason with escape sequences and a newline is shown neutralised in output, status and log; --json keeps it', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '60s' }));
    expect((await cli(['advance', f], { cwd: dir })).code).toBe(6);
    const rb = await cli(['rollback', '--reason', evil, '--by', 'alice'], { cwd: dir });
    expect(rb.code).toBe(0);
    for (const r of [rb, await cli(['status'], { cwd: dir }), await cli(['log'], { cwd: dir }), await cli(['status', '--all'], { cwd: dir })]) {
      const out = r.stdout + r.stderr;
      expect(out).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/); // NO_COLOR: nothing but text, tabs and newlines
      expect(out).not.toMatch(/^line2/m); // no fake line
    }
    expect((await cli(['log'], { cwd: dir })).stdout).toContain('evil\\x1b[2J\\x1b]0;title\\x07\\nline2');
    const j = JSON.parse((await cli(['status', '--json'], { cwd: dir })).stdout) as { rollback: { reason: string } };
    expect(j.rollback.reason).toContain(evil);
    const lj = JSON.parse((await cli(['log', '--json'], { cwd: dir })).stdout) as { events: Array<{ msg: string }> };
    expect(lj.events.some((e) => e.msg.includes(evil))).toBe(true);
  });

  it('backend error bodies and command output are neutralised too', async () => {
    const f = await write(
      dir,
      'plan.yaml',
      quickPlan({ hold: '60s', rollbackCommands: `    - [node, -e, "process.stdout.write('ok\\\\x1b]0;pwned\\\\x07\\\\n'); process.exit(1)"]` }),
    );
    expect((await cli(['advance', f], { cwd: dir })).code).toBe(6);
    const rb = await cli(['rollback', '--reason', 'x'], { cwd: dir });
    expect(rb.stdout + rb.stderr).not.toMatch(/\x1b|\x07/);
    expect(rb.stdout + rb.stderr).toContain('\\x1b]0;pwned\\x07');
  });
});

describe('status --all --json', () => {
  it('a run in progress has its phase, step, next step and driver, as `status <run> --json` does', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '60s' }));
    expect((await cli(['advance', f], { cwd: dir })).code).toBe(6);
    const all = JSON.parse((await cli(['status', '--all', '--json'], { cwd: dir })).stdout) as { runs: Array<Record<string, unknown>> };
    const one = JSON.parse((await cli(['status', '--json'], { cwd: dir })).stdout) as Record<string, unknown>;
    expect(all.runs).toHaveLength(1);
    expect(all.runs[0]).toMatchObject({ phase: 'main', step: '10%', nextStep: { phase: 'main', step: '50%' }, driver: null });
    for (const k of ['phase', 'step', 'nextStep', 'driver', 'status', 'flags']) expect(all.runs[0]![k], k).toEqual(one[k]);
  });

  it("uses the plan the run stored, not the plan file (gone, or changed since)", async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '60s' }));
    expect((await cli(['advance', f], { cwd: dir })).code).toBe(6);
    await writeFile(f, quickPlan({ hold: '60s' }).replace('name: main', 'name: renamed').replace('[10, 50, 100]', '[10, 20, 100]'));
    let one = JSON.parse((await cli(['status', '--json'], { cwd: dir })).stdout) as Record<string, unknown>;
    expect(one).toMatchObject({ phase: 'main', nextStep: { phase: 'main', step: '50%' } });
    await rm(f);
    one = JSON.parse((await cli(['status', '--json'], { cwd: dir })).stdout) as Record<string, unknown>;
    expect(one).toMatchObject({ phase: 'main', step: '10%', nextStep: { phase: 'main', step: '50%' } });
    const all = JSON.parse((await cli(['status', '--all', '--json'], { cwd: dir })).stdout) as { runs: Array<Record<string, unknown>> };
    expect(all.runs[0]).toMatchObject({ phase: 'main', step: '10%', nextStep: { phase: 'main', step: '50%' } });
  });
});
