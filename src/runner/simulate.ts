/**
 * `simulate` and `plan`: the real runner and engine on a virtual clock, with an in-memory flag
 * backend and scripted metrics. Nothing is written and nothing runs; a 3-day plan takes
 * milliseconds. The default scenario is healthy: every check gets a value inside its
 * thresholds, approvals are granted at once, flags the plan requires are assumed on.
 */
import { canExclude } from '../plan/lint.js';
import { z } from 'zod';
import type { CheckReading } from '../analysis/judge.js';
import { activeChecks, blocksStep, createRun, nextWake } from '../engine/engine.js';
import type { Control, RunEvent, RunState } from '../engine/types.js';
import { openPages } from '../engine/pages.js';
import type { Check, Plan } from '../plan/model.js';
import { parseDuration } from '../util/duration.js';
import { VirtualClock } from './clock.js';
import { Runner, type RunStore } from './runner.js';
import { MemoryBackend, renderer, reader } from './services.js';
import { create as createSimulated } from '../adapters/metrics/simulated.js';
import type { MetricsProvider } from '../adapters/types.js';

const dur = z.string().refine((s) => parseDuration(s) !== null, 'not a duration (e.g. "30m", "2h")');
const series = z.union([z.number(), z.null(), z.array(z.object({ after: dur, value: z.number().nullable() }).strict())]);
export const scenarioSchema = z
  .object({
    description: z.string().optional(),
    /** Check name → value (constant) or [{after, value}] (time since start). Unlisted checks are healthy. */
    checks: z.record(z.string(), series).default({}),
    /** Check name → baseline value for relative checks (default: equal to the value). */
    baselines: z.record(z.string(), series).default({}),
    /** How gates are decided: approve at once (default), reject, or never (wait for the deadline). */
    approvals: z.enum(['approve', 'reject', 'wait']).default('approve'),
    /** State of flags outside the plan (for `requires:`). Unlisted ones are assumed fully on. */
    flags: z.record(z.string(), z.union([z.boolean(), z.number().min(0).max(100)])).default({}),
    /** Human actions during the run: [{after: "3h", kind: rollback, reason: "…"}]. */
    controls: z
      .array(
        z
          .object({
            after: dur,
            kind: z.enum(['pause', 'resume', 'rollback', 'abort', 'promote', 'ack']),
            reason: z.string().optional(),
            as: z.string().optional().describe('ack: who takes the page'),
            /** rollback: a partial rollback for this segment / ring only (`rollout rollback --segment`), `undo` brings it back. */
            segment: z.string().min(1).optional(),
            ring: z.string().min(1).optional(),
            undo: z.boolean().optional(),
          })
          .strict(),
      )
      .default([]),
    /** Commands (rollback, health check) fail in this scenario. */
    failCommands: z.boolean().default(false),
    /** Stop simulating after this much virtual time (default 90d). */
    limit: dur.optional(),
  })
  .strict();
export type Scenario = z.infer<typeof scenarioSchema>;

export interface SimulationResult {
  state: RunState;
  events: RunEvent[];
  /** When the run was created; `startedAt` is when it started (later for a scheduled start). */
  createdAt: number;
  startedAt: number;
  endedAt: number;
  /** Flag writes the run made. */
  writes: number;
  /** Check measurements taken (ticks × active checks): what skipping quiet stretches saves. */
  reads: number;
  assumed: string[];
  /** Checks the scenario says nothing about (and no simulated provider scripts): the healthy value assumed for each. */
  assumedValues: Record<string, { value: number; baseline?: number }>;
  stoppedAtLimit: boolean;
}

/** The groups a statistical check compares with control: the variants of the phases that use it, or "treatment". */
function treatmentGroups(plan: Plan, c: Check): string[] {
  const k = c.compare!;
  if (!k.splitBy) return ['treatment'];
  const names = new Set(plan.phases.filter((p) => p.checks.some((x) => x.name === c.name)).flatMap((p) => (p.variants ?? []).map((v) => v.name)));
  names.delete(k.controlValue);
  return names.size ? [...names] : ['treatment'];
}

/** A value that passes the check's thresholds. */
export function healthyValue(c: Check): number {
  if (c.relative) return 100;
  if (c.max !== undefined && c.min !== undefined) return (c.max + c.min) / 2;
  if (c.max !== undefined) return c.max >= 0 ? c.max / 2 : c.max - 1;
  if (c.min !== undefined) return c.min > 0 ? c.min * 1.001 : c.min + 1;
  return 0;
}

function valueAt(s: z.infer<typeof series> | undefined, elapsed: number): number | null | undefined {
  if (s === undefined) return undefined;
  if (!Array.isArray(s)) return s;
  let v: number | null | undefined;
  for (const p of s) if (elapsed >= parseDuration(p.after)!) v = p.value;
  return v;
}

