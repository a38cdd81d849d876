/**
 * The file store's run records, event logs, incidents, plan snapshots and control inbox (the
 * layout is in file.ts), and reading a lock. FileStore (file.ts) adds taking locks, run leases
 * and workers.
 */
import { join } from 'node:path';
import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { StateError, UsageError } from '../errors.js';
import type { Control, RunEvent, RunState } from '../engine/types.js';
import type { Plan } from '../plan/model.js';
import { redactDeep } from '../util/redact.js';
import { pickRun } from './resolve.js';
import { migrateRunRecord } from './migrate.js';
import { runRecordProblems } from './validate.js';
import { planSnapshot } from './snapshot.js';
import { LeaseLostError, type Fence, type LockInfo } from './lease.js';

export const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');
export const writeAtomic = async (file: string, text: string, fsync = true) => (await import('write-file-atomic')).default(file, text, { mode: 0o600, fsync });

export class FileRuns {
  constructor(readonly dir: string) {}

  get localDir(): string {
    return this.dir;
  }

  protected runDir(id: string) {
    return join(this.dir, 'runs', safeName(id));
  }

  /**
   * With a fence, the run's lease file is read first and the write refused if its epoch moved
   * on. (Without a database there is no atomic check-and-write: a takeover landing between the
   * check and the write is possible in principle; takeovers only happen after LEASE_MS without
   * renewal, so in practice the stale driver is stopped by the check or by its failed renewal.)
   */
  async save(state: RunState, events: RunEvent[], fence?: Fence): Promise<void> {
    if (fence) await this.checkFence(fence);
    const dir = this.runDir(state.id);
    await mkdir(join(dir, 'inbox'), { recursive: true, mode: 0o700 });
    // Events first: if we die between the two writes, the state still names the older seq and
    // the orphan events are ignored on read (and overwritten by the re-made decision).
    if (events.length) {
      const fh = await open(join(dir, 'events.jsonl'), 'a', 0o600);
      try {
        await fh.appendFile(events.map((e) => JSON.stringify(redactDeep(e))).join('\n') + '\n');
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    await writeAtomic(join(dir, 'state.json'), JSON.stringify(redactDeep(state), null, 2) + '\n');
  }

  protected async checkFence(f: Fence): Promise<void> {
    const h = await this.readLock('run', f.runId);
    if (!h || h.epoch !== f.epoch) throw new LeaseLostError(f.runId, f.epoch, h);
  }

  async writePlan(id: string, plan: Plan): Promise<void> {
    await mkdir(this.runDir(id), { recursive: true, mode: 0o700 });
    await writeAtomic(join(this.runDir(id), 'plan.json'), JSON.stringify(redactDeep(planSnapshot(plan))) + '\n', false);
  }

  async readPlan(id: string): Promise<Plan | undefined> {
    try {
      return JSON.parse(await readFile(join(this.runDir(id), 'plan.json'), 'utf8')) as Plan;
    } catch {
      return undefined;
    }
  }

  async load(id: string): Promise<RunState> {
    const file = join(this.runDir(id), 'state.json');
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UsageError(`no run "${id}"`, { hint: 'List runs with `rollout status`.' });
      throw new StateError(`cannot read ${file}: ${(err as Error).message}`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new StateError(
        `state file ${file} is corrupt or truncated (not valid JSON); it was not changed`,
        `Inspect it, restore it from ${join(this.runDir(id), 'events.jsonl')} (the event log), or move it aside and start a new run. rollout never overwrites it silently.`,
      );
    }
    const { state: s } = migrateRunRecord(raw, { where: `state file ${file}`, oldHint: 'Use the rollout version that wrote it, or move the run directory aside.' });
    const problems = runRecordProblems(s, safeName(id));
    if (problems.length)
      throw new StateError(
        `state file ${file} is not a valid run record (${problems.slice(0, 3).join('; ')}${problems.length > 3 ? `; and ${problems.length - 3} more` : ''}); it was not changed`,
        `Restore it from a backup, or move the run aside (\`mv ${this.runDir(id)} ${this.runDir(id)}.broken\`; its event log events.jsonl says what happened) and check the flags it drove by hand. rollout never overwrites it silently.`,
      );
    return s;
  }

  async events(id: string): Promise<RunEvent[]> {
    const state = await this.load(id);
    let text = '';
    try {
      text = await readFile(join(this.runDir(id), 'events.jsonl'), 'utf8');
    } catch {
      return [];
    }
    const bySeq = new Map<number, RunEvent>();
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as RunEvent;
        if (e.seq < state.seq) bySeq.set(e.seq, e);
      } catch {
        /* a torn last line from a crash: ignored */
      }
    }
    return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  async list(): Promise<RunState[]> {
    return (await this.scan()).runs;
  }

  /** Runs whose record cannot be used (corrupt, wrong shape, another schema), with why. */
  async broken(): Promise<Array<{ id: string; error: StateError }>> {
    return (await this.scan()).broken;
  }

  /** Every run that loads, newest first, and the StateErrors of those that do not (corrupt, another schema). */
  protected async scan(): Promise<{ runs: RunState[]; broken: Array<{ id: string; error: StateError }> }> {
    let ids: string[] = [];
    try {
      ids = await readdir(join(this.dir, 'runs'));
    } catch {
      return { runs: [], broken: [] };
    }
    const out: RunState[] = [];
    const broken: Array<{ id: string; error: StateError }> = [];
    for (const id of ids) {
      try {
        out.push(await this.load(id));
      } catch (err) {
        if (err instanceof StateError) broken.push({ id, error: err });
        /* else: a directory without a state file (a run that never got saved) */
      }
    }
    return { runs: out.sort((a, b) => b.startedAt - a.startedAt), broken };
  }

  /**
   * A run id, a plan name (its latest run) or nothing (the one active run / the latest). A run
   * whose state file cannot be read is reported as such (StateError naming the file) when it
   * is named, or when it is the only run there is — not as "no such run".
   */
  async resolve(ref?: string): Promise<string> {
    const { runs, broken } = await this.scan();
    return pickRun(ref, runs, broken, (stored, r) => stored === r || stored === safeName(r), this.dir);
  }


  /**
   * Write an incident record. `key` names the file (the runner passes the decision time and
   * action id), so performing the same record-incident action again after a crash rewrites
   * the same file instead of leaving a second incident behind.
   */
  async writeIncident(id: string, incident: unknown, key?: string): Promise<string> {
    const file = join(this.runDir(id), `incident-${key ? safeName(key) : Date.now()}.json`);
    await writeAtomic(file, JSON.stringify(redactDeep(incident), null, 2) + '\n');
    return file;
  }

  /** Remove a run that never started (it lost the race for a flag lock). */
  async discard(id: string): Promise<void> {
    await rm(this.runDir(id), { recursive: true, force: true });
    await rm(this.lockFile('run', id), { force: true });
  }

  // ——— control inbox ———

  /** Are control requests waiting in the run's inbox? */
  async pending(id: string): Promise<boolean> {
    try {
      return (await readdir(join(this.runDir(id), 'inbox'))).some((n) => n.endsWith('.json'));
    } catch {
      return false;
    }
  }

  async post(id: string, ctl: Control): Promise<void> {
    const dir = join(this.runDir(id), 'inbox');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const name = `${Date.now().toString().padStart(15, '0')}-${process.pid}-${Math.random().toString(36).slice(2, 8)}.json`;
    await writeAtomic(join(dir, name), JSON.stringify(redactDeep(ctl)));
  }

  async take(id: string, fence?: Fence): Promise<Control[]> {
    if (fence && (await this.pending(id))) await this.checkFence(fence);
    const dir = join(this.runDir(id), 'inbox');
    let names: string[];
    try {
      names = (await readdir(dir)).filter((n) => n.endsWith('.json')).sort();
    } catch {
      return [];
    }
    const out: Control[] = [];
    for (const n of names) {
      try {
        out.push(JSON.parse(await readFile(join(dir, n), 'utf8')) as Control);
      } catch {
        /* half-written: atomic writes make this rare; skip */
      }
      await rm(join(dir, n), { force: true });
    }
    return out;
  }

  // ——— locks ———

  protected lockFile(kind: 'flag' | 'run', name: string) {
    return join(this.dir, 'locks', `${kind}-${safeName(name)}.lock`);
  }

  async readLock(kind: 'flag' | 'run', name: string): Promise<LockInfo | undefined> {
    try {
      return JSON.parse(await readFile(this.lockFile(kind, name), 'utf8')) as LockInfo;
    } catch {
      return undefined;
    }
  }
}
