/**
 * For CI: do whatever is due now (apply a step whose hold has passed and whose checks pass,
 * finish a rollback stage, time out an approval), then exit with a code that says where the
 * run stands: 0 completed, 6 still in progress, 4 paused/awaiting approval, 3 rolled back.
 * Accepts a plan file: the first call starts the run, later calls pick it up.
 */
import { stat } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { activeRunOf } from '../runner/session.js';
import type { Control, RunState } from '../engine/types.js';
import { openStore, who, type Context } from './context.js';
import { follow } from './start.js';
import { planOf } from './status.js';

export default async function advance(c: Context, ref: string | undefined, o: { yes?: boolean; takeover?: boolean }): Promise<number> {
  const store = await openStore(c);
  const isFile = ref !== undefined && /\.ya?ml$/i.test(ref) && (await stat(ref).then((s) => s.isFile(), () => false));
  if (isFile) {
    const { loadPlan } = await import('../plan/load.js');
    const { plan } = await loadPlan(ref);
    const existing = await activeRunOf(store, plan);
    return follow(c, store, plan, existing, { detach: true, yes: o.yes, takeover: o.takeover, handoff: !existing }, retryIfIncomplete(existing));
  }
  const id = await store.resolve(ref);
  const s = await store.load(id);
  const plan = await planOf(s);
  if (!plan) throw new UsageError(`the plan of run ${id} (${s.plan.file}) no longer loads`, { hint: `Run \`rollout validate ${s.plan.file}\`.` });
  return follow(c, store, plan, s, { detach: true, yes: o.yes, takeover: o.takeover }, retryIfIncomplete(s));
}

/** An incomplete rollback is what is due: each `advance` retries its failed steps once. */
const retryIfIncomplete = (s: RunState | undefined): Control[] => (s?.status === 'rollback-incomplete' ? [{ kind: 'retry-rollback', by: who() }] : []);
