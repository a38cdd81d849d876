/**
 * Shell completion, for real: the bash script printed by `rollout completion bash` is sourced
 * in bash, COMP_WORDS/COMP_CWORD are set as bash sets them, the function runs and COMPREPLY
 * is read back. `rollout` on PATH is the built CLI.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cli, quickPlan, tempDir } from '../cli/helpers.js';

const run = promisify(execFile);
let dir: string;
let cleanup: () => Promise<void>;
let script: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
  await mkdir(join(dir, 'bin'));
  await writeFile(join(dir, 'bin/rollout'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  await chmod(join(dir, 'bin/rollout'), 0o755);
  env = { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}`, NO_COLOR: '1', CI: '1' };
  await mkdir(join(dir, 'plans'));
  await writeFile(join(dir, 'plans/checkout.yaml'), quickPlan({ name: 'checkout', flags: ['new-checkout'], hold: '1h' }));
  await writeFile(join(dir, 'plans/search.yml'), quickPlan({ name: 'search' }));
  await writeFile(join(dir, 'plans/notes.txt'), 'not a plan');
  const r = await cli(['completion', 'bash'], { cwd: dir });
  expect(r.code).toBe(0);
  script = join(dir, 'rollout.bash');
  await writeFile(script, r.stdout);
}, 60_000);
afterAll(() => cleanup());

/** What bash offers for the line `words` with the cursor on word `cword`. */
async function bashComplete(words: string[], cword = words.length - 1): Promise<string[]> {
  const arr = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const { stdout } = await run('bash', ['-c', `source ${script}; COMP_WORDS=(${arr}); COMP_CWORD=${cword}; _rollout; printf '%s\\n' "\${COMPREPLY[@]}"`], { cwd: dir, env, timeout: 20_000 });
  return stdout.split('\n').filter(Boolean);
}

describe('bash completion', () => {
  it('completes commands from the program (hidden ones left out)', async () => {
    const all = await bashComplete(['rollout', '']);
    expect(all).toEqual(expect.arrayContaining(['start', 'status', 'validate', 'simulate', 'evaluate', 'init', 'completion']));
    expect(all).not.toContain('__complete');
    expect(await bashComplete(['rollout', 'st'])).toEqual(['start', 'status']);
  });

  it("completes a command's options and the global ones", async () => {
    const opts = await bashComplete(['rollout', 'start', '--']);
    expect(opts).toEqual(expect.arrayContaining(['--yes', '--dry-run', '--takeover', '--detach', '--json', '--state-dir', '--help']));
    expect(await bashComplete(['rollout', 'rollback', '--mo'])).toEqual(['--mode']);
    expect(await bashComplete(['rollout', 'rollback', '--mode', ''])).toEqual(['immediate', 'gradual']);
  });

  it('completes plan files (yaml only) for start, validate, plan and simulate', async () => {
    expect(await bashComplete(['rollout', 'start', 'pl'])).toEqual(['plans/']);
    for (const cmd of ['start', 'validate', 'plan', 'simulate']) expect(await bashComplete(['rollout', cmd, 'plans/'])).toEqual(['plans/checkout.yaml', 'plans/search.yml']);
    expect(await bashComplete(['rollout', 'validate', 'plans/checkout.yaml', 'plans/s'])).toEqual(['plans/search.yml']);
  });

  it('completes run ids and plan names for status, pause, resume …, and flag names for evaluate', async () => {
    const a = await cli(['advance', 'plans/checkout.yaml', '--yes'], { cwd: dir });
    expect([0, 6]).toContain(a.code);
    const runs = await bashComplete(['rollout', 'status', '']);
    expect(runs).toContain('checkout');
    expect(runs.some((r) => /^checkout-\d{8}-/.test(r))).toBe(true);
    for (const cmd of ['pause', 'resume', 'approve', 'abort', 'log']) expect(await bashComplete(['rollout', cmd, 'ch'])).toEqual(runs.filter((r) => r.startsWith('ch')));
    expect(await bashComplete(['rollout', 'evaluate', ''])).toEqual(['new-checkout']);
    expect(await bashComplete(['rollout', '--state-dir', 'elsewhere', 'status', ''])).toEqual([]);
  });

  it('completes the shell for `completion`', async () => {
    expect(await bashComplete(['rollout', 'completion', ''])).toEqual(['bash', 'zsh', 'fish']);
  });
});

describe('other shells', () => {
  for (const shell of ['zsh', 'fish'] as const) {
    it(`${shell}: the script calls back into rollout __complete (and parses, where ${shell} is installed)`, async () => {
      const r = await cli(['completion', shell], { cwd: dir });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('rollout __complete');
      const file = join(dir, `rollout.${shell}`);
      await writeFile(file, r.stdout);
      const have = await run('sh', ['-c', `command -v ${shell}`]).then(() => true, () => false);
      if (have) await run(shell, ['-n', file], { timeout: 10_000 });
    });
  }
  it('an unknown shell is a usage error', async () => {
    const r = await cli(['completion', 'tcsh'], { cwd: dir });
    expect(r.code).toBe(2);
  });
});
