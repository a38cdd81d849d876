/**
 * Judging one check: the only place that decides what a number means. Pure.
 * pass     — within thresholds
 * fail     — outside thresholds now; `breached` once it has been outside for the check's `for:`
 * no-data  — nothing to judge (empty result, NaN, provider down): never treated as zero
 */
import type { Check } from '../plan/model.js';
import { formatDuration } from '../util/duration.js';

export interface Observation {
  value: number | null;
  baseline?: number | null;
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
}

const thresholdText = new WeakMap<Check, string>();

/** "≤ 5% (breach after sustained 2m)". Memoized per check: it is asked for on every tick. */
export function describeThreshold(c: Check): string {
  let t = thresholdText.get(c);
  if (t === undefined) thresholdText.set(c, (t = thresholdOf(c)));
  return t;
}

function thresholdOf(c: Check): string {
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

export function judge(c: Check, obs: Observation | undefined, prev: CheckRecord | undefined, now: number): CheckRecord {
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
      : `${v} (breach if sustained ${formatDuration(c.forMs)}; failing for ${formatDuration(now - failingSince)})`,
    at: now,
    failingSince,
  };
}
