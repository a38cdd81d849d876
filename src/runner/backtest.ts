/**
 * Backtest: replay a plan's checks over real history through the same engine (`tick`) on a
 * virtual clock, read-only. History comes from each provider's querySeries (Prometheus
 * query_range split at 11,000 points per series; Datadog's timeseries query), fetched once per
 * query for the whole range, then served tick by tick as the live provider would have answered.
 *
 * The run is held at its first step for the whole range (it never advances), so every check is
 * judged every interval exactly as during a hold. When the engine decides to pause or roll
 * back, that decision is recorded and the run is put back to holding — nothing is performed:
 * no flag backend is created, no command runs, no notice is sent. A check acts once per breach
 * streak (the engine's own rule), so each incident is reported once.
 *
 * History can tune thresholds and noise; it cannot show the feature's effect: the feature was
 * not on while that history was recorded.
 */
import type { CheckReading } from '../analysis/judge.js';
import { createRun, tick } from '../engine/engine.js';
import type { RunEvent, RunState } from '../engine/types.js';
import type { MetricsProvider, RangeSeries } from '../adapters/types.js';
import type { Check, Plan } from '../plan/model.js';
import { reduceValues } from '../adapters/metrics/prometheus.js';

export const HISTORY_CAVEAT = "History tunes thresholds and noise; it cannot show the feature's effect (the feature was not on while it was recorded).";

export interface BacktestOptions {
  from: number;
  to: number;
  /** Called for every engine event (progress, --events). */
  onEvent?: (e: RunEvent) => void;
}

export interface Stretch {
  from: number;
  to: number;
}

export interface CheckReport {
  name: string;
  provider: string;
  threshold: string;
  action: string;
  tier: string;
  /** Judgments made (one per interval). */
  judged: number;
  /** Where the check would have breached: when the breach started (the value first failed), when the engine acted, and the worst value. */
  breaches: Array<{ failingFrom: number; actedAt: number; until: number | null; action: string; worst: number | null; reason: string }>;
  /** The closest passing values came to the threshold (up to 3, separate stretches). */
  closest: Array<{ at: number; value: number; margin: number }>;
  /** Judgments with no data (and inconclusive ones), and their stretches. */
  noData: { windows: number; stretches: Stretch[] };
  /** A threshold the healthy history supports, with how it was derived. */
  suggested: { max?: number; min?: number; maxIncrease?: number; maxDecrease?: number; basis: string } | null;
  /** Downsampled [time, value, baseline] for charts. */
  points: Array<[number, number | null, number | null]>;
}

export interface BacktestResult {
  plan: string;
  from: number;
  to: number;
  intervalMs: number;
  caveat: string;
  /** What the engine decided, in time order: breaches, pauses and rollbacks (never performed). */
  decisions: Array<{ at: number; kind: 'breach' | 'pause' | 'rollback'; check?: string; cause?: 'breach' | 'no-data'; msg: string }>;
  checks: CheckReport[];
  /** The engine's events, for --events and the report. */
  events: RunEvent[];
  state: RunState;
  queries: number;
}

/** Every check of the plan once (by name, first definition wins). */
export function planChecks(plan: Plan): Check[] {
  const out = new Map<string, Check>();
  for (const p of plan.phases) for (const c of p.checks) if (!out.has(c.name)) out.set(c.name, c);
  return [...out.values()];
}

interface History {
  series: RangeSeries[];
}

/** The latest point of each series at or before t (within stalenessMs), reduced with `aggregate`. */
export function valueAt(h: History, t: number, stalenessMs: number, aggregate: string): number | null {
  const vals: number[] = [];
  for (const s of h.series) {
    const pts = s.points;
    // Binary search: last point with at <= t.
    let lo = 0;
    let hi = pts.length - 1;
    let idx = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (pts[mid]!.at <= t) {
        idx = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    const p = idx >= 0 ? pts[idx]! : undefined;
    if (p && p.value !== null && t - p.at <= stalenessMs) vals.push(p.value);
  }
  if (!vals.length) return null;
  if (vals.length === 1) return vals[0]!;
  return reduceValues(vals, (aggregate === 'error' ? 'max' : aggregate) as 'max' | 'min' | 'sum' | 'avg');
}

/** Values of every series within (t − windowMs, t], grouped by a label (or under one name). */
function windowGroups(h: History, t: number, windowMs: number, by: string | undefined, name: string): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const s of h.series) {
    const g = by ? s.labels[by] : name;
    if (g === undefined) continue;
    const list = (out[g] ??= []);
    for (const p of s.points) if (p.at > t - windowMs && p.at <= t && p.value !== null) list.push(p.value);
  }
  return out;
}

