/**
 * `rollout simulate` without --events prints a check line only when the check is not plainly
 * passing. It used to decide by matching "fail" in the event text, so a passing check whose
 * *name* contains "fail" (seed 004's recovery-failures, seed 003's beta-access-failures)
 * printed as if something had failed.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, ROOT } from '../cli/helpers.js';

const sim = (plan: string, extra: string[] = []) => cli(['simulate', join(ROOT, 'plans', plan), '--start', '2025-03-03T08:00:00Z', ...extra], { cwd: ROOT, env: { NO_COLOR: '1' } });

describe('simulate prints check lines by verdict, not by name', () => {
  it('a healthy state-persistence run prints no "recovery-failures: pass" line', async () => {
    const r = await sim('state-persistence.yaml');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/check recovery-failures: pass/);
    expect(r.stdout).toMatch(/simulated state-persistence .*: completed/);
  });
  it('a healthy dojopool run prints no "beta-access-failures: pass" line', async () => {
    const r = await sim('dojopool.yaml');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/beta-access-failures: pass/);
  });
  it('a failing check is still printed', async () => {
    const { tempDir, write } = await import('../cli/helpers.js');
    const { dir, cleanup } = await tempDir();
    try {
      const sc = await write(dir, 'sc.yaml', "checks:\n  recovery-failures: [{ after: '12d', value: 0.05 }]\n");
      const r = await sim('state-persistence.yaml', ['--scenario', sc]);
      expect(r.stdout).toMatch(/check recovery-failures: fail/);
      expect(r.stdout).toMatch(/BREACH/);
    } finally {
      await cleanup();
    }
  });
});
