/**
 * Verdicts: judge every active check on this tick's readings (the records the rest of the
 * engine reads), and say whether a record keeps a step from being taken. No actions here —
 * acting on a breach or on missing data is policy.ts; gates, rollback stages and holds ask
 * `blocksStep`.
 */
import { judge, type CheckRecord } from '../analysis/judge.js';
import type { Check } from '../plan/model.js';
import type { Draft } from './draft.js';
import type { Readings, RunState } from './types.js';

/** Judge `checks` on their readings; drops records of checks no longer active. True when a verdict changed. */
export function judgeChecks(d: Draft, checks: Check[], obs: Readings): boolean {
  const { s, now } = d;
  let verdictChanged = false;
  for (const c of checks) {
    const prev = s.checks[c.name];
    const rec: RunState['checks'][string] = judge(c, obs.checks[c.name], prev, now);
    if (prev?.actedOn && rec.verdict === prev.verdict && (rec.failingSince ?? rec.noDataSince) === (prev.failingSince ?? prev.noDataSince))
      rec.actedOn = true;
    s.checks[c.name] = rec;
    if (!prev || prev.verdict !== rec.verdict || rec.breached !== prev.breached) {
      verdictChanged = true;
      d.emit('check.changed', `check ${c.name}: ${rec.verdict}${rec.breached ? ' (BREACH)' : ''} — ${rec.reason}`, { check: c.name, value: rec.value, baseline: rec.baseline, verdict: rec.verdict, breached: rec.breached, ...(rec.inconclusive ? { inconclusive: true } : {}), ...(rec.stats ? { stats: rec.stats } : {}) });
    }
  }
  for (const name of Object.keys(s.checks)) if (!checks.some((c) => c.name === name)) delete s.checks[name];
  return verdictChanged;
}

/**
 * Does this check's record keep a step from being taken? Everything but a pass blocks,
 * except no data on a check whose `noData:` policy is pass. Not yet measured blocks.
 */
export function blocksStep(c: Check, r: CheckRecord | undefined): boolean {
  return !r || (r.verdict !== 'pass' && !(r.verdict === 'no-data' && c.noData === 'pass'));
}
