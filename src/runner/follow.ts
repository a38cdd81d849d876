/**
 * The foreground driver behind `start`, `resume`, `advance` and the controls that carry a run
 * on: drive the run with live output, prompt at go/no-go gates, turn Ctrl-C into a pause, and
 * print how it ended. The exit code says where the run stands.
 */
import type { RunEvent, RunState } from '../engine/types.js';
import { ExitCode } from '../errors.js';
import { Reporter } from '../output/reporter.js';
import { summary } from '../output/run.js';
import type { Plan } from '../plan/model.js';
import type { Store } from '../state/index.js';
import { safeText } from '../util/terminal.js';
import type { Clock } from './clock.js';
import type { Env, Prompt, SignalHooks } from './io.js';
import { drive, exitCodeFor, startedBy } from './session.js';

/** What follow needs from the command's context (commands/context.ts extends it). */
export interface FollowIo {
  cwd: string;
  json: boolean;
  interactive: boolean;
  env: Env;
  clock: Clock;
  signals: SignalHooks;
  prompt: Prompt;
  exit: (code: number) => void;
  streams: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream };
  stdout: (s: string) => void;
  /** Who asks: `by` (--by), else ROLLOUT_USER / USER / USERNAME from env, else the OS account. */
  who: (by?: string) => string;
}

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
  /** A new run's scheduled start (epoch ms) and where it came from (`startAt:` or `--at`). */
  startAt?: number;
  startSource?: 'plan' | 'command';
  endsAt?: number;
}

