/**
 * GET /metrics: rollout's own state in the Prometheus text format (prom-client does the
 * format and escaping). Gauges are filled from the run cache at scrape time, so one scrape
 * costs no store reads. Another plan's check can query these (e.g. wait for
 * rollout_flag_percentage{flag="payments-v2"} >= 50 before its own phase starts).
 */
import { Gauge, Registry } from 'prom-client';
import { FINAL_STATUSES, type RunStatus } from '../engine/types.js';
import type { CachedRun } from './runs.js';

const STATUSES: RunStatus[] = ['running', 'paused', 'awaiting-approval', 'rolling-back', 'completed', 'rolled-back', 'aborted'];

export function metricsRegistry(runs: () => CachedRun[]): Registry & { text(): Promise<string> } {
  const reg = new Registry();
  const g = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers: [reg] });
  const status = g('rollout_run_status', 'Run status: 1 for the status the run is in (one series per status)', ['run', 'plan', 'status']);
  const active = g('rollout_run_active', '1 while the run is not finished', ['run', 'plan']);
  const driven = g('rollout_run_driven', '1 while a live process drives the run', ['run', 'plan']);
  const steps = g('rollout_run_steps_completed', 'Steps applied so far, over all phases', ['run', 'plan']);
  const stepsTotal = g('rollout_run_steps_total', 'Steps in the plan', ['run', 'plan']);
  const phase = g('rollout_run_phase', 'Index of the current phase (0-based)', ['run', 'plan', 'phase']);
  const started = g('rollout_run_started_timestamp_seconds', 'When the run started', ['run', 'plan']);
  const updated = g('rollout_run_updated_timestamp_seconds', 'When the run last changed', ['run', 'plan']);
  const pct = g('rollout_flag_percentage', 'Current rollout percentage of a flag the run drives (0 when off)', ['run', 'plan', 'flag']);
  const enabled = g('rollout_flag_enabled', '1 when the flag is on', ['run', 'plan', 'flag']);
  const value = g('rollout_check_value', 'Last value of a check (absent while it has no data)', ['run', 'plan', 'check']);
  const baseline = g('rollout_check_baseline', 'Last baseline of a relative check', ['run', 'plan', 'check']);
  const threshold = g('rollout_check_threshold', 'Threshold of a check: bound="max" or "min"', ['run', 'plan', 'check', 'bound']);
  const verdict = g('rollout_check_verdict', 'Verdict of a check: 1 for the current verdict (pass, fail, no-data)', ['run', 'plan', 'check', 'verdict']);
  const breached = g('rollout_check_breached', '1 when the check is breached (failing for its `for:`)', ['run', 'plan', 'check']);
  const rollbacks = g('rollout_rollbacks', 'Runs of this plan that were rolled back (emergency procedure started)', ['plan']);
  const runsG = g('rollout_runs', 'Runs by status', ['status']);

  // One collect fills every gauge (prom-client calls collect per metric; do the work once).
  let filling: Promise<void> | undefined;
  const fill = () => {
    for (const m of [status, active, driven, steps, stepsTotal, phase, started, updated, pct, enabled, value, baseline, threshold, verdict, breached, rollbacks, runsG]) m.reset();
    const perPlan = new Map<string, number>();
    const perStatus = new Map<RunStatus, number>(STATUSES.map((s) => [s, 0]));
    for (const r of runs()) {
      const s = r.state;
      const l = { run: s.id, plan: s.plan.name };
      status.set({ ...l, status: s.status }, 1);
      active.set(l, FINAL_STATUSES.includes(s.status) ? 0 : 1);
      driven.set(l, r.driver ? 1 : 0);
      perStatus.set(s.status, (perStatus.get(s.status) ?? 0) + 1);
      if (r.plan) {
        const total = r.plan.phases.reduce((n, p) => n + p.steps.length, 0);
        const done = s.status === 'completed' ? total : r.plan.phases.slice(0, Math.max(0, s.phase)).reduce((n, p) => n + p.steps.length, 0) + Math.max(0, s.step + 1);
        steps.set(l, done);
        stepsTotal.set(l, total);
        const ph = r.plan.phases[s.phase];
        if (ph) phase.set({ ...l, phase: ph.name }, s.phase);
      }
      started.set(l, s.startedAt / 1000);
      updated.set(l, s.updatedAt / 1000);
      for (const [flag, f] of Object.entries(s.flags)) {
        pct.set({ ...l, flag }, f.enabled ? f.percentage : 0);
        enabled.set({ ...l, flag }, f.enabled ? 1 : 0);
      }
      const checks = r.plan?.phases.flatMap((p) => p.checks) ?? [];
      for (const [check, c] of Object.entries(s.checks)) {
        const cl = { ...l, check };
        if (c.value !== null && Number.isFinite(c.value)) value.set(cl, c.value);
        if (typeof c.baseline === 'number' && Number.isFinite(c.baseline)) baseline.set(cl, c.baseline);
        for (const v of ['pass', 'fail', 'no-data'] as const) verdict.set({ ...cl, verdict: v }, c.verdict === v ? 1 : 0);
        breached.set(cl, c.breached ? 1 : 0);
        const def = checks.find((x) => x.name === check);
        if (def?.max !== undefined) threshold.set({ ...cl, bound: 'max' }, def.max);
        if (def?.min !== undefined) threshold.set({ ...cl, bound: 'min' }, def.min);
      }
      if (s.rollback || s.status === 'rolled-back') perPlan.set(s.plan.name, (perPlan.get(s.plan.name) ?? 0) + 1);
      else if (!perPlan.has(s.plan.name)) perPlan.set(s.plan.name, 0);
    }
    for (const [plan, n] of perPlan) rollbacks.set({ plan }, n);
    for (const [st, n] of perStatus) runsG.set({ status: st }, n);
  };
  return Object.assign(reg, {
    async text(): Promise<string> {
      filling ??= Promise.resolve().then(fill);
      try {
        await filling;
        return await reg.metrics();
      } finally {
        filling = undefined;
      }
    },
  });
}
