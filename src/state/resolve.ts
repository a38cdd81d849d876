/** How a run is named on the command line — shared by every state store. */
import { FINAL_STATUSES, type RunState } from '../engine/types.js';
import { UsageError, type StateError } from '../errors.js';
import { suggest } from '../util/suggest.js';

/**
 * A run id, a plan name (its latest run) or nothing (the one active run / the latest). A run
 * whose record cannot be read is reported as such (its StateError) when it is named, or when it
 * is the only run there is — not as "no such run". `sameId` lets a store also accept the form
 * it stores ids under.
 */
export function pickRun(
  ref: string | undefined,
  runs: RunState[],
  broken: Array<{ id: string; error: StateError }>,
  sameId: (stored: string, ref: string) => boolean = (a, b) => a === b,
  /** Where the store looked, for "no runs yet in …": a directory, or the PostgreSQL store. */
  where?: string,
): string {
  const named = ref === undefined ? undefined : broken.find((b) => sameId(b.id, ref));
  if (named) throw named.error;
  if (!runs.length && broken.length && (ref === undefined || broken.length === 1)) throw broken[0]!.error;
  if (!runs.length)
    throw new UsageError(`no runs yet${where ? ` in ${where}` : ''}`, {
      hint: 'Start one with `rollout start <plan.yaml>`, or point --state-dir (ROLLOUT_STATE_DIR) or ROLLOUT_STATE_URL at the store your runs are in.',
    });
  if (!ref) {
    const active = runs.filter((r) => !FINAL_STATUSES.includes(r.status));
    if (active.length > 1)
      throw new UsageError(`${active.length} runs are active: ${active.map((r) => r.id).join(', ')}`, { hint: 'Name one: `rollout status <run-id or plan name>`.' });
    return (active[0] ?? runs[0]!).id;
  }
  const byId = runs.find((r) => r.id === ref);
  if (byId) return byId.id;
  const byPlan = runs.find((r) => r.plan.name === ref);
  if (byPlan) return byPlan.id;
  const hint = suggest(ref, [...runs.map((r) => r.id), ...runs.map((r) => r.plan.name)]);
  throw new UsageError(`no run or plan named "${ref}"`, { hint: hint ? `Did you mean "${hint}"? \`rollout status --all\` lists every run.` : '`rollout status --all` lists every run.' });
}
