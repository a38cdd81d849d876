import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// `npm run bench`'s live part: bench/*.bench.test.ts against the services harness
// (PostgreSQL + Unleash + Prometheus + exporter, started by test/services/global-setup.ts).
// They print figures (console.log); they assert only that the measurement itself worked.
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['bench/**/*.bench.test.ts'],
    globalSetup: ['test/services/global-setup.ts'],
    testTimeout: 300_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default'],
  },
});
