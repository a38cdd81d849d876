/**
 * Hostile files (issue 8, item 3), through the built binary: plan paths that are FIFOs or
 * devices, `__proto__` keys, a state record of the wrong shape, a state "directory" that is a
 * file or read-only for its user (the commands run as `nobody` here: tests run as root, which
 * may write anywhere). None may hang, crash, or say anything but what is wrong and what to do.
 */
import { execFileSync } from 'node:child_process';
import { chmod, chown, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, cli, quickPlan, tempDir, write, type Run } from '../cli/helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

const runDirOf = async (d: string) => {
  const runs = await readdir(join(d, '.rollout/runs'));
  expect(runs).toHaveLength(1);
  return join(d, '.rollout/runs', runs[0]!);
};

describe('plan paths that are not regular files', () => {
  it('a FIFO is refused at once (exit 2) by validate, start, plan and simulate, and as a scenario', async () => {
    const fifo = join(dir, 'plan.yaml');
    execFileSync('mkfifo', [fifo]);
    for (const args of [['validate', fifo], ['start', fifo], ['plan', fifo], ['simulate', fifo]]) {
      const r = await cli(args, { cwd: dir, timeoutMs: 15_000 });
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/FIFO \(named pipe\), not a regular file/);
    }
    const plan = await write(dir, 'ok.yaml', quickPlan());
    const r = await cli(['simulate', plan, '--scenario', fifo], { cwd: dir, timeoutMs: 15_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/FIFO/);
  });

  it('a device (/dev/zero) is refused at once, not read forever', async () => {
    const r = await cli(['validate', '/dev/zero'], { cwd: dir, timeoutMs: 15_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/\/dev\/zero: error: is a character device, not a regular file/);
  });

  it('a `__proto__` key is reported as what it is, with its position', async () => {
    const f = await write(dir, 'p.yaml', quickPlan().replace('phases:', '__proto__: { polluted: true }\nphases:'));
    const r = await cli(['validate', f], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/p\.yaml:\d+:1: error: key "__proto__" is not allowed: .*prototype/);
    expect(r.stderr).not.toMatch(/unknown key "polluted"/);
  });
});

describe('a state record of the wrong shape', () => {
  it('start, status, log and resume exit 8 naming the file with a recovery hint; the file is untouched', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '1h' }));
    expect((await cli(['advance', f], { cwd: dir })).code).toBe(6);
    const file = join(await runDirOf(dir), 'state.json');
    const good = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    const bad = '{"schema":1,"id":"x","status":"running","flags":5}';
    await writeFile(file, bad);
    for (const args of [['start', f], ['status'], ['status', '--all'], ['log'], ['resume'], ['advance', f]]) {
      const r = await cli(args, { cwd: dir });
      // A new run of the plan does not take the flags of a run it cannot read: exit 5, as for a
      // truncated file (--takeover takes them); everything else: exit 8.
      expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(args[0] === 'start' || args[0] === 'advance' ? 5 : 8);
      expect(r.stderr).toContain(file);
      expect(r.stderr).toMatch(/not a valid run record/);
      expect(r.stderr).toMatch(/hint: .*mv /);
      expect(r.stderr).not.toMatch(/Cannot read properties|internal error/);
    }
    const j = await cli(['status', '--json'], { cwd: dir });
    expect(j.code).toBe(8);
    expect(JSON.parse(j.stdout)).toMatchObject({ exitCode: 8, error: expect.stringMatching(/id: the record says "x"/) });
    expect(await readFile(file, 'utf8')).toBe(bad);
    // Its own id, one field wrong: named by its path.
    const bad2 = JSON.stringify({ ...good, flags: 5 });
    await writeFile(file, bad2);
    for (const args of [['status'], ['resume'], ['start', f]]) {
      const r = await cli(args, { cwd: dir });
      expect(r.code, `${args.join(' ')}: ${r.stdout}${r.stderr}`).toBe(args[0] === 'start' ? 5 : 8);
      expect(r.stderr).toMatch(/not a valid run record \(flags: expected an object .*, found number 5\)/);
    }
    expect(await readFile(file, 'utf8')).toBe(bad2);
  });
});