/** Drive a run in the foreground with live output; the exit code says how it ended. */
export async function follow(c: FollowIo, store: Store, plan: Plan, existing: RunState | undefined, o: FollowOptions, controls: Parameters<typeof drive>[0]['controls'] = []): Promise<number> {
  // Notices are stamped on the run's clock, like its events (a dry run's virtual clock jumps to a scheduled start).
  const reporter = new Reporter({ json: c.json, plan, out: c.json ? c.streams.stderr : c.streams.stdout, env: c.env, now: () => c.clock.now() });
  await reporter.init();
  if (o.dryRun) reporter.line('dry run: no flag is written, no command runs');
  const ac = new AbortController();
  let interrupted = 0;
  let lastStatus = existing?.status;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted++;
    if (interrupted > 1) {
      reporter.line(`second ${sig}: exiting now; the run state is saved up to the last completed action`);
      c.exit(ExitCode.PAUSED);
      return;
    }
    reporter.line(o.dryRun ? `${sig}: stopping the dry run…` : lastStatus === 'scheduled' ? `${sig}: stopping; the run stays scheduled` : `${sig}: finishing the action in flight, then pausing the run…`);
    ac.abort(sig);
  };
  const offSignals = c.signals(onSignal);
  // The open go/no-go prompt, if any: closed when the gate is decided elsewhere (`rollout
  // approve` from another shell), the run leaves awaiting-approval, or the run ends.
  let prompt: AbortController | undefined;
  let runId = existing?.id ?? '';
  const approve = async (s: RunState) => {
    if (prompt) return;
    if (s.approval?.checklist) return walkChecklist(s);
    if (o.yes) return; // the runner approves (autoApprove)
    if (!c.interactive) {
      reporter.line(`waiting for approval: run \`rollout approve ${s.id}\` (or \`rollout reject ${s.id} --reason …\`) from another shell`);
      return;
    }
    const mine = new AbortController();
    prompt = mine;
    reporter.hold();
    try {
      const go = await c.prompt(`Go/no-go: ${safeText(s.approval?.message ?? s.waitingFor ?? 'continue?')} Approve?`, { signal: AbortSignal.any([ac.signal, mine.signal]) });
      if (prompt === mine) prompt = undefined; // answered here: what follows is not "decided elsewhere"
      await store.post(s.id, go ? { kind: 'approve', by: c.who() } : { kind: 'reject', by: c.who(), reason: 'no-go at the prompt' });
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
  // A checklist: on a terminal, ask item by item (as the user); a "no" leaves the rest open.
  // Off a terminal, and with --yes, nothing is ticked: say how to confirm from another shell.
  const walkChecklist = async (s: RunState) => {
    const open = (s.approval?.checklist ?? []).filter((i) => !i.confirmed);
    const how = `confirm each item: \`rollout confirm ${s.id} <item> [--as <name>]\` (open: ${open.map((i) => i.id).join(', ')})`;
    if (o.dryRun && !c.interactive) return; // the runner ticks them (autoConfirm)
    // Detached (start --detach, advance, a control command such as `rollout confirm` itself):
    // do what is due and return, never sit at a question.
    if (!c.interactive || o.yes || o.detach) {
      reporter.line(`waiting for the checklist: ${how}${o.yes ? '; --yes does not tick checklist items' : ''}`);
      return;
    }
    const me = c.who();
    const mine = new AbortController();
    prompt = mine;
    reporter.hold();
    try {
      for (const it of open) {
        if (it.by?.length && !it.by.includes(me)) {
          reporter.line(`☐ ${safeText(it.id)}: to be confirmed by ${safeText(it.by.join(' or '))} (\`rollout confirm ${s.id} ${safeText(it.id)} --as ${safeText(it.by[0]!)}\`)`);
          continue;
        }
        const yes = await c.prompt(`Checklist: ${safeText(it.text)} — confirmed?`, { signal: AbortSignal.any([ac.signal, mine.signal]) });
        if (!yes) {
          reporter.line(`left open: ${how}`);
          break;
        }
        await store.post(s.id, { kind: 'confirm', items: [it.id], by: me });
      }
    } catch (err) {
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
    lastStatus = s.status;
    if (prompt && s.status !== 'awaiting-approval') closePrompt(`prompt closed: ${e.type === 'approval.granted' ? 'approved' : e.type === 'checklist.completed' ? 'checklist complete' : e.type === 'run.aborted' ? 'rejected or aborted' : `the run is ${s.status}`} elsewhere`);
    reporter.event(e, s);
    if (e.type === 'approval.requested' || e.type === 'checklist.requested' || (e.type === 'run.resumed' && s.status === 'awaiting-approval')) void approve(s);
  };
  let final: RunState;
  try {
    final = await drive(
      {
        plan,
        store,
        cwd: c.cwd,
        env: c.env,
        clock: c.clock,
        log: (m) => reporter.notice(safeText(m)),
        onEvent,
        mode: o.detach ? 'advance' : 'follow',
        signal: ac.signal,
        takeover: o.takeover,
        execute: !o.dryRun,
        controls,
        startedBy: startedBy(c.env),
        ...(o.startAt !== undefined ? { startAt: o.startAt, startSource: o.startSource, endsAt: o.endsAt } : {}),
        ...(o.yes ? { autoApprove: `${c.who()} (--yes)` } : o.dryRun && !c.interactive ? { autoApprove: 'dry run (a real run would wait for `rollout approve`)' } : {}),
        ...(o.dryRun && !c.interactive ? { autoConfirm: 'dry run (a real run would wait for `rollout confirm`)' } : {}),
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
    offSignals();
  }
  const code = exitCodeFor(final);
  // --detach: the workers (if any is alive) carry the run on; say which, or that nothing will.
  const workers = o.handoff && !['completed', 'rolled-back', 'aborted'].includes(final.status) ? await store.workers() : undefined;
  const handoff = workers && (workers.length ? `run ${final.id} handed to worker ${workers.map((w) => w.id).join(', ')}: a worker drives it from here (\`rollout status ${final.id}\`)` : `no worker is alive: nothing drives run ${final.id} until \`rollout advance\`, \`rollout resume ${final.id}\` or a \`rollout worker\``);
  if (c.json) c.stdout(JSON.stringify({ ...summary(plan, final), ...(o.dryRun ? { dryRun: true, recorded: false } : {}), exitCode: code, ...(workers ? { handedTo: workers.map((w) => w.id) } : {}) }, null, 2));
  else {
    if (handoff) c.stdout(handoff);
    for (const l of summary(plan, final).lines) c.stdout(l);
    if (o.dryRun) c.stdout('dry run: nothing was written and nothing was recorded; there is nothing to resume');
    else if (final.status === 'scheduled') {
      // Still ahead: say who starts it on time (a worker, a later `advance`, `start` again), and how to cancel it.
      if (!handoff) c.stdout(`the run stays scheduled: \`rollout start ${plan.file}\`, \`rollout advance ${runId}\` or a \`rollout worker\` starts it on time; \`rollout abort ${runId}\` cancels it`);
      else c.stdout(`\`rollout abort ${runId}\` cancels it`);
    } else {
      // Paused at the end with a cohort still rolled back: resume only pauses again there.
      if (final.status === 'paused' && final.waiting?.kind === 'cohort') c.stdout(`restore with: rollout rollback ${runId} ${(final.excluded ?? []).map((x) => `--${x.kind} ${x.name}`).join(' ')} --undo --reason … (the run then completes), or end it as it is: rollout abort ${runId}`);
      else if (interrupted || final.status === 'paused') c.stdout(`resume with: rollout resume ${runId}`);
      if (final.status === 'awaiting-approval' && final.approval?.checklist) c.stdout(`confirm with: rollout confirm ${runId} <item> (open: ${final.approval.checklist.filter((i) => !i.confirmed).map((i) => i.id).join(', ')})`);
      else if (final.status === 'awaiting-approval') c.stdout(`approve with: rollout approve ${runId}`);
    }
  }
  return code;
}
