/**
 * Issue 9, items 1 and 2: a dry run leaves nothing that could later write flags; the go/no-go
 * prompt on a real terminal closes when the gate is decided elsewhere or the run ends, and the
 * first Ctrl-C at it pauses the run. The prompt tests run the CLI under `script` (util-linux),
 * which gives it a real pseudo-terminal; Ctrl-C is the byte 0x03 typed into that terminal.
 */
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, quickPlan, run, spawn, tempDir, write } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

const runs = async () => readdir(join(dir, '.rollout/runs')).catch(() => [] as string[]);
const until = async (what: string, f: () => boolean | Promise<boolean>, ms = 15_000) => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await f()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
};

describe('dry runs stay dry (item 1)', () => {
  it('Ctrl-C leaves no run behind: nothing to resume, status has no runs, a later start begins afresh', async () => {
    const f = await write(dir, 'p.yaml', quickPlan({ hold: '1h' }));
    const p = spawn(['start', f, '--dry-run'], { cwd: dir });
    let out = '';
    p.stdout!.on('data', (b: Buffer) => (out += String(b)));
    p.stderr!.on('data', (b: Buffer) => (out += String(b)));
    await until('the first simulated step', () => /10% applied/.test(out));
    p.kill('SIGINT');
    const r = await p;
    expect(String(r.stdout)).not.toMatch(/resume with/);
    expect(String(r.stdout)).toMatch(/dry run: nothing was written and nothing was recorded; there is nothing to resume/);
    expect(await runs()).toEqual([]);
    expect(existsSync(join(dir, '.rollout/flags.json'))).toBe(false);
    expect((await run(['resume'], { cwd: dir })).stderr).toMatch(/no runs yet/);
    const real = await run(['advance', f], { cwd: dir });
    expect(real.code).toBe(6);
    expect(real.stderr).not.toMatch(/picking up/);
    const st = JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout);
    expect(st.flags['quick-flag']).toMatchObject({ enabled: true, percentage: 10 });
  });

  it("never touches the plan's real run: a paused real run stays paused at its percentage", async () => {
    const f = await write(dir, 'p.yaml', quickPlan({ hold: '1h', steps: '[10, 50, {percent: 100, approval: true}]' }));
    expect((await run(['advance', f], { cwd: dir })).code).toBe(6);
    expect((await run(['pause'], { cwd: dir })).code).toBe(0);
    const before = await readFile(join(dir, '.rollout/flags.json'), 'utf8');
    // The same plan (name quick) with short holds, so the dry run ends quickly. Not
    // interactive: the gate a real run would wait at is taken as approved.
    const g = await write(dir, 'fast.yaml', quickPlan({ hold: '100ms', steps: '[10, 50, {percent: 100, approval: true}]' }));
    const d = await run(['start', g, '--dry-run', '--json'], { cwd: dir });
    expect(d.code, d.stderr).toBe(0);
    expect(JSON.parse(d.stdout)).toMatchObject({ status: 'completed', dryRun: true, recorded: false });
    expect(d.stderr).toMatch(/the real run quick-\S+ \(paused\) of plan quick is left as it is/);
    expect(await readFile(join(dir, '.rollout/flags.json'), 'utf8')).toBe(before);
    expect(await runs()).toHaveLength(1);
    const st = JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout);
    expect(st).toMatchObject({ status: 'paused', flags: { 'quick-flag': { percentage: 10 } } });
  });
});

const hasScript = (() => {
  try {
    execSync('script --version', { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

/** The CLI on a pseudo-terminal: `script` copies our stdin into the terminal and its output to stdout. */
function onTerminal(args: string[]) {
  const cmd = ['node', BIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const p = execa('script', ['-qfec', cmd, '/dev/null'], { cwd: dir, env: { NO_COLOR: '1', CI: '', TERM: 'xterm' }, stdin: 'pipe', reject: false, timeout: 20_000 });
  let out = '';
  p.stdout!.on('data', (b: Buffer) => (out += String(b)));
  return { p, out: () => out };
}

const gatePlan = () => quickPlan({ hold: '0s', steps: '[10, {percent: 100, approval: {message: "go to 100%?"}}]' });

describe.skipIf(!hasScript)('the go/no-go prompt on a terminal (item 2)', () => {
  it('closes when the gate is approved from another shell, and the process exits when the run ends', async () => {
    const f = await write(dir, 'p.yaml', gatePlan());
    const t = onTerminal(['start', f]);
    await until('the prompt', () => /Approve\? \(y\/N\)/.test(t.out()));
    const a = await run(['approve', '--by', 'bob'], { cwd: dir });
    expect(a.code, a.stderr).toBe(0);
    const r = await t.p; // no Enter is ever typed
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(0);
    expect(t.out()).toMatch(/prompt closed: approved elsewhere/);
    expect(t.out()).toMatch(/completed/);
  });

  it('the first Ctrl-C at the prompt pauses the run (exit 4) and says how to resume', async () => {
    const f = await write(dir, 'p.yaml', gatePlan());
    const t = onTerminal(['start', f]);
    await until('the prompt', () => /Approve\? \(y\/N\)/.test(t.out()));
    t.p.stdin!.write('\x03');
    const r = await t.p;
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(4);
    expect(t.out()).toMatch(/SIGINT: finishing the action in flight, then pausing the run/);
    expect(t.out()).toMatch(/resume with: rollout resume quick-/);
    const st = JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout);
    expect(st.status).toBe('paused');
  });

  it('answering y at the prompt approves here (not reported as decided elsewhere)', async () => {
    const f = await write(dir, 'p.yaml', gatePlan());
    const t = onTerminal(['start', f]);
    await until('the prompt', () => /Approve\? \(y\/N\)/.test(t.out()));
    t.p.stdin!.write('y\r');
    const r = await t.p;
    expect(r.exitCode).toBe(0);
    expect(t.out()).not.toMatch(/prompt closed/);
  });
});
