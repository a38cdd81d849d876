import { defineConfig } from 'vitest/config';

// Two projects: `unit` (pure code and the spawned CLI on the local backend: no services) and
// `services` (adapters, live loop, reliability: real PostgreSQL, Unleash and Prometheus started
// by test/services/global-setup.ts). `npm test` runs both; the services start only when a
// services test is selected.
export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/cli/**/*.test.ts'] },
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
