/**
 * Judging one check: the only place that decides what a number means. Pure.
 * pass     — within thresholds
 * fail     — outside thresholds now; `breached` once it has been outside for the check's `for:`
 * no-data  — nothing to judge (empty result, NaN, provider down): never treated as zero
 */
import type { Check } from '../plan/model.js';
import { formatDuration } from '../util/duration.js';
import { compareSamples, describeComparison, type Comparison } from './stats.js';

export interface CheckReading {
  value: number | null;
  baseline?: number | null;
  /** Statistical checks: the window's samples per group (variant name → values). */
  groups?: Record<string, number[]>;
  /** Which group is the control. */
  control?: string;
  /** Requests (or users) per group, from the check's requests query. */
  counts?: Record<string, number>;
  /** The provider failed (down, refused): treated as no data, with the reason kept. */
  error?: string;
  note?: string;
}

export interface CheckRecord {
  verdict: 'pass' | 'fail' | 'no-data';
  /** A sustained failure: the check's tier/action applies. */
  breached: boolean;
  value: number | null;
  baseline?: number | null;
  reason: string;
  at: number;
  /** When the current failing streak started (for `for:`). */
  failingSince?: number;
  /** When the current no-data streak started (for noDataTimeout). */
  noDataSince?: number;
  /** Statistical checks: not enough samples or evidence (recorded as no-data: never advances, follows noData). */
  inconclusive?: boolean;
  /** Statistical checks: every variant's verdict with its inputs. */
  stats?: VariantVerdict[];
}

/** One treatment group against control: the verdict and everything it was decided on. */
export interface VariantVerdict {
  variant: string;
  verdict: Comparison['verdict'];
  test: Comparison['test'];
  nControl: number;
  nTreatment: number;
  /** Relative effect vs control (0.12 = +12 %) and its interval at `confidence`. */
  effect: { estimate: number | null; low: number | null; high: number | null };
  /** p-value (mann-whitney) or always-valid p-value (sequential); null before enough samples. */
  p: number | null;
  alpha: number;
  confidence: number;
  tolerance: number;
  lambda?: number;
  bound?: number;
  requests?: { control: number; treatment: number; min: number };
  why: string;
}

/** "; failing for 2m", or nothing when it has only just started failing (no "failing for 0ms"). */
const failingFor = (ms: number) => (ms >= 1000 ? `; failing for ${formatDuration(ms)}` : '');

const thresholdText = new WeakMap<Check, string>();

/** "≤ 5% (breach after sustained 2m)". Memoized per check: it is asked for on every tick. */
export function describeThreshold(c: Check): string {
  let t = thresholdText.get(c);
  if (t === undefined) thresholdText.set(c, (t = thresholdOf(c)));
  return t;
}

function thresholdOf(c: Check): string {
  if (c.compare) {
    const k = c.compare;
    return `vs control: ${k.test === 'sequential' ? 'sequential test' : 'Mann-Whitney U'}, ${round(k.confidence * 100)}% confidence, regression > ${round(k.tolerance * 100)}% (${k.direction.replace(/-/g, ' ')}), ≥ ${k.minSamples} samples${k.requests ? ` and ${k.requests.min} requests` : ''} per side${c.forMs ? ` (breach after sustained ${formatDuration(c.forMs)})` : ''}`;
  }
  const parts: string[] = [];
  if (c.max !== undefined) parts.push(`≤ ${c.max}${c.unit}`);
  if (c.min !== undefined) parts.push(`≥ ${c.min}${c.unit}`);
  if (c.relative?.maxIncrease !== undefined) parts.push(`≤ baseline +${round(c.relative.maxIncrease * 100)}%`);
  if (c.relative?.maxDecrease !== undefined) parts.push(`≥ baseline −${round(c.relative.maxDecrease * 100)}%`);
  return parts.join(', ') + (c.forMs ? ` (breach after sustained ${formatDuration(c.forMs)})` : '');
}

const round = (n: number) => Math.round(n * 1000) / 1000;

function violation(c: Check, v: number, baseline: number | null | undefined): string | null | 'no-baseline' {
  if (c.max !== undefined && v > c.max) return `${round(v)}${c.unit} > max ${c.max}${c.unit}`;
  if (c.min !== undefined && v < c.min) return `${round(v)}${c.unit} < min ${c.min}${c.unit}`;
  if (c.relative) {
    if (baseline === null || baseline === undefined || !Number.isFinite(baseline)) return 'no-baseline';
    const { maxIncrease, maxDecrease } = c.relative;
    // Allowed drift is a share of the baseline's magnitude, so a negative baseline (a delta, a
    // balance) widens the band the same way a positive one does.
    const mag = Math.abs(baseline);
    if (maxIncrease !== undefined && v > baseline + mag * maxIncrease)
      return `${round(v)}${c.unit} is more than ${round(maxIncrease * 100)}% above baseline ${round(baseline)}${c.unit}`;
    if (maxDecrease !== undefined && v < baseline - mag * maxDecrease)
      return `${round(v)}${c.unit} is more than ${round(maxDecrease * 100)}% below baseline ${round(baseline)}${c.unit}`;
  }
  return null;
}

const sig = (x: number): number | null => (Number.isFinite(x) ? Number(x.toPrecision(6)) : null);

