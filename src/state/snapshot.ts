/**
 * The plan as a run uses it, kept with the run (Store.writePlan) so `status` on any machine can
 * show phases, steps and thresholds without the YAML file, its ${VAR}s or the schema — and so
 * the run's record says what it ran even if the file changes later. Adapter options are left
 * out (they may hold secrets, and status does not need them), and so are the env maps of
 * commands; every other string is redacted (a health-check URL with ?token=…, ${VAR}s in argv).
 */
import type { Plan } from '../plan/model.js';
import { redactDeep } from '../util/redact.js';

export function planSnapshot(plan: Plan): Plan {
  const strip = (a: { type: string }) => ({ type: a.type, options: {} });
  const noEnv = <C extends { env?: Record<string, string> }>(c: C): C => ({ ...c, env: undefined });
  const rb = plan.rollback;
  return redactDeep({
    ...plan,
    backend: strip(plan.backend),
    metrics: Object.fromEntries(Object.entries(plan.metrics).map(([k, v]) => [k, strip(v)])),
    notify: { ...plan.notify, targets: Object.fromEntries(Object.entries(plan.notify.targets).map(([k, v]) => [k, strip(v)])) },
    rollback: {
      ...rb,
      commands: rb.commands.map(noEnv),
      ...(rb.healthCheck ? { healthCheck: { ...rb.healthCheck, ...(rb.healthCheck.command ? { command: noEnv(rb.healthCheck.command) } : {}) } } : {}),
      escalate: { ...rb.escalate, commands: rb.escalate.commands.map(noEnv) },
    },
  });
}