class MemoryStore implements RunStore {
  events: RunEvent[] = [];
  inbox: Control[] = [];
  incidents: unknown[] = [];
  async save(_s: RunState, ev: RunEvent[]) {
    for (const e of ev) this.events.push(e);
  }
  async take() {
    return this.inbox.splice(0);
  }
  async writeIncident(_id: string, incident: unknown) {
    this.incidents.push(incident);
    return `(simulated incident ${this.incidents.length})`;
  }
}

export async function simulatePlan(
  plan: Plan,
  opts: {
    /** When the run is created (`rollout start` is run): the virtual clock's first instant. */
    start?: number;
    /** A scheduled start (resolved `startAt:` / `--at`, after `start`): scenario times and scripted metrics count from it. */
    startAt?: number;
    startSource?: 'plan' | 'command';
    scenario?: Scenario;
    onEvent?: (e: RunEvent, s: RunState) => void;
    /** Use the plan's `simulated` providers' scripts (default true; `plan` wants healthy). */ scripted?: boolean;
  } = {},
): Promise<SimulationResult> {
  const sc = opts.scenario ?? scenarioSchema.parse({});
  const created = opts.start ?? Date.now();
  // Everything the scenario scripts counts from the run's start, which a schedule puts later.
  const start = opts.startAt !== undefined && opts.startAt > created ? opts.startAt : created;
  const ac = new AbortController();
  const clock = new VirtualClock(created, { at: start + (sc.limit ? parseDuration(sc.limit)! : 90 * 86400_000), ac, reason: 'simulation time limit' });
  const store = new MemoryStore();
  const backend = new MemoryBackend(sc.flags, { excludes: canExclude(plan) });
  const assumed = new Set<string>();
  const assumedValues: SimulationResult['assumedValues'] = {};
  const read = backend.read.bind(backend);
  backend.read = async (flag: string) => {
    const f = await read(flag);
    if (!f.exists && !plan.flags.includes(flag)) {
      assumed.add(flag);
      return { flag, exists: true, enabled: true, percentage: 100 };
    }
    return f;
  };
  const controls = [...sc.controls].map((x) => ({ ...x, atMs: parseDuration(x.after)! })).sort((a, b) => a.atMs - b.atMs);
  // Checks on a `simulated` provider follow its own script unless the scenario overrides them.
  const scripted: Record<string, MetricsProvider> = {};
  for (const [name, spec] of Object.entries(plan.metrics))
    if (spec.type === 'simulated' && opts.scripted !== false) scripted[name] = createSimulated({ ...spec.options, origin: start }, { baseDir: plan.dir, cwd: plan.dir, log: () => undefined, env: {} });
  const fromScript = reader(scripted);
  let reads = 0;
  const readCheck = async (c: Check, now: number): Promise<CheckReading> => {
    reads++;
    const elapsed = now - start;
    if (c.compare) {
      // Healthy: treatment and control see the same values (a scenario value is the treatment's effect, in %).
      const n = Math.max(c.compare.minSamples, 30);
      const base = Array.from({ length: n }, (_, i) => 100 + ((i * 37) % 23));
      const v = valueAt(sc.checks[c.name], now - start);
      if (v === null) return { value: null, note: 'scenario: no data' };
      const f = 1 + (v ?? 0) / 100;
      const groups: Record<string, number[]> = { [c.compare.splitBy ? c.compare.controlValue : 'control']: base };
      for (const name of treatmentGroups(plan, c)) groups[name] = base.map((x) => x * f);
      return { value: null, groups, control: c.compare.splitBy ? c.compare.controlValue : 'control' };
    }
    if (scripted[c.provider] && sc.checks[c.name] === undefined) return fromScript(c, now);
    const v = valueAt(sc.checks[c.name], elapsed);
    const value = v === undefined ? healthyValue(c) : v;
    const b = c.relative ? valueAt(sc.baselines[c.name], elapsed) : undefined;
    const baseline = c.relative ? (b === undefined ? (v === undefined ? 100 : value) : b) : undefined;
    if (v === undefined && value !== null) assumedValues[c.name] = { value, ...(typeof baseline === 'number' ? { baseline } : {}) };
    if (!c.relative) return { value };
    return { value, baseline: baseline ?? null };
  };
  const events: RunEvent[] = [];
  const onEvent = (e: RunEvent, s: RunState) => {
    events.push(e);
    opts.onEvent?.(e, s);
    if ((e.type === 'approval.requested' || e.type === 'checklist.requested') && sc.approvals === 'reject') store.inbox.push({ kind: 'reject', by: 'scenario', reason: 'scenario rejects gates' });
  };
  const d = createRun(plan, `simulation-${plan.name}`, created, undefined, { startAt: opts.startAt, source: opts.startSource ?? 'plan' });
  for (const e of d.events) onEvent(e, d.state);
  const runner = new Runner(
    {
      plan,
      store,
      clock,
      backend,
      read: readCheck,
      notifiers: Object.fromEntries(Object.keys(plan.notify.targets).map((n) => [n, { name: n, send: async () => undefined }])),
      execute: true,
      runCommand: async (argv) => (sc.failCommands ? { ok: false, summary: `simulated failure of ${argv[0]}`, output: '' } : { ok: true, summary: `simulated: ${argv[0]} not run`, output: '' }),
      httpCheck: async (url) => (sc.failCommands ? { ok: false, summary: `simulated failure: GET ${url}` } : { ok: true, summary: `simulated: GET ${url} not sent` }),
      renderNotice: renderer(plan),
      onEvent,
    },
    d.state,
  );
  // Between metric changes, re-judging identical healthy values every interval decides
  // nothing: while every active check passes and the run is simply holding (or waiting for a
  // window), jump to the next instant something can change — the end of the hold, the window
  // opening, the next scripted value, the next scheduled action. Same events, far fewer ticks.
  const changePoints = [
    ...Object.values(sc.checks),
    ...Object.values(sc.baselines),
    ...Object.values(plan.metrics)
      .filter((m) => m.type === 'simulated' && opts.scripted !== false)
      .flatMap((m) => Object.values((m.options.series ?? {}) as Record<string, unknown>)),
  ]
    .flatMap((v) => (Array.isArray(v) ? v.map((p: { after?: string }) => start + (parseDuration(p.after ?? '0s') ?? 0)) : []))
    .sort((a, b) => a - b);
  const eventDriven = { ...plan, intervalMs: Number.MAX_SAFE_INTEGER / 4 };
  const quietUntil = (st: RunState, now: number, nextControl: number): number => {
    if (st.status !== 'running' || st.pending.length) return now;
    // Only a run that the last judgment left simply waiting (a hold, a closed window).
    if (!['hold', 'window', 'schedule'].includes(st.waiting?.kind ?? '')) return now;
    // The engine's own rule for "this verdict blocks a step" (no data on a noData: pass check does not).
    if (activeChecks(plan, st).some((c) => blocksStep(c, st.checks[c.name]))) return now;
    const wake = nextWake(eventDriven, st, now) ?? now;
    const change = changePoints.find((t) => t > now) ?? Infinity;
    const until = Math.min(wake, change, nextControl, clock.limitAt);
    return Number.isFinite(until) ? until : now;
  };
  // Scheduled human actions: a wrapper clock delivers them when virtual time passes them.
  const baseSleep = clock.sleep.bind(clock);
  clock.sleep = async (ms: number) => {
    const next = controls[0];
    const st = runner.state;
    // Nobody will come: a paused run (or a gate without deadline nobody decides) ends the
    // simulation — once its pages have climbed their whole chain (the escalation is on the timeline).
    if (!next && (st.status === 'paused' || (st.status === 'awaiting-approval' && st.approval?.deadline === undefined)) && !pagesClimbing(plan, st)) {
      ac.abort(`the run is ${st.status}`);
      return;
    }
    if (next && clock.t + ms >= start + next.atMs) {
      clock.t = Math.max(clock.t, start + next.atMs);
      controls.shift();
      const reason = next.reason ?? `scenario: ${next.kind} at ${next.after}`;
      store.inbox.push(
        next.kind === 'promote'
          ? { kind: 'promote', full: false, by: 'scenario' }
          : next.kind === 'resume'
            ? { kind: 'resume', by: 'scenario' }
            : next.kind === 'ack'
              ? { kind: 'ack', by: 'scenario', ...(next.as ? { as: next.as } : {}), ...(next.reason ? { note: next.reason } : {}) }
              : next.kind === 'rollback' && (next.segment || next.ring)
              ? { kind: 'exclude', cohorts: [...(next.segment ? [{ kind: 'segment' as const, name: next.segment }] : []), ...(next.ring ? [{ kind: 'ring' as const, name: next.ring }] : [])], reason, by: 'scenario', ...(next.undo ? { undo: true } : {}) }
              : ({ kind: next.kind, reason, by: 'scenario' } as Control),
      );
      return;
    }
    await baseSleep(Math.max(ms, quietUntil(st, clock.t, next ? start + next.atMs : Infinity) - clock.t));
  };
  const state = await runner.loop({
    mode: 'follow',
    pollMs: Number.POSITIVE_INFINITY,
    signal: ac.signal,
    ...(sc.approvals === 'approve' ? { autoApprove: 'simulation', autoConfirm: 'simulation' } : {}),
  });
  return { state, events, createdAt: created, startedAt: start, endedAt: clock.t, writes: backend.writes, reads, assumed: [...assumed], assumedValues, stoppedAtLimit: ac.signal.aborted && ac.signal.reason === 'simulation time limit' };
}

/** An open page that has not yet reached the end of its chain: its escalation is still to come. */
function pagesClimbing(plan: Plan, s: RunState): boolean {
  return openPages(s).some((p) => p.deadline !== undefined && p.level + 1 < (plan.notify.escalation?.[p.severity]?.chain.length ?? 0));
}
