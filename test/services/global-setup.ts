/**
 * vitest globalSetup: once per test run, start PostgreSQL, a metrics exporter, Prometheus
 * scraping it, and Unleash on a database of that PostgreSQL; provide their addresses to tests
 * (`inject('unleashUrl')`, types in provided.d.ts); stop everything afterwards. A service that
 * cannot start fails the run with the reason: nothing is skipped silently.
 *
 * Also provided: `unleashTemplateDb`, a migrated, never-used Unleash database; a test that
 * needs its own pristine Unleash calls startFreshUnleash() (test/services/fresh.ts).
 */
import type { TestProject } from 'vitest/node';
import { startExporter, type Exporter } from './exporter.js';
import { startPostgres, type Postgres } from './postgres.js';
import { startPrometheus, type Prometheus } from './prometheus.js';
import { migrateUnleashDatabase, startUnleash, type Unleash } from './unleash.js';
import { cleanupAll } from './util.js';

export const UNLEASH_TEMPLATE_DB = 'unleash_template';

const timed = async <T>(what: string, timings: Record<string, number>, f: () => Promise<T>): Promise<T> => {
  const t0 = Date.now();
  const v = await f();
  timings[what] = Date.now() - t0;
  return v;
};

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  let pg: Postgres | undefined;
  let exporter: Exporter | undefined;
  let prometheus: Prometheus | undefined;
  let unleash: Unleash | undefined;
  const teardown = async () => {
    const t = Date.now();
    await cleanupAll([
      () => unleash?.stop(),
      () => prometheus?.stop(),
      () => exporter?.stop(),
      () => pg?.stop(),
    ]);
    if (process.env.ROLLOUT_SERVICES_VERBOSE) console.log(`[services] stopped in ${Date.now() - t} ms`);
  };

  const failures: string[] = [];
  const attempt = async (what: string, f: () => Promise<void>) => {
    try {
      await f();
    } catch (err) {
      failures.push(`${what}: ${(err as Error).message}`);
    }
  };
  await Promise.all([
    attempt('metrics (exporter + prometheus)', async () => {
      exporter = await timed('exporter', timings, startExporter);
      const ex = exporter;
      prometheus = await timed('prometheus', timings, () => startPrometheus([ex.hostPort]));
    }),
    attempt('postgres + unleash', async () => {
      pg = await timed('postgres', timings, startPostgres);
      const p = pg;
      await Promise.all([
        (async () => {
          unleash = await timed('unleash', timings, () => startUnleash(p, { database: 'unleash' }));
        })(),
        timed('unleash template db', timings, async () => {
          await p.createDatabase(UNLEASH_TEMPLATE_DB);
          await migrateUnleashDatabase(p, UNLEASH_TEMPLATE_DB);
        }),
      ]);
    }),
  ]);
  if (failures.length || !pg || !exporter || !prometheus || !unleash) {
    await teardown().catch(() => undefined);
    throw new Error(`test services could not start:\n- ${failures.join('\n- ')}`);
  }

  project.provide('pgUrl', pg.url);
  project.provide('unleashUrl', unleash.url);
  project.provide('unleashAdminToken', unleash.adminToken);
  project.provide('unleashClientToken', unleash.clientToken);
  project.provide('unleashTemplateDb', UNLEASH_TEMPLATE_DB);
  project.provide('prometheusUrl', prometheus.url);
  project.provide('exporterUrl', exporter.url);
  const total = Date.now() - t0;
  if (process.env.ROLLOUT_SERVICES_VERBOSE) {
    console.log(`[services] ready in ${total} ms (${Object.entries(timings).map(([k, v]) => `${k} ${v} ms`).join(', ')})`);
  }
  return teardown;
}
