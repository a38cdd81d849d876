/**
 * The only loop: load state → take control requests → perform pending side effects →
 * observe (metrics, flags) → let the engine decide → record. Every side effect is recorded in
 * the persisted state (pending) before it happens and its outcome after, so a run killed at
 * any point resumes where it stopped; flag writes are idempotent, so repeating the one in
 * flight is safe.
 */
import { EXCLUDE_BACKENDS } from '../adapters/flags/shared.js';
import { excludesAnyone, type FlagBackend, type FlagChange, type MetricsProvider, type Notifier } from '../adapters/types.js';
import type { CheckReading } from '../analysis/judge.js';
import { activeChecks, complete, control, flagsToRead, nextWake, tick } from '../engine/engine.js';
import { FINAL_STATUSES, type Action, type Control, type Decision, type Readings, type Outcome, type RunEvent, type RunState } from '../engine/types.js';
import type { Check, Plan } from '../plan/model.js';
import { errorMessage } from '../errors.js';
import { noticeVarsOf } from '../output/notice.js';
import { redact } from '../util/redact.js';
import { safeText } from '../util/terminal.js';
import type { Clock } from './clock.js';

export interface RunStore {
  save(state: RunState, events: RunEvent[]): Promise<void>;
  take(id: string): Promise<Control[]>;
  /** `key`: a stable name for this incident (the same action performed again rewrites it). */
  writeIncident(id: string, incident: unknown, key?: string): Promise<string>;
  /**
   * Before each side effect: throws (LeaseLostError) if this driver no longer holds the run,
   * so a driver that was paused past its lease does not write a flag the new one moved on.
   */
  checkLease?(): Promise<void>;
}

export interface Services {
  plan: Plan;
  store: RunStore;
  clock: Clock;
  backend: FlagBackend;
  /** Measure one check (real providers, or a scenario in simulations). */
  read(check: Check, now: number): Promise<CheckReading>;
  notifiers: Record<string, Notifier>;
  /** Perform commands and health checks for real? (false: simulate / dry-run). */
  execute: boolean;
  runCommand(argv: string[], opts: { env: Record<string, string>; timeoutMs: number; cwd?: string; shell: boolean }): Promise<{ ok: boolean; summary: string; output: string }>;
  httpCheck(url: string, expectStatus: number, timeoutMs: number): Promise<{ ok: boolean; summary: string }>;
  renderNotice(event: string, vars: Record<string, string | number | null>): { title: string; text: string };
  onEvent(e: RunEvent, state: RunState): void;
  /** Max flag writes in flight (rollback of many flags). */
  concurrency?: number;
}

/** Does the loop decide the gate this run waits at by itself (--yes, a simulation, a dry run)? */
function autoDecides(opts: LoopOptions, s: RunState): boolean {
  if (s.status !== 'awaiting-approval') return false;
  return s.approval?.checklist ? Boolean(opts.autoConfirm) : Boolean(opts.autoApprove);
}

export interface LoopOptions {
  /** 'follow': until the run ends or is interrupted; 'advance': do what is due now, then return. */
  mode: 'follow' | 'advance';
  signal?: AbortSignal;
  /** Longest single sleep, so control requests from other shells are seen quickly. */
  pollMs?: number;
  /** Approve every gate at once, recorded as approved by this name (--yes, simulations). */
  autoApprove?: string;
  /**
   * Tick every checklist item at once, recorded as confirmed by this name: simulations and dry
   * runs only. `--yes` does not: a checklist is a person's word on each item (docs/plan-format.md).
   */
  autoConfirm?: string;
  /**
   * On `signal`: 'pause' the run (a person pressed Ctrl-C: default), or 'release' it as it is
   * after the action in flight (a worker stopping: another worker carries on).
   */
  onAbort?: 'pause' | 'release';
}

let sideEffectPoints = 0;
/** Fault injection for crash-safety tests: ROLLOUT_CRASH_AT=N kills the process at the Nth side-effect point. */
function crashPoint(): void {
  const n = Number(process.env.ROLLOUT_CRASH_AT);
  if (!n) return;
  sideEffectPoints++;
  if (sideEffectPoints === n) process.kill(process.pid, 'SIGKILL');
}

export class Runner {
  state: RunState;
  constructor(
    private svc: Services,
    state: RunState,
  ) {
    this.state = state;
  }

  private async record(d: Decision): Promise<void> {
    this.state = d.state;
    await this.svc.store.save(d.state, d.events);
    for (const e of d.events) this.svc.onEvent(e, d.state);
  }

  async applyControl(ctl: Control): Promise<{ error?: string; hint?: string }> {
    const d = control(this.svc.plan, this.state, ctl, this.svc.clock.now());
    if (d.error) return { error: d.error, hint: d.hint };
    await this.record(d);
    return {};
  }

