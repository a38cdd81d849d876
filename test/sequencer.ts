/**
 * Test file order: longest first, across both projects. vitest's default sorts by project name
 * (every `services` file before any `unit` file), then by the durations cached in
 * node_modules/.vite — absent on a clean clone, where it falls back to file size, so the crash
 * sweeps (small files, minutes of work) started last and the run ended with one worker busy and
 * the others idle. Files named here start first, in this order (measured durations, 2-core
 * machine, 2026-12-02); the rest follow in vitest's own order. Only the order changes: every
 * file still runs, with the same tests.
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Slowest first: every file that took 4 s or more (2-core machine, 2026-12-02), the crash
 * sweeps, the fault matrix and the worker tests (minutes of real waiting and processes) at the
 * head. Paths from the repo root; a file missing here just runs after these.
 */
export const SLOW_FIRST = [
  'test/reliability/faults.test.ts',
  'test/reliability/workers.test.ts',
  'test/reliability/crash-unleash-rollback.test.ts',
  'test/reliability/crash-recovery.test.ts',
  'test/reliability/crash-unleash.test.ts',
  'test/reliability/crash.test.ts',
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
  'test/adapters/backtest-prometheus.test.ts',
  'test/unit/engine.test.ts',
  'test/adapters/metrics-prometheus.test.ts',
  'test/adapters/flags-http.test.ts',
  'test/live/live-loop.test.ts',
  'test/adapters/metrics-command.test.ts',
  'test/unit/init.test.ts',
  'test/unit/completion.test.ts',
  'test/cli/hostile.test.ts',
  'test/unit/plans.test.ts',
  'test/adapters/unleash-variants.test.ts',
  'test/unit/stats.test.ts',
  'test/cli/output.test.ts',
  'test/seeds/simulate-output.test.ts',
  'test/cli/prompt-dryrun.test.ts',
  'test/cli/ux.test.ts',
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