function quantile(sorted: number[], q: number): number {
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (i - lo);
}

const nice = (x: number): number => {
  if (x === 0 || !Number.isFinite(x)) return x;
  const p = 10 ** (Math.floor(Math.log10(Math.abs(x))) - 1);
  return Math.round(x / p) * p;
};

function suggest(c: Check, healthy: Array<{ v: number; b: number | null }>): CheckReport['suggested'] {
  if (c.compare || healthy.length < 10) return null;
  const basis = `${healthy.length} healthy judgments`;
  if (c.relative) {
    const ratios = healthy.filter((h) => h.b !== null && h.b !== 0).map((h) => (h.v - h.b!) / Math.abs(h.b!)).sort((a, b) => a - b);
    if (ratios.length < 10) return null;
    const out: NonNullable<CheckReport['suggested']> = { basis: `p99.9 / p0.1 of the drift from baseline over ${ratios.length} healthy judgments, plus 5 points` };
    if (c.relative.maxIncrease !== undefined) out.maxIncrease = nice(Math.max(0, quantile(ratios, 0.999)) + 0.05);
    if (c.relative.maxDecrease !== undefined) out.maxDecrease = nice(Math.min(1, Math.max(0, -quantile(ratios, 0.001)) + 0.05));
    return out;
  }
  const vals = healthy.map((h) => h.v).sort((a, b) => a - b);
  const out: NonNullable<CheckReport['suggested']> = { basis: `p99.9 (max) / p0.1 (min) of ${basis}, plus 10 % of the range seen` };
  const spread = vals[vals.length - 1]! - vals[0]!;
  if (c.max !== undefined) out.max = nice(quantile(vals, 0.999) + 0.1 * Math.max(spread, Math.abs(quantile(vals, 0.999)) * 0.1));
  if (c.min !== undefined) out.min = nice(quantile(vals, 0.001) - 0.1 * Math.max(spread, Math.abs(quantile(vals, 0.001)) * 0.1));
  return out;
}

/** How far a passing value is from the check's threshold, as a share of it (0 = at the threshold). */
function margin(c: Check, v: number, b: number | null): number | null {
  const ms: number[] = [];
  if (c.max !== undefined) ms.push((c.max - v) / (Math.abs(c.max) || 1));
  if (c.min !== undefined) ms.push((v - c.min) / (Math.abs(c.min) || 1));
  if (c.relative && b !== null && b !== 0) {
    const drift = (v - b) / Math.abs(b);
    if (c.relative.maxIncrease !== undefined) ms.push((c.relative.maxIncrease - drift) / (c.relative.maxIncrease || 1));
    if (c.relative.maxDecrease !== undefined) ms.push((drift + c.relative.maxDecrease) / (c.relative.maxDecrease || 1));
  }
  return ms.length ? Math.min(...ms) : null;
}

/** A plan whose single phase holds forever with every check of the original: nothing advances. */
function holdingPlan(plan: Plan, checks: Check[]): Plan {
  const p0 = plan.phases[0]!;
  return {
    ...plan,
    windows: undefined,
    notify: { ...plan.notify, targets: {}, reports: undefined },
    phases: [{ ...p0, name: 'backtest', checks, requires: [], steps: [{ percent: p0.steps[0]?.percent ?? 1, set: {}, holdMs: Number.MAX_SAFE_INTEGER / 4 }] }],
  };
}

const FAR = 4e15; // year ~128,000: far enough, and still a valid Date after any extension

function holding(s: RunState, now: number): RunState {
  return { ...s, status: 'running', pending: [], rollback: undefined, reason: undefined, approval: undefined, frozen: undefined, holdUntil: FAR, holdLeftMs: undefined, holdSeenAt: undefined, phase: 0, step: 0, stepAppliedAt: s.stepAppliedAt ?? now } as RunState;
}

