/**
 * For CI: do whatever is due now (apply a step whose hold has passed and whose checks pass,
 * finish a rollback stage, time out an approval), then exit with a code that says where the
 * run stands: 0 completed, 6 still in progress, 4 paused/awaiting approval, 3 rolled back.
 * Accepts a plan file: the first call starts the run, later calls pick it up.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Control, RunState } from '../engine/types.js';
import { UsageError } from '../errors.js';
import { follow } from '../runner/follow.js';
import { activeRunOf } from '../runner/session.js';
import { chooseStart, estimateEnd } from '../runner/start-time.js';
import { planOf, type Context } from './context.js';

export default async function advance(c: Context, ref: string | undefined, o: { yes?: boolean; takeover?: boolean; at?: string }): Promise<number> {
  const store = await c.openStore();
  const isFile = ref !== undefined && /\.ya?ml$/i.test(ref) && (await stat(resolve(c.cwd, ref)).then((s) => s.isFile(), () => false));
  if (isFile) {
    const { loadPlan } = await import('../plan/load.js');
    const { plan } = await loadPlan(ref, { env: c.env, cwd: c.cwd });
    const existing = await activeRunOf(store, plan);
    // A new run takes its start time from --at or the plan's startAt; an existing one has its own.
    if (existing && o.at !== undefined)
      throw new UsageError(`plan ${plan.name} already has run ${existing.id} (${existing.status}); --at only schedules a new run`, { hint: `Drop --at, or cancel the run with \`rollout abort ${existing.id} --reason …\` first.` });
    const when = existing ? { notes: [] } : chooseStart(plan, o.at, c.clock.now(), ref);
    for (const n of when.notes) c.stderr(`note: ${n}`);
    return follow(c, store, plan, existing, { detach: true, yes: o.yes, takeover: o.takeover, handoff: !existing, startAt: when.startAt, startSource: when.source, endsAt: await estimateEnd(plan, c.clock.now(), when.startAt) }, retryIfIncomplete(c, existing));
  }
  if (o.at !== undefined) throw new UsageError('--at schedules a new run of a plan file', { hint: `Give the plan file: \`rollout advance plan.yaml --at <time>\`.` });
  const id = await store.resolve(ref);
  const s = await store.load(id);
  const plan = await planOf(c, s);
  if (!plan) throw new UsageError(`the plan of run ${id} (${s.plan.file}) no longer loads`, { hint: `Run \`rollout validate ${s.plan.file}\`.` });
  return follow(c, store, plan, s, { detach: true, yes: o.yes, takeover: o.takeover }, retryIfIncomplete(c, s));
}

/** An incomplete rollback is what is due: each `advance` retries its failed steps once. */
const retryIfIncomplete = (c: Context, s: RunState | undefined): Control[] => (s?.status === 'rollback-incomplete' ? [{ kind: 'retry-rollback', by: c.who() }] : []);
