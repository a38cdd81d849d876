/**
 * Every run the server shows, kept in memory and refreshed when the store changes, so the
 * dashboard, the API and /metrics answer from memory (1,000 runs: no 1,000 file reads per
 * request). File store: fs.watch on runs/ and locks/ (an event reaches pages in milliseconds),
 * plus a stat sweep every 2 s as a safety net; PostgreSQL: a poll of the run list every second.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunState } from '../engine/types.js';
import { runJson } from '../output/run.js';
import type { Plan } from '../plan/model.js';
import type { Store } from '../state/index.js';
import { planFor } from '../report/load.js';

export interface CachedRun {
  state: RunState;
  plan?: Plan;
  driver: { pid: number; host: string } | null;
  /** `rollout status --json` of the run, with its driver. */
  json: ReturnType<typeof runJson>;
}

export class RunCache {
  readonly runs = new Map<string, CachedRun>();
  private listeners = new Set<(r: CachedRun) => void>();
  private watchers: FSWatcher[] = [];
  private timer?: NodeJS.Timeout;
  private dirty = new Map<string, NodeJS.Timeout>();
  private mtimes = new Map<string, number>();
  private plans = new Map<string, Plan | undefined>();
  private closed = false;
  private sweeps = 0;

  constructor(
    private store: Store,
    private opts: { sweepMs?: number } = {},
  ) {}

  /** Runs, newest first. */
  list(): CachedRun[] {
    return [...this.runs.values()].sort((a, b) => b.state.startedAt - a.state.startedAt);
  }

  onChange(f: (r: CachedRun) => void): () => void {
    this.listeners.add(f);
    return () => this.listeners.delete(f);
  }

  private fileDir(): string | undefined {
    return this.store.localDir;
  }

  async start(): Promise<void> {
    const states = await this.store.list();
    await Promise.all(states.map((s) => this.put(s, false)));
    const dir = this.fileDir();
    if (dir) {
      this.watchDirs(dir);
      this.timer = setInterval(() => void this.sweep(dir).catch(() => undefined), this.opts.sweepMs ?? 2000);
    } else {
      this.timer = setInterval(() => void this.poll().catch(() => undefined), this.opts.sweepMs ?? 1000);
    }
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const w of this.watchers) w.close();
    for (const t of this.dirty.values()) clearTimeout(t);
  }

  private watchDirs(dir: string): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    const add = (sub: string, onName: (name: string) => string | undefined) => {
      try {
        const w = watch(join(dir, sub), { recursive: sub === 'runs', persistent: false }, (_ev, name) => {
          const id = name ? onName(String(name)) : undefined;
          if (id) this.touch(id);
        });
        w.on('error', () => undefined);
        this.watchers.push(w);
      } catch {
        /* not there yet: the sweep finds it and watches again */
      }
    };
    add('runs', (n) => (/(^|\/)(state\.json|events\.jsonl)$/.test(n) || !n.includes('/') ? n.split('/')[0] : undefined));
    add('locks', (n) => /^run-(.+)\.lock$/.exec(n)?.[1]);
  }

  /** Something of run `id` changed: reload it soon (changes within 25 ms are coalesced). */
  touch(id: string): void {
    if (this.closed || this.dirty.has(id)) return;
    this.dirty.set(
      id,
      setTimeout(() => {
        this.dirty.delete(id);
        void this.reload(id).catch(() => undefined);
      }, 25),
    );
  }

  async reload(id: string): Promise<void> {
    let s: RunState;
    try {
      s = await this.store.load(id);
    } catch {
      return; // not a run (yet), or being replaced
    }
    await this.put(s, true);
  }

  private async put(s: RunState, emit: boolean): Promise<void> {
    if (!this.plans.has(s.id) || this.plans.get(s.id) === undefined) this.plans.set(s.id, await planFor(this.store, s).catch(() => undefined));
    const plan = this.plans.get(s.id);
    const drv = await this.store.driver(s.id).catch(() => undefined);
    const driver = drv ? { pid: drv.pid, host: drv.host } : null;
    const prev = this.runs.get(s.id);
    const r: CachedRun = { state: s, plan, driver, json: runJson(plan, s, { driver }) };
    this.runs.set(s.id, r);
    const changed = !prev || prev.state.seq !== s.seq || prev.state.updatedAt !== s.updatedAt || prev.state.status !== s.status || JSON.stringify(prev.driver) !== JSON.stringify(driver);
    if (emit && changed) for (const f of this.listeners) f(r);
  }

  private async sweep(dir: string): Promise<void> {
    if (!this.watchers.length) this.watchDirs(dir);
    let ids: string[];
    try {
      ids = await readdir(join(dir, 'runs'));
    } catch {
      return;
    }
    for (const id of ids) {
      const m = await stat(join(dir, 'runs', id, 'state.json')).then((x) => x.mtimeMs, () => undefined);
      if (m !== undefined && m !== this.mtimes.get(id)) {
        const first = !this.mtimes.has(id) && this.runs.has(id);
        this.mtimes.set(id, m);
        if (!first) this.touch(id);
      }
    }
    // Drivers come and go without a state write (a process that dies leaves its lock): re-check
    // the active runs every fifth sweep (lock files written or removed are seen by the watch).
    if (++this.sweeps % 5) return;
    for (const r of this.runs.values()) {
      if (['completed', 'rolled-back', 'aborted'].includes(r.state.status)) continue;
      const drv = await this.store.driver(r.state.id).catch(() => undefined);
      if (Boolean(drv) !== Boolean(r.driver)) this.touch(r.state.id);
    }
  }

  private async poll(): Promise<void> {
    for (const s of await this.store.list()) {
      const prev = this.runs.get(s.id);
      if (!prev || prev.state.seq !== s.seq || prev.state.updatedAt !== s.updatedAt) await this.put(s, true);
    }
  }
}
