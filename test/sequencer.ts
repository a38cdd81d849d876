/**
 * Test file order: longest first, across both projects. vitest's default sorts by project name
 * (every `services` file before any `unit` file), then by the durations cached in
 * node_modules/.vite — absent on a clean clone, where it falls back to file size, so the crash
 * sweeps (small files, minutes of work) started last and the run ended with one worker busy and
 * the others idle. Files named here start first, in this order (measured durations, 2-core
 * machine, 2026-12-02); the rest follow in vitest's own order. Only the order changes: every
 * file still runs, in its own isolated worker, with the same tests.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** Slowest first (seconds measured under load, see README "Development"). Paths from the repo root. */
export const SLOW_FIRST = [
  'test/reliability/crash-unleash-rollback.test.ts',
  'test/reliability/crash-recovery.test.ts',
  'test/reliability/crash-unleash.test.ts',
  'test/reliability/workers.test.ts',
  'test/reliability/crash.test.ts',
  'test/reliability/faults.test.ts',
  'test/serve/browser.test.ts',
  'test/serve/ofrep.test.ts',
  'test/reliability/fuzz.test.ts',
  'test/adapters/state-pg-cli.test.ts',
  'test/cli/rollback-incomplete.test.ts',
  'test/adapters/flags-unleash.test.ts',
  'test/adapters/flags-command.test.ts',
  'test/reliability/locks.test.ts',
  'test/reliability/secrets.test.ts',
  'test/adapters/unleash-distribution.test.ts',
  'test/adapters/unleash-bulk.test.ts',
  'test/reliability/hostile-files.test.ts',
  'test/live/report-history.test.ts',
  'test/cli/cli.test.ts',
];

export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const base = await super.sort(files);
    const rank = (s: TestSpecification) => {
      const i = SLOW_FIRST.findIndex((p) => s.moduleId.endsWith(`/${p}`));
      return i < 0 ? SLOW_FIRST.length : i;
    };
    // Array.prototype.sort is stable: files not listed keep vitest's order.
    return [...base].sort((a, b) => rank(a) - rank(b));
  }
}
