/**
 * Keeping run leases: one timer renews every lease this process holds in one store call every
 * RENEW_MS, and tells the owner of a lease when it was lost (taken over after a long pause).
 * The fenced view of the store is what a Runner gets: its saves carry the lease's epoch, and
 * before each side effect it checks (and extends) the lease.
 */
import { LeaseLostError, RENEW_MS, type Lease, type Store } from '../state/index.js';
import type { RunStore } from './runner.js';

export class LeaseKeeper {
  private held = new Map<string, { lease: Lease; onLost: () => void }>();
  private timer?: NodeJS.Timeout;
  private busy = false;

  constructor(
    private store: Store,
    private opts: { renewMs?: number; leaseMs?: number; onError?: (err: unknown) => void } = {},
  ) {}

  add(lease: Lease, onLost: () => void): void {
    this.held.set(lease.runId, { lease, onLost });
    this.timer ??= setInterval(() => void this.tick(), this.opts.renewMs ?? RENEW_MS);
  }

  remove(runId: string): void {
    this.held.delete(runId);
    if (!this.held.size && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  get size(): number {
    return this.held.size;
  }

  private async tick(): Promise<void> {
    if (this.busy || !this.held.size) return;
    this.busy = true;
    try {
      const leases = [...this.held.values()].map((h) => h.lease);
      const lost = await this.store.renew(leases, this.opts.leaseMs);
      for (const id of lost) {
        const h = this.held.get(id);
        this.remove(id);
        h?.onLost();
      }
    } catch (err) {
      // The store is unreachable: keep trying; saves are fenced, so nothing unsafe happens.
      this.opts.onError?.(err);
    } finally {
      this.busy = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.held.clear();
  }
}

/** The store as the Runner of a leased run sees it: every save fenced by the lease's epoch. */
export function fenced(store: Store, lease: Lease, leaseMs?: number): RunStore {
  return {
    save: (s, e) => store.save(s, e, lease),
    take: (id) => store.take(id, lease),
    writeIncident: (id, inc, key) => store.writeIncident(id, inc, key),
    checkLease: async () => {
      if ((await store.renew([lease], leaseMs)).has(lease.runId)) throw new LeaseLostError(lease.runId, lease.epoch, await store.readLock('run', lease.runId));
    },
  };
}