function variantVerdict(variant: string, cmp: Comparison): VariantVerdict {
  return {
    variant,
    verdict: cmp.verdict,
    test: cmp.test,
    nControl: cmp.nControl,
    nTreatment: cmp.nTreatment,
    effect: { estimate: sig(cmp.effect.estimate), low: sig(cmp.effect.low), high: sig(cmp.effect.high) },
    p: sig(cmp.p),
    alpha: cmp.alpha,
    confidence: cmp.confidence,
    tolerance: cmp.tolerance,
    ...(cmp.lambda !== undefined ? { lambda: sig(cmp.lambda) ?? Number.MAX_VALUE } : {}),
    ...(cmp.bound !== undefined ? { bound: cmp.bound } : {}),
    why: cmp.why,
  };
}

/**
 * A statistical check: every treatment group against the control. The worst verdict counts
 * (fail > inconclusive > pass); inconclusive is recorded as no-data, so it never advances and
 * follows the check's noData policy.
 */
function judgeCompare(c: Check, obs: CheckReading, prev: CheckRecord | undefined, now: number, noData: (reason: string) => CheckRecord): CheckRecord {
  const k = c.compare!;
  const groups = obs.groups ?? {};
  const controlKey = obs.control ?? k.controlValue;
  const control = groups[controlKey];
  if (!control?.length) return noData(obs.note ?? `no samples for the control (${controlKey}) in the window`);
  const treatments = Object.keys(groups).filter((g) => g !== controlKey);
  if (!treatments.length || treatments.every((g) => !groups[g]!.length)) return noData(obs.note ?? 'no samples for the treatment in the window');
  const stats = treatments.map((g) => {
    const v = variantVerdict(g, compareSamples(control, groups[g]!, { test: k.test, confidence: k.confidence, tolerance: k.tolerance, direction: k.direction, minSamples: k.minSamples }));
    if (k.requests && obs.counts) {
      const rc = obs.counts[controlKey] ?? 0;
      const rt = obs.counts[g] ?? 0;
      v.requests = { control: rc, treatment: rt, min: k.requests.min };
      if ((rc < k.requests.min || rt < k.requests.min) && v.verdict !== 'fail') {
        v.verdict = 'inconclusive';
        v.why = `not enough requests: control ${rc}, treatment ${rt}, need ${k.requests.min} each`;
      }
    }
    return v;
  });
  const rank = { fail: 2, inconclusive: 1, pass: 0 } as const;
  const worst = stats.reduce((a, b) => (rank[b.verdict] > rank[a.verdict] ? b : a));
  const words = stats.map((v) =>
    describeComparison(treatments.length > 1 || v.variant !== 'treatment' ? `${c.name} ${v.variant}` : c.name, { ...v, effect: { estimate: v.effect.estimate ?? NaN, low: v.effect.low ?? NaN, high: v.effect.high ?? NaN } }, controlKey),
  );
  const reason = words.join('; ');
  const value = worst.effect.estimate === null ? null : round(worst.effect.estimate * 100);
  if (worst.verdict === 'inconclusive') return { ...noData(reason), value, inconclusive: true, stats };
  if (worst.verdict === 'pass') return { verdict: 'pass', breached: false, value, reason, at: now, stats };
  const failingSince = prev?.verdict === 'fail' ? (prev.failingSince ?? now) : now;
  const sustained = now - failingSince >= c.forMs;
  return {
    verdict: 'fail',
    breached: sustained,
    value,
    reason: sustained ? reason : `${reason} (breach if sustained ${formatDuration(c.forMs)}${failingFor(now - failingSince)})`,
    at: now,
    failingSince,
    stats,
  };
}

export function judge(c: Check, obs: CheckReading | undefined, prev: CheckRecord | undefined, now: number): CheckRecord {
  const noData = (reason: string): CheckRecord => ({
    verdict: 'no-data',
    breached: false,
    value: null,
    baseline: obs?.baseline,
    reason,
    at: now,
    noDataSince: prev?.verdict === 'no-data' ? (prev.noDataSince ?? now) : now,
  });
  if (!obs) return noData('not measured');
  if (obs.error) return noData(`provider error: ${obs.error}`);
  if (c.compare) return judgeCompare(c, obs, prev, now, noData);
  if (obs.value === null || !Number.isFinite(obs.value)) return noData(obs.note ?? 'no data');
  const v = violation(c, obs.value, obs.baseline);
  if (v === 'no-baseline') return noData(`baseline has no data${obs.note ? ` (${obs.note})` : ''}`);
  if (v === null) return { verdict: 'pass', breached: false, value: obs.value, baseline: obs.baseline, reason: `${round(obs.value)}${c.unit} ok (${describeThreshold(c)})`, at: now };
  const failingSince = prev?.verdict === 'fail' ? (prev.failingSince ?? now) : now;
  const sustained = now - failingSince >= c.forMs;
  return {
    verdict: 'fail',
    breached: sustained,
    value: obs.value,
    baseline: obs.baseline,
    reason: sustained
      ? `${v}${c.forMs ? ` for ${formatDuration(now - failingSince)}` : ''}`
      : `${v} (breach if sustained ${formatDuration(c.forMs)}${failingFor(now - failingSince)})`,
    at: now,
    failingSince,
  };
}
