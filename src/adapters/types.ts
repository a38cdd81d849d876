/**
 * The narrow interfaces every adapter implements. Adapters only *do* (write a flag, fetch a
 * number, post a message); deciding what a number means happens in src/analysis, and what to
 * do next in src/engine.
 */

/** What a flag should look like after a step. Percentages are 0..100 (decimals allowed). */
export interface FlagChange {
  flag: string;
  /** false = off for everybody (percentage is then irrelevant). */
  enabled: boolean;
  /** Share of users enabled, 0..100. Default 100 when enabled. */
  percentage?: number;
  /** Ring name → percentage inside that ring (seed 004: internal/beta/ga). */
  rings?: Record<string, number>;
  /** Allowlisted user ids that always get the flag while it is enabled. */
  users?: string[];
  /** Allowlisted segments (backend-specific names) that always get the flag. */
  segments?: string[];
  /** Stickiness key (Unleash: "default", "userId", "sessionId"). */
  stickiness?: string;
  /**
   * An experiment: users who get the flag are split into these named variants by percent
   * (summing to 100), with Unleash's variant hashing (src/util/variants.ts).
   */
  variants?: Array<{ name: string; percent: number }>;
  /**
   * Cohorts rolled back (a partial rollback for some users, seed 002): the flag is off for the
   * callers in these segments / rings whatever the percentage, allowlists or ring shares say;
   * everybody else keeps what the rest of the change gives them. Absent: the backend's
   * exclusions stay as they are; `{segments: [], rings: []}` lifts them all. Only backends with
   * `excludes: true` honour it; the others refuse a change that excludes anyone.
   */
  exclude?: Exclusion;
}

/** Who a flag is turned off for while the rest keep their percentage: segment and ring names. */
export interface Exclusion {
  segments?: string[];
  rings?: string[];
}

/** True when the exclusion excludes somebody. */
export const excludesAnyone = (x: Exclusion | undefined): boolean => Boolean(x?.segments?.length || x?.rings?.length);

/** What a backend reports for a flag. `exists: false` when the backend has no such flag. */
export interface FlagState {
  flag: string;
  exists: boolean;
  enabled: boolean;
  percentage: number;
  rings?: Record<string, number>;
  users?: string[];
  segments?: string[];
  /** Variant weights as the backend holds them (integer shares of 1000), when it has variants. */
  variants?: Array<{ name: string; weight: number }>;
  /** Cohorts the flag is off for (backends that can say; see FlagChange.exclude). */
  exclude?: Exclusion;
}

export interface FlagBackend {
  /** Name used in messages and errors, e.g. "unleash (http://127.0.0.1:4242)". Never a secret. */
  readonly name: string;
  /** Make the flag look like `change`. Must be idempotent: applying twice = applying once. */
  apply(change: FlagChange): Promise<void>;
  /** Read the flag back as the backend sees it. */
  read(flag: string): Promise<FlagState>;
  /**
   * Optional: turn all these flags off in as few calls as the backend allows (a rollback of
   * hundreds of flags). Idempotent. On failure the runner falls back to apply() per flag.
   */
  disableMany?(flags: string[]): Promise<void>;
  /**
   * Optional: freeze a flag at its current percentage (`frozen: true`) or release it (seed 004's
   * `POST /feature-flags/freeze/{flag}`), called when a breach pauses a run whose check says
   * `freeze: true`. Idempotent.
   */
  freeze?(flag: string, frozen: boolean): Promise<void>;
  /** Optional: release connections. */
  close?(): Promise<void>;
  /** True when apply() honours FlagChange.variants; other backends refuse a change with variants. */
  readonly variants?: boolean;
  /** True when apply() honours FlagChange.exclude (turn the flag off for some segments/rings). */
  readonly excludes?: boolean;
}

/**
 * One measurement. `value: null` means the provider answered but had no data (empty vector,
 * NaN, ±Inf, stale): no-data is never zero.
 */
export interface Reading {
  value: number | null;
  /** Epoch ms the value refers to (provider's timestamp where it gives one). */
  at: number;
  /** Why value is null, or notes such as "3 series, took max". */
  note?: string;
}

export interface MetricQuery {
  query: string;
  /** The clock's "now", epoch ms (virtual in simulations). */
  now: number;
  /** For window-aware providers: the check's `for:` window in ms, if any. */
  windowMs?: number;
}

/** One series of a range query. `value` is null for NaN / ±Inf / missing points. */
export interface RangeSeries {
  labels: Record<string, string>;
  points: Array<{ at: number; value: number | null }>;
}

export interface MetricsProvider {
  readonly name: string;
  /** Throws BackendError when the provider is down or refuses; returns value:null for no data. */
  query(q: MetricQuery): Promise<Reading>;
  /**
   * Optional: every series' points over [startMs, endMs] at stepMs (statistical checks take
   * their samples from it; backtests replay history with it). Long ranges are split into as
   * many calls as the provider's limits need.
   */
  querySeries?(query: string, startMs: number, endMs: number, stepMs: number): Promise<RangeSeries[]>;
  close?(): Promise<void>;
}

export interface Notice {
  /** Event that caused it: run.started, step.applied, run.completed, rollback.started … */
  event: string;
  severity: 'info' | 'warning' | 'critical';
  title: string;
  /** Rendered message text (templates already applied). */
  text: string;
  /** Structured fields (run id, plan, phase, percentage …) for JSON webhooks. */
  fields: Record<string, string | number | boolean | null>;
}

export interface Notifier {
  readonly name: string;
  send(notice: Notice): Promise<void>;
}

/** What every adapter factory receives besides its own options. */
export interface AdapterContext {
  /** Directory relative paths in options resolve against (the plan's directory). */
  baseDir: string;
  /** Working directory (where .rollout/ lives). */
  cwd: string;
  /** Log a line for the user (goes to stderr / the event log); never pass secrets. */
  log: (msg: string) => void;
  /** Environment variables passed to commands (already includes process.env). */
  env: NodeJS.ProcessEnv;
}

export type FlagBackendFactory = (options: Record<string, unknown>, ctx: AdapterContext) => FlagBackend;
export type MetricsProviderFactory = (options: Record<string, unknown>, ctx: AdapterContext) => MetricsProvider;
export type NotifierFactory = (options: Record<string, unknown>, ctx: AdapterContext) => Notifier;
