import type { RunState } from '../engine/types.js';
import { ExitCode, RolloutError } from '../errors.js';
import type { Plan } from '../plan/model.js';
import { loadPlan } from '../plan/load.js';
import { follow, type FollowOptions } from '../runner/follow.js';
import { activeRunOf, incompleteRollbackError } from '../runner/session.js';
import type { Context } from './context.js';
import { safeText } from '../util/terminal.js';

export default async function start(c: Context, file: string, o: FollowOptions): Promise<number> {
  const { plan, warnings } = await loadPlan(file, { env: c.env, cwd: c.cwd });
  const store = await c.openStore();
  const existing = await activeRunOf(store, plan);
  // The plan's warnings were shown when its run started: picking the same plan up again says only how many.
  if (existing && existing.plan.hash === plan.hash) {
    if (warnings.length) c.stderr(`${file}: ${warnings.length} warning${warnings.length === 1 ? '' : 's'}, shown when run ${existing.id} started (\`rollout validate ${file}\` lists them)`);
  } else for (const w of warnings) c.stderr(`${file}${w.line ? `:${w.line}:${w.col ?? 1}` : ''}: warning: ${safeText(w.message)}`);
  if (o.dryRun) return dryRun(c, plan, existing, o);
  // A paused run waits for a human: following it would sit there silently. Say so (exit 4),
  // unless asked to resume it.
  if (existing?.status === 'paused' && !o.resume)
    throw new RolloutError(`run ${existing.id} of plan ${safeText(plan.name)} is paused${existing.reason ? `: ${safeText(existing.reason)}` : ''}`, {
      exitCode: ExitCode.PAUSED,
      hint: `Resume it with \`rollout resume ${existing.id}\` (or \`rollout start ${file} --resume\`), or roll it back with \`rollout rollback ${existing.id} --reason …\`; \`rollout status ${existing.id}\` shows where it stands.`,
    });
  // An incomplete rollback is not picked up as a rollout: its flags may still be on.
  if (existing?.status === 'rollback-incomplete') throw incompleteRollbackError(existing, plan.flags);
  if (existing && !c.json) c.stderr(`picking up unfinished run ${existing.id} (${existing.status}) of plan ${safeText(plan.name)}`);
  if (existing && existing.plan.hash !== plan.hash) c.stderr(`warning: ${file} changed since run ${existing.id} started; going on with the plan as it is now`);
  return follow(c, store, plan, existing, { ...o, handoff: o.detach }, existing?.status === 'paused' ? [{ kind: 'resume', by: c.who() }] : []);
}

/**
 * A dry run leaves nothing behind that could later write flags: it runs in a throw-away state
 * store (a temp directory, removed at the end), never picks up the plan's real run and never
 * takes its locks. So there is nothing to resume, approve or pick up afterwards; `status`
 * does not list it. Gates a human could only answer from another shell are taken as approved.
 */
async function dryRun(c: Context, plan: Plan, real: RunState | undefined, o: FollowOptions): Promise<number> {
  const { mkdtemp, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { FileStore } = await import('../state/file.js');
  if (real) c.stderr(`dry run: the real run ${real.id} (${real.status}) of plan ${safeText(plan.name)} is left as it is; the dry run starts from the beginning`);
  const dir = await mkdtemp(join(tmpdir(), 'rollout-dry-run-'));
  try {
    return await follow(c, new FileStore(dir), plan, undefined, { ...o, resume: false });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
