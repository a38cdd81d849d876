/**
 * Driving a run for real: create or pick up a run, take the locks, loop, release. Commands
 * (start, resume, advance, rollback …) are thin layers over these functions.
 */
import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { createRun } from '../engine/engine.js';
import { FINAL_STATUSES, type Control, type RunEvent, type RunState } from '../engine/types.js';
import { ExitCode, LockError, UsageError } from '../errors.js';
import { describeHolder, LeaseLostError } from '../state/index.js';
import type { Plan } from '../plan/model.js';
import type { Lease, Store } from '../state/index.js';
import { realClock, type Clock } from './clock.js';
import type { Env } from './io.js';
import { fenced, LeaseKeeper } from './lease.js';
import { Runner, type LoopOptions } from './runner.js';
import { buildServices } from './services.js';

export interface DriveOptions {
  plan: Plan;
  store: Store;
  cwd: string;
  /** The environment adapters and commands see (default: the process's). */
  env?: Env;
  clock?: Clock;
  log: (msg: string) => void;
  onEvent: (e: RunEvent, s: RunState) => void;
  mode: LoopOptions['mode'];
  signal?: AbortSignal;
  takeover?: boolean;
  execute?: boolean;
  pollMs?: number;
  autoApprove?: string;
  /** Tick checklists at once as this name (simulations, dry runs; never --yes). */
  autoConfirm?: string;
  /** Called once the run is locked and about to loop (e.g. to print "run X started"). */
  onReady?: (s: RunState, resumed: boolean) => void;
  /** Controls to apply (under the run lock) before looping, e.g. a rollback request. */
  controls?: Control[];
  /** Who starts a new run (`user@host`, see startedBy()); recorded in it. Unused when picking one up. */
  startedBy?: string;
  /** A new run's scheduled start (epoch ms; `startAt:` / `--at`, resolved by the command) and where it came from. */
  startAt?: number;
  startSource?: 'plan' | 'command';
  /** Its estimated end (estimateEnd), for the announcement. */
  endsAt?: number;
}

/** Who starts a run: $ROLLOUT_USER, else the OS account, plus `@host`. */
export function startedBy(env: Env = process.env, host: string = hostname()): string {
  let user = env.ROLLOUT_USER;
  if (!user) {
    try {
      user = userInfo().username;
    } catch {
      user = env.USER ?? env.USERNAME ?? 'unknown';
    }
  }
  return `${user}@${host}`;
}

export function newRunId(plan: Plan, now: number): string {
  const d = new Date(now).toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 13);
  return `${plan.name.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 60)}-${d}-${randomBytes(2).toString('hex')}`;
}

/**
 * The active (not finished) run of this plan, if any. A run whose status is final but which
 * still has side effects in flight (its process died after deciding the end, before sending
 * the last notices) counts as unfinished too: picking it up carries those out.
 */
export async function activeRunOf(store: Store, plan: Plan): Promise<RunState | undefined> {
  return (await store.list()).find((r) => r.plan.name === plan.name && (!FINAL_STATUSES.includes(r.status) || r.pending.length > 0));
}

/**
 * Start a new run of `plan`, or pick up its active run (a crashed or paused one). Takes the
 * run lock and the flag locks, then loops. Returns the state the loop left the run in.
 */
export async function drive(o: DriveOptions, existing?: RunState): Promise<RunState> {
  const clock = o.clock ?? realClock;
  const { store, plan } = o;
  let state = existing;
  const created = !state;
  let createdEvents: RunEvent[] = [];
  let lease: Lease | undefined;
  const releaseRun = async () => {
    if (lease) await store.release(lease);
  };
  if (!o.takeover) await refuseOverIncompleteRollback(store, plan.flags, existing?.id);
  try {
    if (!state) {
      // The plan's last run ended with a cohort still excluded on the backend: this run takes it over.
      const last = (await store.list()).filter((r) => r.plan.name === plan.name && FINAL_STATUSES.includes(r.status)).sort((a, b) => (b.finishedAt ?? b.updatedAt) - (a.finishedAt ?? a.updatedAt))[0];
      const carried = last?.excluded?.length ? { excluded: last.excluded, excludedFrom: last.id } : {};
      const d = createRun(plan, newRunId(plan, clock.now()), clock.now(), o.startedBy, { startAt: o.startAt, source: o.startSource, endsAt: o.endsAt, ...carried });
      // A new run is locked before it is saved: a process that finds it in the store (`start`
      // of the same plan at the same moment) sees a driven run and backs off (exit 5) instead
      // of picking it up under our feet. Saved before the flag locks: another process judging
      // our flag lock must see a live run.
      lease = await store.lockRun(d.state.id, { takeover: o.takeover, now: clock.now() });
      await store.save(d.state, d.events, lease);
      state = d.state;
      createdEvents = d.events;
    } else lease = await store.lockRun(state.id, { takeover: o.takeover, now: clock.now() });
    await store.lockFlags(state.id, plan.flags, { takeover: o.takeover, now: clock.now() });
  } catch (err) {
    // Our new run lost the race for a flag: remove it, before letting go of its run lock.
    if (created && state) await store.discard(state.id);
    await releaseRun();
    throw err;
  }
  const id = state.id;
  for (const e of createdEvents) o.onEvent(e, state);
  // Renewed every few seconds while we drive; if it is lost (this process was stopped past
  // its lease and another took the run), the loop stops and every further save is refused.
  const lost = new AbortController();
  const keeper = new LeaseKeeper(store);
  keeper.add(lease, () => lost.abort('lease lost'));
  const signal = o.signal ? AbortSignal.any([o.signal, lost.signal]) : lost.signal;
  const held = lease;
  let svc: Awaited<ReturnType<typeof buildServices>>;
  try {
    svc = await buildServices({ plan, store: fenced(store, held), clock, cwd: o.cwd, env: o.env, log: o.log, onEvent: o.onEvent, execute: o.execute, runStartedAt: state.startedAt });
  } catch (err) {
    // An adapter that cannot be built (a missing token): let go of the run, or the lease
    // keeper's timer would keep this process alive after the error.
    keeper.stop();
    await releaseRun();
    throw err;
  }
  try {
    state = await store.load(id); // the freshest copy, now that we hold the lock
    const runner = new Runner(svc, state);
    for (const ctl of o.controls ?? []) {
      const r = await runner.applyControl(ctl);
      if (r.error) throw new UsageError(r.error, { hint: r.hint });
    }
    o.onReady?.(runner.state, !created);
    const final = await runner.loop({ mode: o.mode, signal, pollMs: o.pollMs, autoApprove: o.autoApprove, autoConfirm: o.autoConfirm });
    if (lost.signal.aborted) throw new LeaseLostError(id, held.epoch, await store.readLock('run', id));
    if (FINAL_STATUSES.includes(final.status)) await store.unlockFlags(id, plan.flags);
    return final;
  } finally {
    keeper.stop();
    await svc.close();
    if (!lost.signal.aborted) await releaseRun();
  }
}