export async function backtest(plan: Plan, providers: Record<string, MetricsProvider>, opts: BacktestOptions): Promise<BacktestResult> {
  const checks = planChecks(plan);
  const interval = plan.intervalMs;
  // Ticks on the interval grid, so a range query at the same step evaluates exactly at them.
  const first = Math.ceil(opts.from / interval) * interval;
  const last = Math.floor(opts.to / interval) * interval;
  if (!(last >= first)) throw new RangeError('backtest: --from must be before --to by at least one interval');

  // Fetch every query's history once.
  let queries = 0;
  const histories = new Map<string, History>();
  const fetch = async (c: Check, query: string, lookbackMs: number, stepMs: number): Promise<void> => {
    const key = `${c.provider}\u0000${query}\u0000${lookbackMs}\u0000${stepMs}`;
    if (histories.has(key)) return;
    const p = providers[c.provider]!;
    queries++;
    histories.set(key, { series: await p.querySeries!(query, first - lookbackMs, last, stepMs) });
  };
  const hist = (c: Check, query: string, lookbackMs: number, stepMs: number) => histories.get(`${c.provider}\u0000${query}\u0000${lookbackMs}\u0000${stepMs}`)!;
  const jobs: Array<() => Promise<void>> = [];
  for (const c of checks) {
    const p = providers[c.provider];
    if (!p?.querySeries) throw new RangeError(`check "${c.name}": its provider "${c.provider}" (${p?.name ?? 'not defined'}) cannot return history; backtest needs prometheus or datadog`);
    if (c.compare) {
      const k = c.compare;
      jobs.push(() => fetch(c, c.query, k.windowMs, k.stepMs));
      if (k.control !== undefined) jobs.push(() => fetch(c, k.control!, k.windowMs, k.stepMs));
    } else {
      jobs.push(() => fetch(c, c.query, 0, interval));
      if (c.relative) jobs.push(() => fetch(c, c.relative!.baseline, 0, interval));
    }
  }
  // Two queries at a time: the server is someone's production Prometheus.
  for (let i = 0; i < jobs.length; i += 2) await Promise.all(jobs.slice(i, i + 2).map((j) => j()));

  const optsOf = (c: Check) => plan.metrics[c.provider]?.options ?? {};
  // Prometheus evaluates the query at every step of the grid the ticks are on (its own lookback
  // already applied): the value at t is the point at t, or none. Datadog's query takes the
  // newest point of its window.
  const staleness = (c: Check) => (plan.metrics[c.provider]?.type === 'prometheus' ? 0 : Number(optsOf(c).windowMs ?? 5 * 60_000));
  const aggregate = (c: Check) => String(optsOf(c).aggregate ?? 'max');
  const observe = (c: Check, t: number): CheckReading => {
    if (c.compare) {
      const k = c.compare;
      const controlKey = k.splitBy ? k.controlValue : 'control';
      const groups =
        k.control !== undefined
          ? { ...windowGroups(hist(c, k.control, k.windowMs, k.stepMs), t, k.windowMs, undefined, 'control'), ...windowGroups(hist(c, c.query, k.windowMs, k.stepMs), t, k.windowMs, undefined, 'treatment') }
          : windowGroups(hist(c, c.query, k.windowMs, k.stepMs), t, k.windowMs, k.splitBy, '');
      return { value: null, groups, control: controlKey };
    }
    const value = valueAt(hist(c, c.query, 0, interval), t, staleness(c), aggregate(c));
    if (!c.relative) return { value };
    return { value, baseline: valueAt(hist(c, c.relative.baseline, 0, interval), t, staleness(c), aggregate(c)) };
  };

  // Replay through the engine.
  const hp = holdingPlan(plan, checks);
  const events: RunEvent[] = [];
  const emit = (e: RunEvent) => {
    events.push(e);
    opts.onEvent?.(e);
  };
  let d = createRun(hp, `backtest-${plan.name}`, first);
  d.events.forEach(emit);
  let state = holding(d.state, first);
  const decisions: BacktestResult['decisions'] = [];
  const reports = new Map<string, CheckReport & { healthy: Array<{ v: number; b: number | null }>; passing: Array<{ at: number; value: number; margin: number }>; open?: CheckReport['breaches'][number]; worstSign: number }>();
  for (const c of checks) {
    const { describeThreshold } = await import('../analysis/judge.js');
    reports.set(c.name, {
      name: c.name,
      provider: c.provider,
      threshold: describeThreshold(c),
      action: c.action,
      tier: c.tier,
      judged: 0,
      breaches: [],
      closest: [],
      noData: { windows: 0, stretches: [] },
      suggested: null,
      points: [],
      healthy: [],
      passing: [],
      worstSign: c.compare?.direction === 'lower-is-bad' || (c.min !== undefined && c.max === undefined) ? -1 : 1,
    });
  }
  const total = Math.round((last - first) / interval) + 1;
  const every = Math.max(1, Math.ceil(total / 2000));
  for (let k = 0, t = first; t <= last; k++, t += interval) {
    const read: Record<string, CheckReading> = {};
    for (const c of checks) read[c.name] = observe(c, t);
    const acted = new Set(Object.entries(state.checks).filter(([, r]) => (r as { actedOn?: boolean }).actedOn).map(([n]) => n));
    d = tick(hp, state, { checks: read }, t);
    // The check that acted on this tick (its record turned actedOn): whose pause or rollback it is.
    const actor = Object.entries(d.state.checks).find(([n, r]) => (r as { actedOn?: boolean }).actedOn && !acted.has(n));
    const by = actor ? { check: actor[0], cause: actor[1].breached ? ('breach' as const) : ('no-data' as const) } : {};
    for (const e of d.events) {
      emit(e);
      const check = (e.data as { check?: string } | undefined)?.check;
      if (e.type === 'breach.detected') decisions.push({ at: t, kind: 'breach', ...(check ? { check } : {}), msg: e.msg });
      else if (e.type === 'run.paused') decisions.push({ at: t, kind: 'pause', ...by, msg: e.msg });
      else if (e.type === 'rollback.started') decisions.push({ at: t, kind: 'rollback', ...by, msg: e.msg });
    }
    for (const c of checks) {
      const r = reports.get(c.name)!;
      const rec = d.state.checks[c.name];
      r.judged++;
      const obs = read[c.name]!;
      if (k % every === 0) r.points.push([t, rec?.value ?? null, obs.baseline ?? null]);
      if (!rec) continue;
      if (rec.verdict === 'no-data') {
        r.noData.windows++;
        const lastStretch = r.noData.stretches.at(-1);
        if (lastStretch && lastStretch.to === t - interval) lastStretch.to = t;
        else r.noData.stretches.push({ from: t, to: t });
      }
      if (rec.breached && (!r.open || r.open.until !== null)) {
        const acted = d.events.some((e) => e.type === 'breach.detected' && (e.data as { check?: string }).check === c.name);
        if (acted) {
          r.open = { failingFrom: rec.failingSince ?? t, actedAt: t, until: null, action: c.action, worst: rec.value, reason: rec.reason };
          r.breaches.push(r.open);
        }
      }
      if (r.open && r.open.until === null) {
        if (rec.verdict === 'fail') {
          if (rec.value !== null && (r.open.worst === null || rec.value * r.worstSign > r.open.worst * r.worstSign)) r.open.worst = rec.value;
        } else r.open.until = t;
      }
      if (rec.verdict === 'pass' && rec.value !== null) {
        const b = obs.baseline ?? null;
        r.healthy.push({ v: rec.value, b });
        const m = margin(c, rec.value, b);
        if (m !== null) r.passing.push({ at: t, value: rec.value, margin: m });
      }
    }
    // Whatever the engine decided (pause, rollback), nothing is performed: back to holding.
    state = d.state.status === 'running' && !d.state.pending.length ? d.state : holding(d.state, t);
  }

  const out: CheckReport[] = [];
  for (const c of checks) {
    const { healthy, passing, open: _open, worstSign: _w, ...r } = reports.get(c.name)!;
    // Closest approaches: the smallest margins, at least an hour (or 10 intervals) apart.
    const gap = Math.max(3_600_000, 10 * interval);
    for (const p of [...passing].sort((a, b) => a.margin - b.margin)) {
      if (r.closest.length >= 3) break;
      if (r.closest.every((q) => Math.abs(q.at - p.at) >= gap)) r.closest.push({ ...p, margin: Math.round(p.margin * 10000) / 10000 });
    }
    r.suggested = suggest(c, healthy);
    out.push(r);
  }
  return { plan: plan.name, from: first, to: last, intervalMs: interval, caveat: HISTORY_CAVEAT, decisions, checks: out, events, state: d.state, queries };
}
