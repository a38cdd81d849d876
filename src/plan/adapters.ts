/** Validate each adapter's options against the schema its module exports. */
import { flagBackends, metricsProviders, notifiers } from '../adapters/registry.js';
import { suggest } from '../util/suggest.js';
import type { AdapterSpec, Plan } from './model.js';
import type { LintIssue } from './lint.js';

async function check(
  registry: Record<string, () => Promise<{ options: { safeParse(v: unknown): { success: boolean; error?: { issues: Array<{ code: string; path: PropertyKey[]; message: string; keys?: string[] }> } } } }>>,
  spec: AdapterSpec,
  path: (string | number)[],
  what: string,
): Promise<LintIssue[]> {
  const load = registry[spec.type];
  if (!load) {
    const hint = suggest(spec.type, Object.keys(registry));
    return [{ path: [...path, 'type'], severity: 'error', message: `unknown ${what} type "${spec.type}"${hint ? ` — did you mean "${hint}"?` : ''} (known: ${Object.keys(registry).join(', ')})` }];
  }
  let mod;
  try {
    mod = await load();
  } catch {
    return []; // adapter not available in this build: the runner reports it when used
  }
  const r = mod.options.safeParse(spec.options);
  if (r.success) return [];
  return (r.error?.issues ?? []).flatMap((iss) => {
    const p = [...path, ...iss.path.filter((x): x is string | number => typeof x !== 'symbol')];
    if (iss.code === 'unrecognized_keys')
      return (iss.keys ?? []).map((k) => ({ path: p, key: k, severity: 'error' as const, message: `unknown ${spec.type} option "${k}"` }));
    return [{ path: p, severity: 'error' as const, message: `${spec.type}: ${p.slice(path.length).join('.') || 'options'}: ${iss.message}` }];
  });
}

export async function validateAdapterOptions(plan: Plan): Promise<LintIssue[]> {
  const jobs = [
    check(flagBackends, plan.backend, ['backend'], 'flag backend'),
    ...Object.entries(plan.metrics).map(([n, s]) => check(metricsProviders, s, ['metrics', n], 'metrics provider')),
    ...Object.entries(plan.notify.targets).map(([n, s]) => check(notifiers, s, ['notify', 'targets', n], 'notification target')),
  ];
  return (await Promise.all(jobs)).flat();
}
