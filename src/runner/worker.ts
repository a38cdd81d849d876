/**
 * A worker: drives every run in the store that wants a driver, with any number of workers on
 * any number of machines sharing the store. Each poll it claims runs without a live lease (up
 * to its concurrency), drives each with the same Runner a foreground `rollout start` uses, and
 * renews all its leases in one store call every few seconds. A worker that dies stops renewing:
 * its runs are claimed by another within lease + poll. A worker that was paused past its
 * leases finds them gone (renewal, or the fenced save) and drops those runs without writing.
 * On stop (SIGTERM) each run finishes the action in flight, records it and is released
 * as it is, for another worker to carry on.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { RunEvent, RunState } from '../engine/types.js';
import { errorMessage } from '../errors.js';
import type { Plan } from '../plan/model.js';
import { LEASE_MS, LeaseLostError, RENEW_MS, wantsDriver, type Lease, type Store } from '../state/index.js';
import { realClock, type Clock } from './clock.js';
import { fenced, LeaseKeeper } from './lease.js';
import { Runner } from './runner.js';
import { buildServices } from './services.js';

export interface WorkerOptions {
  store: Store;
  id?: string;
  concurrency?: number;
  /** How often to look for work and at each held run's inbox. */
  pollMs?: number;
  leaseMs?: number;
  renewMs?: number;
  cwd: string;
  clock?: Clock;
  /** The plan a run was started from, with its adapters (the worker drives it for real). */
  loadPlan(s: RunState): Promise<Plan>;
  /** One line per thing worth knowing (claimed, finished, lost, failed). */
  log(msg: string): void;
  onEvent?(e: RunEvent, s: RunState): void;
  signal: AbortSignal;
}

/** When a worker next retries an incomplete rollback: 5 s × 2^retries after the last attempt, at most 10 min. */
export function retryDue(s: RunState): number {
  return s.updatedAt + Math.min(600_000, 5_000 * 2 ** (s.rollback?.retries ?? 0));
}

export function workerId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
}

interface Held {
  lease: Lease;
  stop: AbortController;
  done: Promise<void>;
}

