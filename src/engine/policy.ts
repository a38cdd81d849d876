import { formatDuration } from '../util/duration.js';
/**
 * Check policy: act on what the verdicts (verdicts.ts) say —
 * a sustained breach (rollback, pause, notify, as the check's `action:` says) or missing data
 * (its `noData:` policy). A check acts once per breach/no-data streak (`actedOn`).
 */
import { describeThreshold } from '../analysis/judge.js';
import type { Check } from '../plan/model.js';
import type { Draft } from './draft.js';
import { notify } from './notice.js';
import { openPage } from './pages.js';
import { startRollback } from './rollback.js';
import { excludeCohorts } from './cohorts.js';
import { freeze, pause } from './transitions.js';
import { FINAL_STATUSES } from './types.js';

/** Act on sustained breaches and no-data policies of the checks just judged. */
export function actOnVerdicts(d: Draft, checks: Check[]): void {
  const { s, now, plan } = d;
  for (const c of checks) {
    if (FINAL_STATUSES.includes(s.status) || (s.status as string) === 'rolling-back') break;
    const rec = s.checks[c.name]!;
    if (rec.actedOn) continue;
    if (rec.breached) {
      const why = `check "${c.name}" breached (${c.tier}): ${rec.reason}`;
      d.emit('breach.detected', why, { check: c.name, tier: c.tier, action: c.action, value: rec.value, threshold: describeThreshold(c), ...(rec.stats ? { stats: rec.stats } : {}) });
      rec.actedOn = true;
      const cohorts = [...(c.rollbackSegments ?? []).map((name) => ({ kind: 'segment' as const, name })), ...(c.rollbackRings ?? []).map((name) => ({ kind: 'ring' as const, name }))].filter((x) => !s.excluded?.some((e) => e.kind === x.kind && e.name === x.name));
      if (c.action === 'rollback' && (c.rollbackSegments || c.rollbackRings)) {
        // A partial rollback for some users: only these cohorts lose the flags; the run goes on.
        if (cohorts.length) excludeCohorts(d, cohorts, { reason: why, trigger: 'check', check: c.name });
        else d.emit('rollback.cohort-already', `${why}; its cohorts are already rolled back`, { check: c.name });
      } else if (c.action === 'rollback') startRollback(d, why, 'check', plan.rollback.mode, c.rollbackFlags, undefined, c.afterRollback === 'continue');
      else if (c.action === 'pause' && (s.status === 'running' || s.status === 'awaiting-approval')) {
        pause(d, `${why}. Investigate, then \`rollout resume\` or \`rollout rollback\``, s.approval ? { keepApproval: s.approval } : {});
        if (c.freeze) freeze(d, true);
      }
      else if (c.action === 'notify') notify(d, 'breach.detected', c.tier === 'critical' ? 'critical' : 'warning', { reason: why, action: 'notify' });
      if (c.severity) openPage(d, c.severity, why, c.name);
      if (c.action !== 'notify' && c.action !== 'pause') continue;
      if (c.action === 'pause' && s.status === 'paused') notify(d, 'breach.detected', 'warning', { reason: why, action: 'pause' });
    } else if (rec.verdict === 'no-data') {
      const since = rec.noDataSince ?? now;
      const what = rec.inconclusive ? `check "${c.name}" is inconclusive (${rec.reason})` : `check "${c.name}" has no data (${rec.reason})`;
      if (c.noData === 'rollback') {
        rec.actedOn = true;
        startRollback(d, `${what}; its noData policy is rollback`, 'no-data', plan.rollback.mode);
      } else if (s.status === 'running' && (c.noData === 'pause' || (c.noData === 'hold' && now - since >= c.noDataTimeoutMs))) {
        rec.actedOn = true;
        pause(d, `${what} for ${formatDuration(now - since)}; not advancing without data. Fix the provider, then \`rollout resume\``);
      }
    }
  }
}