  async loop(opts: LoopOptions): Promise<RunState> {
    const { plan, clock } = this.svc;
    const pollMs = opts.pollMs ?? 1000;
    for (let guard = 0; guard < 10_000_000; guard++) {
      for (const ctl of await this.svc.store.take(this.state.id)) {
        const r = await this.applyControl(ctl);
        if (r.error) {
          // Recorded, so whoever asked (from another shell) reads why in the event log.
          const e = { seq: this.state.seq, at: clock.now(), type: 'control.refused', msg: r.error, data: { control: ctl.kind, ...(r.hint ? { hint: r.hint } : {}) } };
          await this.record({ state: { ...this.state, seq: this.state.seq + 1 }, events: [e] });
        }
      }
      if (autoDecides(opts, this.state) && !this.state.pending.length) {
        // A named quorum is signed for every approver still missing: --yes (and a simulation) vouch
        // for them all. A checklist is ticked only by a simulation or a dry run.
        if (this.state.approval?.checklist) await this.applyControl({ kind: 'confirm', items: [], by: opts.autoConfirm, all: true, auto: true });
        else await this.applyControl({ kind: 'approve', by: opts.autoApprove, all: true });
      }
      if (opts.signal?.aborted && opts.onAbort === 'release') return this.state;
      if (opts.signal?.aborted && !FINAL_STATUSES.includes(this.state.status) && this.state.status !== 'rolling-back') {
        if (this.state.status === 'running' || this.state.status === 'awaiting-approval')
          await this.applyControl({ kind: 'pause', reason: `interrupted (${String(opts.signal.reason ?? 'signal')})` });
        return this.state;
      }
      const action = this.state.pending[0];
      if (action) {
        await this.svc.store.checkLease?.();
        crashPoint();
        const outcome = await this.perform(action);
        crashPoint();
        await this.record(complete(plan, this.state, action.id, outcome, clock.now()));
        continue;
      }
      if (FINAL_STATUSES.includes(this.state.status)) return this.state;
      const now = clock.now();
      const wake = nextWake(plan, this.state, now);
      if (wake === undefined) return this.state;
      if (wake > now) {
        if (opts.mode === 'advance') return this.state;
        await clock.sleep(Math.min(wake - now, pollMs), opts.signal);
        if (clock.now() < wake) continue; // woke early: look at the inbox again
      }
      const obs = await this.readAll();
      await this.record(tick(plan, this.state, obs, clock.now()));
      // A tick that changed nothing and set no earlier wake: avoid spinning in advance mode.
      if (opts.mode === 'advance' && !this.state.pending.length && !autoDecides(opts, this.state) && (nextWake(plan, this.state, clock.now()) ?? Infinity) > clock.now()) return this.state;
    }
    return this.state;
  }

  async readAll(): Promise<Readings> {
    const now = this.svc.clock.now();
    const active = activeChecks(this.svc.plan, this.state);
    const checks: Record<string, CheckReading> = {};
    await Promise.all(
      active.map(async (c) => {
        checks[c.name] = await this.svc.read(c, now);
      }),
    );
    const flags: Readings['flags'] = {};
    for (const f of flagsToRead(this.svc.plan, this.state)) {
      try {
        flags[f] = await this.svc.backend.read(f);
      } catch {
        /* unknown: the engine pauses with the reason */
      }
    }
    return { checks, flags };
  }

