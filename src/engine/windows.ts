/**
 * Rollout windows ("don't roll out during peak hours"): allowed hours and blackouts in a
 * time zone. Pure: given the windows and an instant, is a step allowed, and if not, when is
 * the next instant it will be.
 */
import { DateTime } from 'luxon';
import type { Plan, Window } from '../plan/model.js';

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

function inWindow(w: Window, t: DateTime): boolean {
  if (w.start && w.end) {
    const s = DateTime.fromISO(w.start, { zone: t.zone }).toMillis();
    const e = DateTime.fromISO(w.end, { zone: t.zone }).toMillis();
    return t.toMillis() >= s && t.toMillis() < e;
  }
  const m = t.hour * 60 + t.minute;
  const from = minutes(w.from ?? '00:00');
  const to = minutes(w.to ?? '24:00');
  const day = DAYS[t.weekday - 1]!;
  if (from <= to) return (!w.days || w.days.includes(day)) && m >= from && m < to;
  // Overnight window (22:00–06:00): the part after midnight belongs to the previous day.
  const prevDay = DAYS[(t.weekday + 5) % 7]!;
  return (m >= from && (!w.days || w.days.includes(day))) || (m < to && (!w.days || w.days.includes(prevDay)));
}

export function isOpen(windows: NonNullable<Plan['windows']>, at: number): boolean {
  const t = DateTime.fromMillis(at, { zone: windows.timezone });
  if (windows.blackout.some((w) => inWindow(w, t))) return false;
  return windows.allow.length === 0 || windows.allow.some((w) => inWindow(w, t));
}

// Windows never change during a run: remember the last closed stretch [from, to) found, so
// the check every interval while waiting overnight costs a comparison, not a calendar scan.
const closedStretch = new WeakMap<object, { from: number; to: number | undefined }>();

/** The next instant ≥ at when steps are allowed (at itself if open); undefined if none is found (weekly windows are scanned 60 days ahead). */
export function nextOpen(windows: NonNullable<Plan['windows']> | undefined, at: number): number | undefined {
  if (!windows) return at;
  const c = closedStretch.get(windows);
  if (c && at >= c.from && c.to !== undefined && at < c.to) return c.to;
  if (isOpen(windows, at)) return at;
  const r = scanNextOpen(windows, at);
  closedStretch.set(windows, { from: at, to: r });
  return r;
}

/** isOpen, using the cached closed stretch when `at` falls inside it. */
export function isOpenCached(windows: NonNullable<Plan['windows']>, at: number): boolean {
  const c = closedStretch.get(windows);
  if (c && at >= c.from && c.to !== undefined && at < c.to) return false;
  return isOpen(windows, at);
}

function scanNextOpen(windows: NonNullable<Plan['windows']>, at: number): number | undefined {
  const start = DateTime.fromMillis(at, { zone: windows.timezone });
  const candidates: number[] = [];
  for (let d = 0; d <= 60; d++) {
    const day = start.plus({ days: d }).startOf('day');
    for (const w of [...windows.allow, ...windows.blackout]) {
      for (const hhmm of [w.from, w.to]) {
        if (!hhmm) continue;
        // Wall-clock time of that day (not "minutes after midnight": on a DST change day those differ by an hour).
        candidates.push(day.set({ hour: Number(hhmm.slice(0, 2)), minute: Number(hhmm.slice(3, 5)) }).toMillis());
      }
    }
    candidates.push(day.toMillis());
  }
  for (const w of windows.blackout) if (w.end) candidates.push(DateTime.fromISO(w.end, { zone: windows.timezone }).toMillis());
  for (const w of windows.allow) if (w.start) candidates.push(DateTime.fromISO(w.start, { zone: windows.timezone }).toMillis());
  return candidates
    .filter((c) => c > at)
    .sort((a, b) => a - b)
    .find((c) => isOpen(windows, c));
}
