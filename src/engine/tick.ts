/**
 * A tick: the runner's periodic call. Judge the checks and apply their policy, send the
 * reports that are due, then take the next step if every gate lets it through. A rolling-back
 * run only moves its rollback on; a scheduled one only announces and starts (start.ts).
 */
import type { Plan } from '../plan/model.js';
import { queueStep } from './changes.js';
import { Draft } from './draft.js';
import { passGates } from './gates.js';
import { actOnVerdicts } from './policy.js';
import { blocksStep, judgeChecks } from './verdicts.js';
import { progressRollback, waitForStable } from './rollback.js';
import { movePages } from './pages.js';
import { activeChecks, sendReports } from './schedule.js';
import { startIfDue } from './start.js';
import { creditHold, stopHoldWithoutData } from './transitions.js';
import { STOPPED_STATUSES, type Decision, type Readings, type RunState } from './types.js';

export function tick(plan: Plan, state: RunState, obs: Readings, now: number): Decision {
  const d = new Draft(state, plan, now);
  const s = d.s;
  if (s.pending.length) return d.done();
  // Pages move on their own clock, whatever the run does (an incomplete rollback too).
  movePages(d);
  if (STOPPED_STATUSES.includes(s.status)) return d.done();
  // Scheduled: nothing to judge before the start; announce when due, start at the time.
  if (s.status === 'scheduled') {
    startIfDue(d);
    return d.done();
  }
  const prevTickAt = s.lastTickAt;
  s.lastTickAt = now;

  if (s.status === 'rolling-back') {
    if (s.rollback?.stable && !waitForStable(d, activeChecks(plan, s), obs)) return d.done();
    progressRollback(d);
    return d.done();
  }

  // 1. Judge every active check; act on sustained breaches and no-data policies.
  const checks = activeChecks(plan, s);
  const verdictChanged = judgeChecks(d, checks, obs);
  creditHold(d, checks.every((c) => !blocksStep(c, s.checks[c.name])));
  stopHoldWithoutData(d, checks.some((c) => s.checks[c.name]?.verdict === 'no-data' && !s.checks[c.name]!.inconclusive && blocksStep(c, s.checks[c.name])), prevTickAt);
  sendReports(d);
  actOnVerdicts(d, checks);
  if (s.status !== 'running' && s.status !== 'awaiting-approval') return d.done();

  // 2. Approval deadline, hold, blocking checks, windows, requires, approval gate.
  const next = passGates(d, obs, verdictChanged);
  if (next) queueStep(d, next);
  return d.done();
}
