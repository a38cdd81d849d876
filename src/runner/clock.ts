/** The only source of time. Real for runs, virtual for `simulate` and tests. */
export interface Clock {
  now(): number;
  /** Sleep up to ms; resolves early when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const t = setTimeout(done, Math.max(0, ms));
      function done() {
        signal?.removeEventListener('abort', done);
        clearTimeout(t);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};

/** Time that moves only when slept through. With a limit, reaching it aborts `limit.ac` (simulations). */
export class VirtualClock implements Clock {
  readonly limitAt: number;
  constructor(
    public t: number,
    private limit?: { at: number; ac: AbortController; reason: string },
  ) {
    this.limitAt = limit?.at ?? Infinity;
  }
  now() {
    return this.t;
  }
  async sleep(ms: number) {
    this.t += Math.max(0, ms);
    if (this.limit && this.t >= this.limit.at && !this.limit.ac.signal.aborted) this.limit.ac.abort(this.limit.reason);
  }
}

/**
 * Real time, except that a wait before the last of `marks` is skipped: a sleep jumps to the
 * next mark. A dry run of a scheduled start uses it: the announcement and the start come at
 * once, at the times they would have; what follows runs in real time, shifted by the skip.
 */
export class SkipClock implements Clock {
  private offset = 0;
  constructor(
    private marks: number[],
    private base: Clock = realClock,
  ) {}
  now() {
    return this.base.now() + this.offset;
  }
  async sleep(ms: number, signal?: AbortSignal) {
    const now = this.now();
    const next = this.marks.filter((m) => m > now).sort((a, b) => a - b)[0];
    if (next === undefined) return this.base.sleep(ms, signal);
    if (!signal?.aborted) this.offset += next - now;
  }
}
