/**
 * The default state store: files under .rollout/ (override with --state-dir or ROLLOUT_STATE_DIR).
 *   runs/<id>/state.json    the run record, written atomically (temp, fsync, rename), mode 0600
 *   runs/<id>/events.jsonl  the append-only event log (the audit trail)
 *   runs/<id>/inbox/        control requests (pause, approve, rollback …) from other shells
 *   locks/                  one lock per flag (owned by a run) and per run (owned by a process)
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { LockError, StateError, UsageError } from '../errors.js';
import { FINAL_STATUSES, STATE_SCHEMA_VERSION, type Control, type RunEvent, type RunState } from '../engine/types.js';
import { redactDeep } from '../util/redact.js';
import { pickRun } from './resolve.js';
import { withDirLock } from '../util/dirlock.js';
import { runRecordProblems } from './validate.js';
import { readPlanSnapshot, writePlanSnapshot } from './snapshot.js';
import type { Plan } from '../plan/model.js';

export interface LockInfo {
  owner: string; // run id
  host: string;
  pid: number;
  acquiredAt: string;
  leaseUntil: number;
}

const safeName = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_');

export class FileStore {
  constructor(readonly dir: string) {}

  private runDir(id: string) {
    return join(this.dir, 'runs', safeName(id));
  }

  async save(state: RunState, events: RunEvent[]): Promise<void> {
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
    await (await import('write-file-atomic')).default(join(dir, 'state.json'), JSON.stringify(redactDeep(state), null, 2) + '\n', { mode: 0o600, fsync: true });
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
    let s: RunState;
    try {
      s = JSON.parse(text) as RunState;
    } catch {
      throw new StateError(
        `state file ${file} is corrupt or truncated (not valid JSON); it was not changed`,
        `Inspect it, restore it from ${join(this.runDir(id), 'events.jsonl')} (the event log), or move it aside and start a new run. rollout never overwrites it silently.`,
      );
    }
    if (typeof s !== 'object' || s === null || s.schema !== STATE_SCHEMA_VERSION || !s.id || !s.status) {
      throw new StateError(
        `state file ${file} has ${s && typeof s === 'object' && 'schema' in s ? `schema version ${String(s.schema)}` : 'no schema version'}; this rollout reads version ${STATE_SCHEMA_VERSION}`,
        'Use the rollout version that wrote it, or move the run directory aside.',
      );
    }
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

  /** Keep the plan a run uses beside it (adapter options and command env left out). */
  async savePlanSnapshot(id: string, plan: Plan): Promise<void> {
    await writePlanSnapshot(this.dir, id, plan);
  }

  /** The plan the run stored when it started (undefined for runs that stored none). */
  async loadPlanSnapshot(id: string): Promise<Plan | undefined> {
    return readPlanSnapshot(this.dir, id);
  }

  /** Runs whose record cannot be used (corrupt, wrong shape, another schema), with why. */
  async broken(): Promise<Array<{ id: string; error: StateError }>> {
    return (await this.scan()).broken;
  }

  /** Every run that loads, newest first, and the StateErrors of those that do not (corrupt, another schema). */
  private async scan(): Promise<{ runs: RunState[]; broken: Array<{ id: string; error: StateError }> }> {
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
    await (await import('write-file-atomic')).default(file, JSON.stringify(redactDeep(incident), null, 2) + '\n', { mode: 0o600 });
    return file;
  }

  /** Remove a run that never started (it lost the race for a flag lock). */
  async discard(id: string): Promise<void> {
    await rm(this.runDir(id), { recursive: true, force: true });
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
    await (await import('write-file-atomic')).default(join(dir, name), JSON.stringify(redactDeep(ctl)), { mode: 0o600 });
  }

  async take(id: string): Promise<Control[]> {
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

  private lockFile(kind: 'flag' | 'run', name: string) {
    return join(this.dir, 'locks', `${kind}-${safeName(name)}.lock`);
  }

  async readLock(kind: 'flag' | 'run', name: string): Promise<LockInfo | undefined> {
    try {
      return JSON.parse(await readFile(this.lockFile(kind, name), 'utf8')) as LockInfo;
    } catch {
      return undefined;
    }
  }

  /**
   * Create a lock file, complete or not at all: the content goes to a private temp file that is
   * then hard-linked into place (link() fails with EEXIST when the lock exists). A reader never
   * sees an empty or half-written lock, which it would take for a stale one and remove.
   * Filesystems without hard links fall back to an exclusive create.
   */
  private async tryCreate(file: string, info: LockInfo): Promise<boolean> {
    const text = JSON.stringify(info);
    const tmp = `${file}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    try {
      await writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
      await link(tmp, file);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
    } finally {
      await rm(tmp, { force: true });
    }
    try {
      const fh = await open(file, 'wx', 0o600);
      try {
        await fh.writeFile(text);
      } finally {
        await fh.close();
      }
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    }
  }

  /**
   * Lock every flag for `runId`. A flag locked by another run that is still active blocks
   * (LockError naming the holder) unless `takeover`; locks of finished or vanished runs are
   * stale and replaced. All or nothing.
   */
  async lockFlags(runId: string, flags: string[], opts: { takeover?: boolean; now: number }): Promise<void> {
    await mkdir(join(this.dir, 'locks'), { recursive: true, mode: 0o700 });
    // Judging a lock stale and replacing it must not interleave with another process doing
    // the same, or both could win: the whole acquisition runs under one store-wide mutex.
    await this.withMutex(() => this.lockFlagsUnsafe(runId, flags, opts));
  }

  /** A short-lived store-wide mutex. A holder dead for 10 s is broken. */
  private withMutex<T>(f: () => Promise<T>): Promise<T> {
    const dir = join(this.dir, 'locks', '.mutex');
    return withDirLock(dir, { staleMs: 10_000, waitMs: 30_000, busy: () => new LockError(`the lock table in ${this.dir}/locks is busy`, `If no other rollout is running, remove ${dir}.`) }, f);
  }

  private async lockFlagsUnsafe(runId: string, flags: string[], opts: { takeover?: boolean; now: number }): Promise<void> {
    const taken: string[] = [];
    const info: LockInfo = { owner: runId, host: hostname(), pid: process.pid, acquiredAt: new Date(opts.now).toISOString(), leaseUntil: Number.MAX_SAFE_INTEGER };
    try {
      for (const flag of [...flags].sort()) {
        const file = this.lockFile('flag', flag);
        for (let attempt = 0; attempt < 3; attempt++) {
          if (await this.tryCreate(file, info)) {
            taken.push(flag);
            break;
          }
          const holder = await this.readLock('flag', flag);
          if (holder?.owner === runId) break; // ours already (resume)
          let active = false;
          if (holder) {
            try {
              active = !FINAL_STATUSES.includes((await this.load(holder.owner)).status);
            } catch (err) {
              // A vanished run's lock is stale; one whose state is unreadable is not known to be
              // finished, so it keeps its flags (until --takeover).
              if (err instanceof StateError && !opts.takeover)
                throw new LockError(`flag ${flag} is locked by run ${holder.owner}, whose state cannot be read: ${err.message}`, `${err.hint ?? ''} Or pass --takeover to take its flags.`.trim());
              active = false;
            }
          }
          if (active && !opts.takeover) {
            const drv = await this.driver(holder!.owner);
            // The last process known to drive it: its run lock, else whoever took the flag lock.
            const last = drv ?? (await this.readLock('run', holder!.owner)) ?? holder!;
            throw new LockError(
              `flag ${flag} is locked by run ${holder!.owner} (${drv ? `driven by pid ${drv.pid} on ${drv.host}, alive` : `no live process drives it: its driver pid ${last.pid} on ${last.host} is not running`}; locked since ${holder!.acquiredAt})`,
              drv
                ? `Wait for that run to finish, or steer it: \`rollout status ${holder!.owner}\`, \`rollout abort ${holder!.owner}\`.`
                : `Resume it (\`rollout resume ${holder!.owner}\`), abort it (\`rollout abort ${holder!.owner}\`), or pass --takeover to take its flags.`,
            );
          }
          await rm(file, { force: true });
        }
      }
    } catch (err) {
      for (const f of taken) await rm(this.lockFile('flag', f), { force: true });
      throw err;
    }
  }

  async unlockFlags(runId: string, flags: string[]): Promise<void> {
    for (const flag of flags) {
      const holder = await this.readLock('flag', flag);
      if (holder?.owner === runId) await rm(this.lockFile('flag', flag), { force: true });
    }
  }

  /**
   * The process lock on a run: one driver at a time. A dead driver on this host is replaced.
   * Judging a lock stale and replacing it runs under the store-wide mutex (as for flags): two
   * processes both removing a dead driver's lock could otherwise both win.
   */
  async lockRun(runId: string, opts: { takeover?: boolean; leaseMs: number; now: number }): Promise<() => Promise<void>> {
    await mkdir(join(this.dir, 'locks'), { recursive: true, mode: 0o700 });
    return this.withMutex(() => this.lockRunUnsafe(runId, opts));
  }

  private async lockRunUnsafe(runId: string, opts: { takeover?: boolean; leaseMs: number; now: number }): Promise<() => Promise<void>> {
    const file = this.lockFile('run', runId);
    const info: LockInfo = { owner: runId, host: hostname(), pid: process.pid, acquiredAt: new Date(opts.now).toISOString(), leaseUntil: opts.now + opts.leaseMs };
    // Release only a lock that is still ours (not one a --takeover replaced meanwhile).
    const release = async () => {
      const h = await this.readLock('run', runId);
      if (!h || (h.pid === process.pid && h.host === info.host)) await rm(file, { force: true });
    };
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await this.tryCreate(file, info)) return release;
      const h = await this.readLock('run', runId);
      if (h) {
        const sameHost = h.host === hostname();
        const alive = sameHost ? pidAlive(h.pid) : h.leaseUntil > Date.now();
        if (alive && !opts.takeover)
          throw new LockError(
            `run ${runId} is being driven by pid ${h.pid} on ${h.host} (since ${h.acquiredAt})`,
            sameHost ? 'Use `rollout pause|rollback|approve` to steer it; they reach the running process.' : 'If that process is gone, wait for its lease to expire or pass --takeover.',
          );
        if (!sameHost && !opts.takeover && h.leaseUntil > Date.now())
          throw new LockError(`run ${runId} lease held by ${h.host}`, 'Pass --takeover to take it over.');
      }
      await rm(file, { force: true });
    }
    throw new LockError(`could not lock run ${runId}`);
  }

  async renewRun(runId: string, leaseUntil: number): Promise<void> {
    const h = await this.readLock('run', runId);
    // The runner asks before every sleep: write only when the lease would gain a minute.
    if (h && h.leaseUntil >= leaseUntil - 60_000) return;
    // Replaced atomically (rename): a reader sees the old lock or the new one, never an empty
    // file it would take for a stale lock.
    if (h && h.pid === process.pid && h.host === hostname()) await (await import('write-file-atomic')).default(this.lockFile('run', runId), JSON.stringify({ ...h, leaseUntil }), { mode: 0o600, fsync: false });
  }

  /** Is some live process driving this run right now? */
  async driver(runId: string): Promise<LockInfo | undefined> {
    const h = await this.readLock('run', runId);
    if (!h) return undefined;
    if (h.host === hostname() ? pidAlive(h.pid) : h.leaseUntil > Date.now()) return h;
    return undefined;
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function stateDir(opt?: string): string {
  return opt ?? process.env.ROLLOUT_STATE_DIR ?? '.rollout';
}


