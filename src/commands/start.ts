import type { RunEvent, RunState } from '../engine/types.js';
import { ExitCode, RolloutError } from '../errors.js';
import { loadPlan } from '../plan/load.js';
import type { Plan } from '../plan/model.js';
import { Reporter } from '../output/reporter.js';
import { summary } from '../output/run.js';
import { activeRunOf, drive, exitCodeFor, incompleteRollbackError } from '../runner/session.js';
import type { Store } from '../state/index.js';
import { openStore, printJson, who, type Context } from './context.js';
import { safeText } from '../util/terminal.js';

export interface FollowOptions {
  yes?: boolean;
  dryRun?: boolean;
  takeover?: boolean;
  detach?: boolean;
  json?: boolean;
  /** start: resume the plan's paused run instead of refusing (exit 4). */
  resume?: boolean;
  /** After doing what is due now: say whether a worker will drive the run from here. */
  handoff?: boolean;
}

export default async function start(c: Context, file: string, o: FollowOptions): Promise<number> {
  const { plan, warnings } = await loadPlan(file);
  for (const w of warnings) c.stderr(`${file}${w.line ? `:${w.line}:${w.col ?? 1}` : ''}: warning: ${safeText(w.message)}`);
  const store = await openStore(c);
  const existing = await activeRunOf(store, plan);
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
  return follow(c, store, plan, existing, { ...o, handoff: o.detach }, existing?.status === 'paused' ? [{ kind: 'resume', by: who() }] : []);
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

/** Drive a run in the foreground with live output; the exit code says how it ended. */
export async function follow(c: Context, store: Store, plan: Plan, existing: RunState | undefined, o: FollowOptions, controls: Parameters<typeof drive>[0]['controls'] = []): Promise<number> {
  const reporter = new Reporter({ json: c.json, plan });
  await reporter.init();
  if (o.dryRun) reporter.line('dry run: no flag is written, no command runs');
  const ac = new AbortController();
  let interrupted = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted++;
    if (interrupted > 1) {
      reporter.line(`second ${sig}: exiting now; the run state is saved up to the last completed action`);
      process.exit(ExitCode.PAUSED);
    }
    reporter.line(o.dryRun ? `${sig}: stopping the dry run…` : `${sig}: finishing the action in flight, then pausing the run…`);
    ac.abort(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // The open go/no-go prompt, if any: closed when the gate is decided elsewhere (`rollout
  // approve` from another shell), the run leaves awaiting-approval, or the run ends.
  let prompt: AbortController | undefined;
  let runId = existing?.id ?? '';
  const approve = async (s: RunState) => {
    if (prompt) return;
    if (o.yes) return; // the runner approves (autoApprove)
    if (!c.interactive) {
      reporter.line(`waiting for approval: run \`rollout approve ${s.id}\` (or \`rollout reject ${s.id} --reason …\`) from another shell`);
      return;
    }
    const mine = new AbortController();
    prompt = mine;
    reporter.hold();
    try {
      const { confirm } = await import('@inquirer/prompts');
      const go = await confirm({ message: `Go/no-go: ${safeText(s.approval?.message ?? s.waitingFor ?? 'continue?')} Approve?`, default: false }, { signal: AbortSignal.any([ac.signal, mine.signal]) });
      if (prompt === mine) prompt = undefined; // answered here: what follows is not "decided elsewhere"
      await store.post(s.id, go ? { kind: 'approve', by: who() } : { kind: 'reject', by: who(), reason: 'no-go at the prompt' });
    } catch (err) {
      // The prompt reads the terminal in raw mode, so Ctrl-C reaches it as a key, not as SIGINT:
      // it ends the prompt with ExitPromptError. That Ctrl-C means what it means elsewhere:
      // pause the run. (An AbortPromptError is our own cancel: nothing to do.)
      if ((err as Error)?.name === 'ExitPromptError') onSignal('SIGINT');
    } finally {
      if (prompt === mine) prompt = undefined;
      reporter.release();
    }
  };
  const closePrompt = (why?: string) => {
    if (!prompt) return;
    prompt.abort();
    prompt = undefined;
    if (why) reporter.line(why);
  };
  const onEvent = (e: RunEvent, s: RunState) => {
    runId = s.id;
    if (prompt && s.status !== 'awaiting-approval') closePrompt(`prompt closed: ${e.type === 'approval.granted' ? 'approved' : e.type === 'run.aborted' ? 'rejected or aborted' : `the run is ${s.status}`} elsewhere`);
    reporter.event(e, s);
    if (e.type === 'approval.requested' || (e.type === 'run.resumed' && s.status === 'awaiting-approval')) void approve(s);
  };
  let final: RunState;
  try {
    final = await drive(
      {
        plan,
        store,
        cwd: c.cwd,
        log: (m) => reporter.notice(safeText(m)),
        onEvent,
        mode: o.detach ? 'advance' : 'follow',
        signal: ac.signal,
        takeover: o.takeover,
        execute: !o.dryRun,
        controls,
        ...(o.yes ? { autoApprove: `${who()} (--yes)` } : o.dryRun && !c.interactive ? { autoApprove: 'dry run (a real run would wait for `rollout approve`)' } : {}),
        onReady: (s, resumed) => {
          runId = s.id;
          // What status shows on any machine, without the YAML file or its secrets (the store strips them).
          void store.writePlan(s.id, plan).catch(() => undefined);
          if (resumed) reporter.line(`run ${s.id}: ${s.status}${s.waitingFor ? ` (${safeText(s.waitingFor)})` : ''}`);
          if (s.status === 'awaiting-approval') void approve(s);
          reporter.status(s);
        },
      },
      existing,
    );
  } finally {
    closePrompt(); // the run is over (or this process stops following it): never wait for Enter
    reporter.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const code = exitCodeFor(final);
  // --detach: the workers (if any is alive) carry the run on; say which, or that nothing will.
  const workers = o.handoff && !['completed', 'rolled-back', 'aborted'].includes(final.status) ? await store.workers() : undefined;
  const handoff = workers && (workers.length ? `run ${final.id} handed to worker ${workers.map((w) => w.id).join(', ')}: a worker drives it from here (\`rollout status ${final.id}\`)` : `no worker is alive: nothing drives run ${final.id} until \`rollout advance\`, \`rollout resume ${final.id}\` or a \`rollout worker\``);
  if (c.json) printJson(c, { ...summary(plan, final), ...(o.dryRun ? { dryRun: true, recorded: false } : {}), exitCode: code, ...(workers ? { handedTo: workers.map((w) => w.id) } : {}) });
  else {
    if (handoff) c.stdout(handoff);
    for (const l of summary(plan, final).lines) c.stdout(l);
    if (o.dryRun) c.stdout('dry run: nothing was written and nothing was recorded; there is nothing to resume');
    else {
      if (interrupted || final.status === 'paused') c.stdout(`resume with: rollout resume ${runId}`);
      if (final.status === 'awaiting-approval') c.stdout(`approve with: rollout approve ${runId}`);
    }
  }
  return code;
}
