import type { RunState } from '../engine/types.js';
import { ExitCode, RolloutError, UsageError } from '../errors.js';
import type { Plan } from '../plan/model.js';
import { loadPlan } from '../plan/load.js';
import { follow, type FollowOptions } from '../runner/follow.js';
import { activeRunOf, incompleteRollbackError } from '../runner/session.js';
import { chooseStart, estimateEnd } from '../runner/start-time.js';
import type { Context } from './context.js';
import { safeText } from '../util/terminal.js';

export default async function start(c: Context, file: string, o: FollowOptions & { at?: string }): Promise<number> {
  const { plan, warnings } = await loadPlan(file, { env: c.env, cwd: c.cwd });
  const store = await c.openStore();
  const existing = o.dryRun ? undefined : await activeRunOf(store, plan);
  // A time given for a run that already exists would be silently ignored: say so instead.
  if (existing && o.at !== undefined)
    throw new UsageError(`plan ${safeText(plan.name)} already has run ${existing.id} (${existing.status}${existing.status === 'scheduled' && existing.schedule ? `, starts ${new Date(existing.schedule.at).toISOString()}` : ''}); --at schedules a new run`, {
      hint: `Follow it with \`rollout start ${file}\` (no --at), or cancel it with \`rollout abort ${existing.id} --reason …\` and schedule again.`,
    });
  // Only a new run gets a start time (a picked-up one has its own).
  const when = existing ? { notes: [] } : chooseStart(plan, o.at, c.clock.now(), file);
  for (const n of when.notes) c.stderr(`note: ${n}`);
  // The plan's warnings were shown when its run started: picking the same plan up again says only how many.
  if (existing && existing.plan.hash === plan.hash) {
    if (warnings.length) c.stderr(`${file}: ${warnings.length} warning${warnings.length === 1 ? '' : 's'}, shown when run ${existing.id} started (\`rollout validate ${file}\` lists them)`);
  } else for (const w of warnings) c.stderr(`${file}${w.line ? `:${w.line}:${w.col ?? 1}` : ''}: warning: ${safeText(w.message)}`);
  if (o.dryRun) return dryRun(c, plan, await activeRunOf(store, plan), { ...o, startAt: when.startAt, startSource: when.source });
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
  return follow(c, store, plan, existing, { ...o, handoff: o.detach, startAt: when.startAt, startSource: when.source, endsAt: await estimateEnd(plan, c.clock.now(), when.startAt) }, existing?.status === 'paused' ? [{ kind: 'resume', by: c.who() }] : []);
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
  // A scheduled start is not waited for in real time: a virtual clock jumps to the announcement
  // and the start (on the dates they would have); what follows runs in real time from there.
  let clock = c.clock;
  if (o.startAt !== undefined) {
    const { SkipClock } = await import('../runner/clock.js');
    const announceAt = plan.notify.announce ? Math.max(c.clock.now(), o.startAt - plan.notify.announce.beforeMs) : undefined;
    clock = new SkipClock([o.startAt, ...(announceAt !== undefined ? [announceAt] : [])], c.clock);
    c.stderr(`dry run: the wait until the scheduled start ${new Date(o.startAt).toISOString()} is skipped on a virtual clock${announceAt !== undefined ? ` (announcement ${new Date(announceAt).toISOString()})` : ''}`);
  }
  try {
    return await follow({ ...c, clock }, new FileStore(dir), plan, undefined, { ...o, resume: false });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
