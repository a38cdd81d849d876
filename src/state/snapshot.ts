/**
 * The plan as a run uses it, kept beside the run (runs/<id>/plan.json) so `status` can show
 * phases, steps and thresholds without parsing YAML or loading the schema — and so the run's
 * record says what it ran even if the file changes later. Adapter options are left out: they
 * may hold secrets, and status does not need them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Plan } from '../plan/model.js';

const file = (storeDir: string, id: string) => join(storeDir, 'runs', id.replace(/[^A-Za-z0-9._-]/g, '_'), 'plan.json');

/** The plan without adapter options and command env (they may hold secrets). */
export function planSnapshot(plan: Plan): Plan {
  const strip = (a: { type: string }) => ({ type: a.type, options: {} });
  return {
    ...plan,
    backend: strip(plan.backend),
    metrics: Object.fromEntries(Object.entries(plan.metrics).map(([k, v]) => [k, strip(v)])),
    notify: { ...plan.notify, targets: Object.fromEntries(Object.entries(plan.notify.targets).map(([k, v]) => [k, strip(v)])) },
    rollback: { ...plan.rollback, commands: plan.rollback.commands.map((c) => ({ ...c, env: undefined })) },
  };
}

export async function writePlanSnapshot(storeDir: string, id: string, plan: Plan): Promise<void> {
  const snap = planSnapshot(plan);
  const { default: writeFileAtomic } = await import('write-file-atomic');
  await writeFileAtomic(file(storeDir, id), JSON.stringify(snap) + '\n', { mode: 0o600 });
}

export async function readPlanSnapshot(storeDir: string, id: string): Promise<Plan | undefined> {
  try {
    return JSON.parse(await readFile(file(storeDir, id), 'utf8')) as Plan;
  } catch {
    return undefined;
  }
}
