import { defineConfig } from 'vitest/config';
import SlowFirstSequencer from './test/sequencer.js';

// Two projects: `unit` (pure code and the spawned CLI on the local backend: no services) and
// `services` (adapters, live loop, reliability: real PostgreSQL, Unleash and Prometheus started
// by test/services/global-setup.ts). `npm test` runs both; the services start only when a
// services test is selected.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Most tests wait on child processes, servers, holds and leases, not the CPU: run 4 files at
    // a time even on a 2-core machine (the default, cores − 1, runs them one by one). With 3,
    // a full run used 1.3 of the 2 cores; with 4, vitest took 172 s instead of 208 s
    // (2026-12-02, 1,410 tests, lightly loaded 2-core machine).
    maxWorkers: 4,
    reporters: ['default'],
    // Longest files first (test/sequencer.ts): the run ends when its longest file does.
    sequence: { sequencer: SlowFirstSequencer },
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          // One module graph per worker instead of one per file: these files mock nothing,
          // stub no globals, fake no timers and change no process.env (test/unit/isolation.test.ts
          // keeps it so), so sharing the imported src/ modules is safe; it saves ~17 % of the
          // project's CPU (importing src/ again for each of its 44 files).
          isolate: false,
          include: ['test/unit/**/*.test.ts', 'test/cli/**/*.test.ts', 'test/seeds/**/*.test.ts', 'test/serve/**/*.test.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'services',
          include: ['test/adapters/**/*.test.ts', 'test/live/**/*.test.ts', 'test/reliability/**/*.test.ts'],
          globalSetup: ['test/services/global-setup.ts'],
        },
      },
    ],
  },
});
