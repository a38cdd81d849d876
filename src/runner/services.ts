/**
 * Wiring: turns a plan into the Services the runner needs. Real runs load the adapters the
 * plan names (lazily, from the registry); simulations get an in-memory backend and scripted
 * metrics, with the very same runner and engine.
 */
import { excludesAnyone, type FlagBackend, type FlagChange, type FlagState, type MetricsProvider, type Notifier, type AdapterContext, type RangeSeries } from '../adapters/types.js';
import { flagBackends, metricsProviders, notifiers } from '../adapters/registry.js';
import type { CheckReading } from '../analysis/judge.js';
import type { RunEvent, RunState } from '../engine/types.js';
import { errorMessage, UsageError } from '../errors.js';
import type { AdapterSpec, Check, Plan } from '../plan/model.js';
import { redact } from '../util/redact.js';
import { renderNotice } from '../util/template.js';
import type { Clock } from './clock.js';
import type { Env } from './io.js';
import type { RunStore, Services } from './runner.js';

export interface BuildOptions {
  plan: Plan;
  store: RunStore;
  clock: Clock;
  cwd: string;
  /** The environment adapters and commands see (default: the process's). */
  env?: Env;
  log: (msg: string) => void;
  onEvent: (e: RunEvent, s: RunState) => void;
  /** Perform side effects (false: --dry-run). Reads still happen. */
  execute?: boolean;
  /** The run's start: the `simulated` provider's timeline counts from it. */
  runStartedAt?: number;
}

function ctxFor(plan: Plan, cwd: string, log: (m: string) => void, env: Env = process.env): AdapterContext {
  return { baseDir: plan.dir, cwd, log, env };
}

async function load<F>(kind: string, table: Record<string, () => Promise<{ create: F }>>, spec: AdapterSpec): Promise<F> {
  const loader = table[spec.type];
  if (!loader) throw new UsageError(`unknown ${kind} type "${spec.type}"`, { hint: `Known: ${Object.keys(table).join(', ')}.` });
  return (await loader()).create;
}

/** The plan's metrics providers only (backtest: reads history, never touches a flag backend). */
export async function createProviders(plan: Plan, cwd: string, log: (m: string) => void, names?: string[], env?: Env): Promise<Record<string, MetricsProvider>> {
  const out: Record<string, MetricsProvider> = {};
  for (const [name, spec] of Object.entries(plan.metrics)) {
    if (names && !names.includes(name)) continue;
    out[name] = (await load('metrics provider', metricsProviders, spec))(spec.options, ctxFor(plan, cwd, log, env));
  }
  return out;
}

export async function createBackend(plan: Plan, cwd: string, log: (m: string) => void, env?: Env): Promise<FlagBackend> {
  const create = await load('flag backend', flagBackends, plan.backend);
  return create(plan.backend.options, ctxFor(plan, cwd, log, env));
}

export function renderer(plan: Plan) {
  return (event: string, vars: Record<string, string | number | null>) => {
    const override = plan.notify.templates[event];
    const r = renderNotice(event, vars, override ? { text: override } : undefined);
    return { title: r.title, text: r.text };
  };
}

/** Non-null values of series, grouped by a label (or all under one name). */
function grouped(series: RangeSeries[], by: string | undefined, name: string): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const s of series) {
    const g = by ? s.labels[by] : name;
    if (g === undefined) continue;
    const list = (out[g] ??= []);
    for (const p of s.points) if (p.value !== null) list.push(p.value);
  }
  return out;
}

/** A statistical check's samples: the window's points per group, and the requests per group. */
export async function readCompare(p: MetricsProvider, c: Check, now: number): Promise<CheckReading> {
  const k = c.compare!;
  if (!p.querySeries) return { value: null, error: `${p.name} cannot give samples over a window (compare needs prometheus or datadog)` };
  const start = now - k.windowMs;
  const range = (q: string) => p.querySeries!(q, start, now, k.stepMs);
  const controlKey = k.splitBy ? k.controlValue : 'control';
  let groups: Record<string, number[]>;
  if (k.control !== undefined) {
    const [t, ctl] = await Promise.all([range(c.query), range(k.control)]);
    groups = { ...grouped(ctl, undefined, 'control'), ...grouped(t, undefined, 'treatment') };
  } else groups = grouped(await range(c.query), k.splitBy, '');
  let counts: Record<string, number> | undefined;
  if (k.requests) {
    const last = (s: RangeSeries[], by: string | undefined, name: string) => {
      const g = grouped(s, by, name);
      return Object.fromEntries(Object.entries(g).map(([n, v]) => [n, v.length ? v[v.length - 1]! : 0]));
    };
    // The newest value of the requests query per group (e.g. sum by (variant) (increase(requests_total[30m]))).
    const span = Math.max(k.stepMs, 60_000);
    if (k.requests.control !== undefined) {
      const [t, ctl] = await Promise.all([p.querySeries(k.requests.query, now - span, now, k.stepMs), p.querySeries(k.requests.control, now - span, now, k.stepMs)]);
      counts = { ...last(ctl, undefined, 'control'), ...last(t, undefined, 'treatment') };
    } else counts = last(await p.querySeries(k.requests.query, now - span, now, k.stepMs), k.splitBy, '');
  }
  return { value: null, groups, control: controlKey, ...(counts ? { counts } : {}) };
}

