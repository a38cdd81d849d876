/**
 * The example plans of docs/adapters.md (docs/examples/*.yaml): each validates with exactly the
 * environment variables its header names (and fails, naming them, without), builds its
 * adapters offline (options parse, no I/O), and simulates to completion on the healthy
 * scenario. Together they show every flag backend, metrics provider and notifier, and the
 * reference documents every option each adapter's `options` schema accepts.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { flagBackends, metricsProviders, notifiers } from '../../src/adapters/registry.js';
import type { AdapterContext } from '../../src/adapters/types.js';
import { PlanError } from '../../src/errors.js';
import { loadPlan } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/model.js';
import { simulatePlan } from '../../src/runner/simulate.js';

const ROOT = resolve(import.meta.dirname, '../..');
const EXAMPLES = join(ROOT, 'docs/examples');
const DOC = readFileSync(join(ROOT, 'docs/adapters.md'), 'utf8');

/** The variables each example needs (without a `:-default`), as its header comment says. */
const SLACK = { SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0000000/B0000000/example000000000000' };
const ENV: Record<string, Record<string, string>> = {
  'local.yaml': {},
  'unleash.yaml': { UNLEASH_TOKEN: '*:*.example-admin-token', ...SLACK },
  'launchdarkly.yaml': {
    LD_API_TOKEN: 'api-example-token',
    DD_API_KEY: 'example-dd-api-key',
    DD_APP_KEY: 'example-dd-app-key',
    ALERTS_WEBHOOK_URL: 'https://alerts.example.com/hooks/rollout',
    ALERTS_TOKEN: 'example-alerts-token',
  },
  'flagd.yaml': { ONCALL_WEBHOOK_URL: 'https://oncall.example.com/hooks/example' },
  'http.yaml': { FLAG_API_TOKEN: 'example-flag-api-token', METRICS_TOKEN: 'example-metrics-token', ...SLACK },
  'http-custom.yaml': { FLAGS_API_KEY: 'example-flags-api-key', STATS_TOKEN: 'example-stats-token' },
  'env-file.yaml': { ONCALL_WEBHOOK_URL: 'https://oncall.example.com/hooks/example' },
  'command.yaml': {},
};
/** Read by an adapter at run time rather than interpolated (http `auth.tokenEnv`). */
const RUNTIME_ENV: Record<string, string[]> = { 'http.yaml': ['FLAG_API_TOKEN'] };

const files = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.yaml'))
  .sort();
// The examples are templates: their programs (./scripts/flagctl, docker …) live on the reader's
// machine, so they are validated as `rollout validate --no-programs` would.
const load = async (f: string): Promise<Plan> => (await loadPlan(join(EXAMPLES, f), { env: ENV[f], programs: false })).plan;
const START = Date.parse('2025-03-03T08:00:00Z');

describe('docs/examples', () => {
  it('has one example per flag backend, and every example is listed here', () => {
    expect(Object.keys(ENV).sort()).toEqual(files);
    for (const type of Object.keys(flagBackends)) expect(files).toContain(`${type}.yaml`);
  });

  it('together use every flag backend, metrics provider and notifier', async () => {
    const plans = await Promise.all(files.map(load));
    expect(new Set(plans.map((p) => p.backend.type))).toEqual(new Set(Object.keys(flagBackends)));
    expect(new Set(plans.flatMap((p) => Object.values(p.metrics).map((m) => m.type)))).toEqual(new Set(Object.keys(metricsProviders)));
    expect(new Set(plans.flatMap((p) => Object.values(p.notify.targets).map((t) => t.type)))).toEqual(new Set(Object.keys(notifiers)));
  });

  for (const f of files) {
    describe(f, () => {
      it('validates (schema, lint and adapter options) with the variables its header names', async () => {
        const { plan, warnings } = await loadPlan(join(EXAMPLES, f), { env: ENV[f], programs: false });
        expect(warnings.filter((w) => w.severity === 'error')).toEqual([]);
        expect(plan.backend.type).toBe(f === 'http-custom.yaml' ? 'http' : f.replace(/\.yaml$/, ''));
        const text = readFileSync(join(EXAMPLES, f), 'utf8');
        expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../../schema/plan.schema.json');
        for (const v of [...Object.keys(ENV[f]!)]) expect(text, `${f} header names ${v}`).toMatch(new RegExp(`export [^\\n]*\\b${v}=`));
      });

      const interpolated = Object.keys(ENV[f]!).filter((v) => !(RUNTIME_ENV[f] ?? []).includes(v));
      if (interpolated.length) {
        it(`fails without ${interpolated.join(', ')}, naming each`, async () => {
          const err = await loadPlan(join(EXAMPLES, f), { env: {}, programs: false }).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err).toBeInstanceOf(PlanError);
          const messages = (err as PlanError).issues.map((i) => i.message).join('\n');
          for (const v of interpolated) expect(messages).toContain(`environment variable ${v} is not set`);
        });
      }

      it('builds its adapters offline from the validated options', async () => {
        const plan = await load(f);
        const logs: string[] = [];
        const ctx: AdapterContext = { baseDir: plan.dir, cwd: ROOT, log: (m) => logs.push(m), env: { ...ENV[f] } };
        const backend = (await flagBackends[plan.backend.type]!()).create(plan.backend.options, ctx);
        expect(backend.name).toContain(plan.backend.type);
        for (const m of Object.values(plan.metrics)) expect((await metricsProviders[m.type]!()).create(m.options, ctx).name).toBeTruthy();
        for (const t of Object.values(plan.notify.targets)) expect((await notifiers[t.type]!()).create(t.options, ctx).name).toBeTruthy();
        // Nothing in an example turns TLS verification off.
        expect(logs.filter((l) => /TLS/.test(l))).toEqual([]);
      });

      it('simulates to completion on the healthy scenario', async () => {
        const r = await simulatePlan(await load(f), { start: START });
        expect(r.state.status, r.state.reason).toBe('completed');
        expect(r.events.filter((e) => e.type === 'breach.detected')).toEqual([]);
        expect(r.writes).toBeGreaterThan(0);
      });
    });
  }
});

/** The text of "### `type`" inside the "## <chapter>" chapter of docs/adapters.md. */
function section(chapter: string, type: string): string | undefined {
  const chapters = DOC.split(/^## /m);
  const body = chapters.find((c) => c.startsWith(chapter));
  return body?.split(/^### /m).find((s) => s.startsWith(`\`${type}\``));
}

describe('docs/adapters.md', () => {
  const kinds = [
    ['Flag backends', flagBackends],
    ['Metrics providers', metricsProviders],
    ['Notifiers', notifiers],
  ] as const;
  for (const [chapter, registry] of kinds) {
    for (const type of Object.keys(registry)) {
      it(`${chapter}: documents every option of \`${type}\``, async () => {
        const mod = await registry[type]!();
        const shape = (mod.options as unknown as { shape?: Record<string, unknown> }).shape;
        expect(shape, `${type}: options is an object schema`).toBeDefined();
        const text = section(chapter, type);
        expect(text, `docs/adapters.md: "## ${chapter}" has "### \`${type}\`"`).toBeDefined();
        for (const key of Object.keys(shape!)) expect(text, `${type}: option ${key}`).toContain(`\`${key}\``);
      });
    }
  }
  it('links every example plan', () => {
    for (const f of files) expect(DOC).toContain(`examples/${f}`);
  });
});