export async function runWorker(o: WorkerOptions): Promise<{ id: string; drove: number }> {
  const { store } = o;
  const id = o.id ?? workerId();
  const clock = o.clock ?? realClock;
  const pollMs = o.pollMs ?? 1000;
  const concurrency = Math.max(1, o.concurrency ?? 100);
  const leaseMs = o.leaseMs ?? LEASE_MS;
  const renewMs = o.renewMs ?? RENEW_MS;
  const held = new Map<string, Held>();
  /** Runs this worker could not drive (plan does not load): left alone for a while. */
  const backoff = new Map<string, { until: number; failures: number }>();
  let drove = 0;
  const keeper = new LeaseKeeper(store, { renewMs, leaseMs, onError: (err) => o.log(`renewing leases failed (will retry): ${errorMessage(err)}`) });
  const info = { id, host: hostname(), pid: process.pid, startedAt: Date.now(), concurrency };
  await store.heartbeat(info);
  o.log(`worker ${id} started (pid ${process.pid} on ${info.host}, up to ${concurrency} run(s), store ${store.dir})`);
  const beat = setInterval(() => void store.heartbeat(info).catch((err: unknown) => o.log(`heartbeat failed: ${errorMessage(err)}`)), renewMs);

  const drive = async (lease: Lease, stop: AbortController): Promise<void> => {
    const runId = lease.runId;
    let lost = false;
    keeper.add(lease, () => {
      lost = true;
      stop.abort('lease lost');
    });
    let svc: Awaited<ReturnType<typeof buildServices>> | undefined;
    try {
      const state = await store.load(runId);
      let plan: Plan;
      try {
        plan = await o.loadPlan(state);
      } catch (err) {
        const b = backoff.get(runId) ?? { until: 0, failures: 0 };
        b.failures++;
        b.until = Date.now() + Math.min(300_000, 5_000 * 2 ** (b.failures - 1));
        backoff.set(runId, b);
        o.log(`run ${runId}: cannot drive it here, its plan ${state.plan.file} does not load: ${errorMessage(err)} (left for ${Math.round((b.until - Date.now()) / 1000)} s)`);
        return;
      }
      backoff.delete(runId);
      if (state.plan.hash !== plan.hash) o.log(`run ${runId}: ${state.plan.file} changed since the run started; going on with the plan as it is now`);
      await store.lockFlags(runId, plan.flags, { now: clock.now() });
      drove++;
      o.log(`run ${runId}: driving (${state.status}, epoch ${lease.epoch})`);
      svc = await buildServices({ plan, store: fenced(store, lease, leaseMs), clock, cwd: o.cwd, log: (m) => o.log(`run ${runId}: ${m}`), onEvent: (e, s) => o.onEvent?.(e, s), runStartedAt: state.startedAt });
      const runner = new Runner(svc, state);
      // Paused or waiting on a gate without a deadline, the loop returns: look at the inbox
      // again after a poll, until the run ends or this worker stops.
      for (let guard = 0; guard < 100_000_000 && !stop.signal.aborted; guard++) {
        const s = await runner.loop({ mode: 'follow', signal: stop.signal, pollMs, onAbort: 'release' });
        if (!wantsDriver(s)) {
          await store.unlockFlags(runId, plan.flags);
          o.log(`run ${runId}: ${s.status}`);
          return;
        }
        // An incomplete rollback (flags possibly still on): retry the failed steps on our own,
        // with backoff (5 s, 10 s, 20 s … up to 10 min after the last attempt), escalating
        // again each time it stays incomplete.
        if (s.status === 'rollback-incomplete' && !stop.signal.aborted && clock.now() >= retryDue(s)) {
          o.log(`run ${runId}: rollback incomplete (${s.rollback?.failed?.length ?? 0} failed step(s)); retrying, attempt ${(s.rollback?.retries ?? 0) + 1}`);
          const r = await runner.applyControl({ kind: 'retry-rollback', by: `worker ${id}`, escalate: true });
          if (r.error) o.log(`run ${runId}: retry refused: ${r.error}`);
          continue;
        }
        await clock.sleep(pollMs, stop.signal);
      }
      if (lost) o.log(`run ${runId}: lease lost (epoch ${lease.epoch}); another driver has it; nothing more written here`);
    } catch (err) {
      if (err instanceof LeaseLostError || lost) {
        lost = true;
        o.log(`run ${runId}: lease lost (epoch ${lease.epoch}); another driver has it; nothing more written here`);
      } else o.log(`run ${runId}: ${errorMessage(err)} (released; another poll picks it up again)`);
    } finally {
      keeper.remove(runId);
      await svc?.close();
      if (!lost) await store.release(lease).catch(() => undefined);
    }
  };

  try {
    while (!o.signal.aborted) {
      // A few runs per poll, so workers starting together share the work.
      const room = Math.min(concurrency - held.size, Math.max(5, Math.ceil(concurrency / 10)));
      if (room > 0) {
        let leases: Lease[] = [];
        try {
          leases = await store.claim(id, room, leaseMs);
        } catch (err) {
          o.log(`claiming runs failed (will retry): ${errorMessage(err)}`);
        }
        for (const lease of leases) {
          const b = backoff.get(lease.runId);
          if (b && b.until > Date.now()) {
            await store.release(lease).catch(() => undefined);
            continue;
          }
          const stop = new AbortController();
          const h: Held = { lease, stop, done: Promise.resolve() };
          h.done = drive(lease, stop).finally(() => held.delete(lease.runId));
          held.set(lease.runId, h);
        }
      }
      await clock.sleep(pollMs, o.signal);
    }
  } finally {
    clearInterval(beat);
    // Stop: each run finishes the action in flight, records it and is released.
    for (const h of held.values()) h.stop.abort('worker stopping');
    await Promise.allSettled([...held.values()].map((h) => h.done));
    keeper.stop();
    await store.leave(id).catch(() => undefined);
    o.log(`worker ${id} stopped: every lease released`);
  }
  return { id, drove };
}