/** Measure one check: its query, and its baseline query for relative checks. */
export function reader(providers: Record<string, MetricsProvider>) {
  return async (c: Check, now: number): Promise<CheckReading> => {
    const p = providers[c.provider];
    if (!p) return { value: null, error: `no metrics provider "${c.provider}"` };
    try {
      if (c.compare) return await readCompare(p, c, now);
      const [main, base] = await Promise.all([
        p.query({ query: c.query, now, ...(c.forMs ? { windowMs: c.forMs } : {}) }),
        c.relative ? p.query({ query: c.relative.baseline, now, ...(c.forMs ? { windowMs: c.forMs } : {}) }) : Promise.resolve(undefined),
      ]);
      return { value: main.value, ...(base ? { baseline: base.value } : {}), ...(main.note ? { note: main.note } : {}) };
    } catch (err) {
      return { value: null, error: redact(errorMessage(err)) };
    }
  };
}

export async function buildServices(o: BuildOptions): Promise<Services & { close(): Promise<void> }> {
  const { plan, cwd, log } = o;
  const ctx = ctxFor(plan, cwd, log, o.env);
  const backend = await createBackend(plan, cwd, log, o.env);
  const providers: Record<string, MetricsProvider> = {};
  for (const [name, spec] of Object.entries(plan.metrics)) {
    const options = spec.type === 'simulated' && o.runStartedAt !== undefined && spec.options.origin === undefined ? { ...spec.options, origin: o.runStartedAt } : spec.options;
    providers[name] = (await load('metrics provider', metricsProviders, spec))(options, ctx);
  }
  const targets: Record<string, Notifier> = {};
  for (const [name, spec] of Object.entries(plan.notify.targets)) targets[name] = (await load('notifier', notifiers, spec))(spec.options, ctx);
  const { runCommand } = await import('../util/exec.js');
  return {
    plan,
    store: o.store,
    clock: o.clock,
    backend,
    read: reader(providers),
    notifiers: targets,
    execute: o.execute ?? true,
    concurrency: 16,
    async runCommand(argv, opts) {
      const r = await runCommand({ argv, env: o.env ? { ...o.env, ...opts.env } : opts.env, timeoutMs: opts.timeoutMs, cwd: opts.cwd, shell: opts.shell });
      return { ok: r.ok, summary: r.summary, output: [r.stdout, r.stderr].filter(Boolean).join('\n') };
    },
    async httpCheck(url, expectStatus, timeoutMs) {
      const { http } = await import('../util/http.js');
      try {
        const r = await http({ backend: 'health check', method: 'GET', url, timeoutMs, retryBudgetMs: 0, okStatuses: [expectStatus] });
        return { ok: r.status === expectStatus, summary: `GET ${url}: HTTP ${r.status}` };
      } catch (err) {
        return { ok: false, summary: redact(errorMessage(err)) };
      }
    },
    renderNotice: renderer(plan),
    onEvent: o.onEvent,
    async close() {
      await Promise.allSettled([backend.close?.(), ...Object.values(providers).map((p) => p.close?.())]);
    },
  };
}

/** An in-memory flag backend for simulations: remembers what was applied. */
export class MemoryBackend implements FlagBackend {
  readonly name = 'simulation';
  readonly variants = true;
  /** Whether a partial rollback for some users can be written: as the plan's real backend (a simulation must not succeed where the run would fail). */
  readonly excludes: boolean;
  readonly flags = new Map<string, FlagState>();
  writes = 0;
  constructor(external: Record<string, number | boolean> = {}, opts: { excludes?: boolean } = {}) {
    this.excludes = opts.excludes ?? true;
    for (const [flag, v] of Object.entries(external)) {
      const pct = v === true ? 100 : v === false ? 0 : v;
      this.flags.set(flag, { flag, exists: true, enabled: pct > 0, percentage: pct });
    }
  }
  /** Frozen flags refuse percentage changes (turning off is allowed), as seed 004's API does. */
  readonly frozen = new Set<string>();
  async apply(c: FlagChange): Promise<void> {
    const cur = this.flags.get(c.flag);
    if (this.frozen.has(c.flag) && c.enabled && cur && (c.percentage ?? 100) !== cur.percentage) throw new Error(`flag ${c.flag} is frozen`);
    this.writes++;
    const exclude = c.exclude ?? cur?.exclude;
    this.flags.set(c.flag, { flag: c.flag, exists: true, enabled: c.enabled, percentage: c.enabled ? (c.percentage ?? 100) : 0, ...(c.rings ? { rings: c.rings } : {}), ...(excludesAnyone(exclude) ? { exclude } : {}) });
  }
  async read(flag: string): Promise<FlagState> {
    return this.flags.get(flag) ?? { flag, exists: false, enabled: false, percentage: 0 };
  }
  async freeze(flag: string, frozen: boolean): Promise<void> {
    if (frozen) this.frozen.add(flag);
    else this.frozen.delete(flag);
  }
}