/** The lock error for a new run over the flags of a run whose rollback is incomplete. */
export function incompleteRollbackError(other: RunState, flags: string[]): LockError {
  return new LockError(
    `flag${flags.length > 1 ? 's' : ''} ${flags.join(', ')} belong${flags.length > 1 ? '' : 's'} to run ${other.id}, whose rollback is INCOMPLETE (${other.rollback?.failures.join('; ') || 'steps failed'}); no new run starts on them until it is finished`,
    `Retry it: \`rollout rollback ${other.id} --reason "…"\` repeats the failed steps (\`rollout status ${other.id}\` shows them). To give it up deliberately: \`rollout abort ${other.id} --reason "…"\`.`,
  );
}

/**
 * A run whose rollback is incomplete keeps its flags: another run on any of them is refused
 * (exit 5) naming it — a flag that may still be on must not be rolled out again unseen.
 */
async function refuseOverIncompleteRollback(store: Store, flags: string[], self: string | undefined): Promise<void> {
  const held = new Map<string, string[]>();
  for (const f of flags) {
    const h = await store.readLock('flag', f);
    if (h && h.owner !== self) held.set(h.owner, [...(held.get(h.owner) ?? []), f]);
  }
  for (const [owner, fs] of held) {
    const other = await store.load(owner).catch(() => undefined);
    if (other?.status === 'rollback-incomplete') throw incompleteRollbackError(other, fs);
  }
}

/** The exit code that says where a run stands. */
export function exitCodeFor(s: RunState): number {
  switch (s.status) {
    case 'completed':
      return ExitCode.OK;
    case 'rolled-back':
      return s.rollback?.failures.length ? ExitCode.ROLLBACK_FAILED : ExitCode.ROLLED_BACK;
    case 'rollback-incomplete':
      return ExitCode.ROLLBACK_FAILED;
    case 'paused':
    case 'awaiting-approval':
      return ExitCode.PAUSED;
    case 'aborted':
      return ExitCode.ABORTED;
    default:
      return ExitCode.IN_PROGRESS;
  }
}

/**
 * Hand a control to the live process driving a run (through its inbox) and wait, bounded,
 * until it has applied it — or refused it (a `control.refused` event). Runs without a driver
 * are steered in-process by the commands (they apply the control and carry out what it queued).
 */
export async function sendControl(store: Store, id: string, ctl: Control, opts: { waitMs?: number; clock?: Clock } = {}): Promise<RunState | { driverGone: true }> {
  const waitMs = opts.waitMs ?? 15_000;
  const clock = opts.clock ?? realClock;
  const before = await store.load(id);
  await store.post(id, ctl);
  const deadline = clock.now() + waitMs;
  let holder = await store.driver(id);
  for (let i = 1; clock.now() < deadline; i++) {
    await clock.sleep(100);
    if (await store.pending(id)) {
      // The driver died (its lease lapsed, or its process is gone): the request is still in
      // the inbox, for whoever drives the run next — the caller, which takes the run over.
      if (i % 10 === 0 && !(holder = (await store.driver(id)) ?? undefined)) return { driverGone: true };
      continue;
    }
    const after = await store.load(id);
    if (after.seq === before.seq) continue; // taken, not yet recorded
    const refused = (await store.events(id)).find((e) => e.seq >= before.seq && e.type === 'control.refused');
    if (refused) throw new UsageError(refused.msg, { hint: typeof refused.data?.hint === 'string' ? refused.data.hint : undefined });
    return after;
  }
  // A live lease (renewed) but the request not taken: the driver is stuck; say who and until when.
  const h = holder ?? (await store.readLock('run', id));
  throw new LockError(
    `run ${id} is driven by ${h ? describeHolder(h) : 'another process'}${h?.leaseUntil ? ` (lease until ${new Date(h.leaseUntil).toISOString()})` : ''}, which has not taken the request within ${Math.round(waitMs / 1000)}s`,
    'It is still queued and is applied when that driver polls its inbox; if the driver is gone, its lease lapses and the next command (or a worker) takes the run over. `rollout status` shows the run.',
  );
}

export { LockError };