describe('a state directory that cannot be used', () => {
  it('.rollout as a regular file: start and status exit 8 naming it and what to do', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan());
    await writeFile(join(dir, '.rollout'), 'not a directory\n');
    for (const args of [['start', f], ['status'], ['advance', f]]) {
      const r = await cli(args, { cwd: dir });
      expect(r.code, `${args[0]}: ${r.stdout}${r.stderr}`).toBe(8);
      expect(r.stderr).toMatch(/the state directory .*\.rollout is not a directory \(it is a regular file\)/);
      expect(r.stderr).toMatch(/hint: Move it aside/);
    }
  });

  // Tests run as root, which may write anywhere: the commands run as `nobody` here.
  const asNobody = async (args: string[], cwd: string): Promise<Run> => {
    const r = await execa('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, BIN, ...args], {
      cwd,
      env: { NO_COLOR: '1', CI: '1', HOME: cwd, USER: 'nobody' },
      reject: false,
      timeout: 30_000,
      stdin: 'ignore',
    });
    return { code: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
  };

  it.runIf(process.getuid?.() === 0)('read-only for its user: resume, start, pause exit 8 naming it; rollback still turns the flags off and says what it could not record', async () => {
    const f = await write(
      dir,
      'plan.yaml',
      quickPlan({ hold: '60s', name: 'ro' }).replace('backend: { type: local }', 'backend: { type: local, path: flagstore/flags.json }') +
        '', // the flag store lives outside the state directory: it stays writable
    );
    await write(dir, 'flagstore/.keep', '');
    execFileSync('chown', ['-R', 'nobody:nogroup', dir]);
    await chmod(dir, 0o755);
    const first = await asNobody(['advance', f], dir);
    expect(first.code, first.stdout + first.stderr).toBe(6);
    const flags = () => readFile(join(dir, 'flagstore/flags.json'), 'utf8').then((t) => JSON.parse(t) as Record<string, { enabled: boolean; percentage: number }>);
    expect((await flags())['quick-flag']).toMatchObject({ enabled: true, percentage: 10 });
    const stateFile = join(await runDirOf(dir), 'state.json');
    const before = await readFile(stateFile, 'utf8');
    execFileSync('chmod', ['-R', 'a-w', join(dir, '.rollout')]);
    try {
      for (const args of [['resume'], ['start', f], ['pause']]) {
        const r = await asNobody(args, dir);
        expect(r.code, `${args[0]}: ${r.stdout}${r.stderr}`).toBe(8);
        expect(r.stderr).toMatch(/cannot use the state directory .*\.rollout: permission denied/);
        expect(r.stderr).toMatch(/hint: Make .*\.rollout writable for nobody/);
      }
      const rb = await asNobody(['rollback', '--reason', 'db down'], dir);
      expect(rb.code, rb.stdout + rb.stderr).toBe(8);
      expect((await flags())['quick-flag']).toMatchObject({ enabled: false, percentage: 0 });
      expect(rb.stderr).toMatch(/rolled back WITHOUT RECORDING IT in .*\.rollout: rolled-back; flags quick-flag=off/);
      expect(rb.stderr).toMatch(/not recorded:\n {2}- the run's state \(the store still says "running"/);
      expect(rb.stderr).toMatch(/- \d+ event\(s\) of its log/);
      // The rollback command ran too.
      expect(JSON.parse(await readFile(join(dir, 'rollback-ran.json'), 'utf8'))).toMatchObject({ reason: expect.stringMatching(/^db down/) });
      expect(await readFile(stateFile, 'utf8')).toBe(before);
    } finally {
      execFileSync('chmod', ['-R', 'u+w', join(dir, '.rollout')]);
      await chown(dir, 0, 0);
    }
  });
});

