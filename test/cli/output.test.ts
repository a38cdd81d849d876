/**
 * What people read after a run: `log` with the rollback command's output and `--follow`,
 * incident files named by time and run, durations as 1h (not 3600s), a plan's warnings
 * shown once per run, tables within the terminal width.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fitColumns } from '../../src/output/table.js';
import { cli, quickPlan, spawn, tempDir, write } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(() => cleanup());

const breaching = () =>
  quickPlan({
    hold: '300ms',
    series: '      errors:\n        - { after: 0s, value: 0.1 }\n        - { after: 500ms, value: 9 }',
    rollbackCommands: '    - [node, -e, "console.log(\'paged on-call about\', process.env.ROLLOUT_RUN_ID)"]',
  });

describe('log', () => {
  it("shows the rollback command's output under its event, and names the incident file by time and run", async () => {
    const f = await write(dir, 'plan.yaml', breaching());
    expect((await cli(['start', f], { cwd: dir })).code).toBe(3);
    const st = JSON.parse((await cli(['status', '--json'], { cwd: dir })).stdout) as { run: string };
    const log = await cli(['log'], { cwd: dir });
    expect(log.code).toBe(0);
    const lines = log.stdout.split('\n');
    const cmd = lines.findIndex((l) => /command\.finished/.test(l));
    expect(cmd).toBeGreaterThan(0);
    expect(lines[cmd + 1]).toBe(`          │ paged on-call about ${st.run}`);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC +\d+ run\.started/);
    const files = await readdir(join(dir, '.rollout/runs', st.run));
    const incidents = files.filter((x) => x.startsWith('incident-'));
    expect(incidents).toHaveLength(1);
    expect(incidents[0]).toMatch(new RegExp(`^incident-\\d{8}T\\d{6}Z-${st.run}-\\d+\\.json$`));
  });

  it('--follow prints events as they happen and ends with the run', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '400ms', steps: '[10, 50, 100]' }));
    const run = spawn(['start', f], { cwd: dir });
    // Wait until the run exists, then follow it.
    const deadline = Date.now() + 20_000;
    while ((await cli(['status', '--json'], { cwd: dir })).code !== 0) {
      if (Date.now() > deadline) throw new Error('the run never started');
      await new Promise((r) => setTimeout(r, 100));
    }
    const follow = await cli(['log', '--follow'], { cwd: dir, timeoutMs: 30_000 });
    const started = await run;
    expect(started.exitCode).toBe(0);
    expect(follow.code).toBe(0);
    const types = follow.stdout.split('\n').map((l) => l.split(/\s+/)[4]).filter(Boolean);
    expect(types[0]).toBe('run.started');
    expect(types.at(-1)).toBe('run.completed');
    expect(types.filter((t) => t === 'step.applied')).toHaveLength(3);
    // Every event once, in order.
    const seqs = follow.stdout.split('\n').filter(Boolean).map((l) => Number(l.split(/\s+/)[3]));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
  });
});

describe('durations and warnings', () => {
  it('simulate says "holding 1d", not "holding 86400s"', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '1d', steps: '[50, 100]' }));
    const r = await cli(['simulate', f, '--events'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('holding 1d until');
    expect(r.stdout).not.toMatch(/holding \d+s/);
  });

  it("a plan's warnings are printed when its run starts, then counted when the run is picked up again", async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '1h', steps: '[10, 100]' }).replace('maxJump: 100', 'maxJump: 25'));
    const first = await cli(['start', f, '--detach'], { cwd: dir });
    expect(first.stderr).toMatch(/warning: jump from 10% to 100%/);
    const again = await cli(['start', f, '--detach'], { cwd: dir });
    expect(again.stderr).not.toMatch(/jump from/);
    expect(again.stderr).toMatch(/1 warning, shown when run quick-\S+ started \(`rollout validate .*plan\.yaml` lists them\)/);
  });
});

describe('tables fit the terminal', () => {
  it('narrows the widest columns until the table fits, and leaves a fitting table alone', () => {
    const head = ['#', 'phase', 'checks'];
    const rows = [['1', 'core', 'error-rate, p99-latency, memory-usage, recovery-failures']];
    expect(fitColumns(head, rows, 200)).toBeUndefined();
    expect(fitColumns(head, rows, 0)).toBeUndefined();
    const w = fitColumns(head, rows, 40)!;
    expect(w.reduce((a, b) => a + b, 0) + w.length + 1).toBe(40);
    expect(w[0]).toBe(3);
    expect(w[1]).toBe(7);
  });
});