  private async applyFlags(changes: FlagChange[], keepGoing: boolean): Promise<Outcome> {
    if (!this.svc.execute) return { ok: true, detail: `simulated: ${changes.map((c) => `${c.flag}=${c.enabled ? `${c.percentage ?? 100}%` : 'off'}`).join(', ')}` };
    const errors: string[] = [];
    // Turning many flags off (a rollback): one bulk call where the backend has one; if it
    // fails, every flag is written one by one below (writes are idempotent).
    const backend = this.svc.backend;
    if (keepGoing && backend.disableMany && changes.length > 1 && changes.every((c) => !c.enabled)) {
      try {
        await backend.disableMany(changes.map((c) => c.flag));
        return { ok: true, detail: `${changes.length} flag(s) turned off in bulk on ${backend.name}` };
      } catch (err) {
        this.svc.onEvent({ seq: 0, at: this.svc.clock.now(), type: 'bulk.failed', msg: `bulk turn-off failed, writing flags one by one: ${redact(errorMessage(err))}` }, this.state);
      }
    }
    const limit = Math.max(1, this.svc.concurrency ?? 16);
    let next = 0;
    const worker = async () => {
      while (next < changes.length) {
        const c = changes[next++]!;
        if (!keepGoing && errors.length) return;
        try {
          if (c.variants?.length && !this.svc.backend.variants)
            throw new Error(`${this.svc.backend.name} cannot split a flag into variants (the plan's phase has variants:); use a backend that can (local, unleash, flagd, launchdarkly)`);
          if (c.enabled && excludesAnyone(c.exclude) && !this.svc.backend.excludes)
            throw new Error(`${this.svc.backend.name} cannot turn a flag off for some users only (a segment/ring rollback); use a backend that can (${EXCLUDE_BACKENDS.join(', ')}, http with {{exclude}})`);
          await this.svc.backend.apply(c);
        } catch (err) {
          errors.push(`${c.flag}: ${redact(errorMessage(err))}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, changes.length) }, worker));
    if (!errors.length) return { ok: true, detail: `${changes.length} flag(s) written to ${this.svc.backend.name}` };
    // The outcome of a failed write is unknown: read back what the backend really has.
    const readBack = [];
    for (const c of changes.slice(0, 50)) {
      try {
        readBack.push(await this.svc.backend.read(c.flag));
      } catch {
        /* backend down: nothing to read */
      }
    }
    return { ok: false, detail: errors.join('; '), readBack };
  }

  private async perform(a: Action): Promise<Outcome> {
    const svc = this.svc;
    try {
      switch (a.kind) {
        case 'apply-flags':
          return await this.applyFlags(a.changes, a.purpose !== 'step');
        case 'run-command': {
          if (!svc.execute) return { ok: true, detail: `simulated: would run ${a.command.argv.join(' ')}` };
          const argv = a.command.argv.map((x) => x.replaceAll('{{phase}}', a.env.ROLLOUT_PHASE ?? '').replaceAll('{{run}}', this.state.id).replaceAll('{{plan}}', svc.plan.name));
          const r = await svc.runCommand(argv, { env: { ...a.command.env, ...a.env }, timeoutMs: a.command.timeoutMs, cwd: a.command.cwd ?? svc.plan.dir, shell: a.command.shell });
          return { ok: r.ok, detail: r.summary, output: r.output };
        }
        case 'health-check': {
          if (!svc.execute) return { ok: true, detail: 'simulated: healthy' };
          let last = { ok: false, summary: 'not run' };
          for (let i = 0; i <= a.retries; i++) {
            if (i) await svc.clock.sleep(a.intervalMs);
            if (a.command) {
              const r = await svc.runCommand(a.command.argv, { env: { ...a.command.env, ...a.env }, timeoutMs: a.command.timeoutMs, cwd: a.command.cwd ?? svc.plan.dir, shell: a.command.shell });
              last = { ok: r.ok, summary: `${a.command.argv[0]}: ${r.summary}` };
            } else if (a.http) last = await svc.httpCheck(a.http.url, a.http.expectStatus, a.timeoutMs);
            if (last.ok) break;
          }
          return { ok: last.ok, detail: `${last.summary}${last.ok ? '' : ` after ${a.retries + 1} attempt(s)`}` };
        }
        case 'notify': {
          const names = a.targets ?? svc.plan.notify.events?.[a.event] ?? (svc.plan.notify.events ? [] : Object.keys(svc.notifiers));
          if (!names.length) return { ok: true, detail: 'no targets for this event' };
          const vars = noticeVarsOf(svc.plan, a);
          // The notice's human text gets the values with control characters neutralised (a reason
          // cannot forge lines or escape sequences); `fields` keeps the originals for machines.
          const { title, text } = svc.renderNotice(a.event, Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, typeof v === 'string' ? safeText(v) : v])));
          const results = await Promise.all(
            names.map(async (n) => {
              const t = svc.notifiers[n];
              if (!t) return `${n}: unknown target`;
              try {
                await t.send({ event: a.event, severity: a.severity, title, text, fields: vars });
                return null;
              } catch (err) {
                return `${n}: ${redact(errorMessage(err))}`;
              }
            }),
          );
          const failed = results.filter(Boolean);
          return { ok: failed.length === 0, detail: failed.length ? failed.join('; ') : `sent to ${names.join(', ')}` };
        }
        case 'freeze-flags': {
          const verb = a.frozen ? 'frozen' : 'unfrozen';
          if (!svc.execute) return { ok: true, detail: `simulated: ${verb}` };
          const b = svc.backend;
          if (!b.freeze) return { ok: false, detail: `${b.name} has no freeze call` };
          const errors: string[] = [];
          for (const f of a.flags) await b.freeze(f, a.frozen).catch((err: unknown) => errors.push(`${f}: ${redact(errorMessage(err))}`));
          return errors.length ? { ok: false, detail: errors.join('; ') } : { ok: true, detail: `${a.flags.length} flag(s) ${verb} on ${b.name}` };
        }
        case 'record-incident': {
          if (!svc.execute) return { ok: true, detail: 'simulated' };
          // Named by time and run (incident-20261202T084636Z-<run>-7.json), stable across a crash and a retry of this action.
          const key = `${new Date(Date.parse(a.incident.at) || 0).toISOString().replace(/[-:]|\.\d+/g, '')}-${this.state.id}-${a.id}`;
          const file = await svc.store.writeIncident(this.state.id, { run: this.state.id, plan: svc.plan.name, ...a.incident }, key);
          return { ok: true, detail: `written to ${file}` };
        }
      }
    } catch (err) {
      return { ok: false, detail: redact(errorMessage(err)) };
    }
  }
}
