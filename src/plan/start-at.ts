/**
 * A scheduled start (`startAt:` in a plan, `rollout start --at`): the forms both accept, and
 * the instant a form means at the moment the run is started. Pure: `now` and the time zone
 * are arguments (the plan's `windows.timezone`, UTC without windows — as for `day:`/`at:`).
 *
 *   "2026-12-07T09:00:00+01:00", "2026-12-07T08:00Z"   an absolute time, with its zone
 *   "3d", "+2h30m", "in 90m"                            this long after `rollout start`
 *   "mon 09:00", "monday", "09:00"                      the next such moment in the plan's zone
 *   { day: mon, at: "09:00" }                           the same, in the plan's step notation
 */
import { DateTime } from 'luxon';
import { parseDuration } from '../util/duration.js';

export type StartSpec =
  | { kind: 'at'; at: number; text: string }
  | { kind: 'after'; ms: number; text: string }
  | { kind: 'next'; days?: string[]; time?: string; text: string };

export type StartInput = string | { day?: string | string[]; at?: string };
export type Parsed = { spec: StartSpec } | { error: string; hint: string };

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const FULL = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];
const HHMM = /^([01]?\d|2[0-3]):([0-5]\d)$/;
const ISO_DATE = /^\d{4}-\d\d-\d\d(?:[T ](\d\d:\d\d(?::\d\d(?:\.\d+)?)?))?\s*(Z|[+-]\d\d(?::?\d\d)?)?$/i;

export const FORMS =
  'an ISO 8601 time with its zone ("2026-12-07T09:00:00+01:00" or "…Z"), a duration after `rollout start` ("3d", "2h30m"), or a weekday and time in the plan\'s windows.timezone ("mon 09:00", {day: mon, at: "09:00"})';

const day = (w: string): string | undefined => {
  const x = w.toLowerCase();
  if (WEEKDAYS.includes(x)) return x;
  const i = FULL.indexOf(x);
  return i >= 0 ? WEEKDAYS[i] : undefined;
};

/** Parse a start time as written in a plan or on the command line. `zone` only improves hints. */
export function parseStartAt(input: StartInput, zone = 'UTC'): Parsed {
  if (typeof input === 'object' && input !== null) {
    const days = input.day === undefined ? undefined : Array.isArray(input.day) ? input.day : [input.day];
    const bad = days?.find((d) => !WEEKDAYS.includes(d));
    if (bad !== undefined) return { error: `"${bad}" is not a weekday`, hint: `Use ${WEEKDAYS.join(', ')}.` };
    if (input.at !== undefined && !HHMM.test(input.at)) return { error: `"${input.at}" is not a time of day`, hint: 'Write it as HH:MM (24 h), e.g. "09:00".' };
    if (!days && input.at === undefined) return { error: 'a start needs day, at or both', hint: 'E.g. {day: mon, at: "09:00"}.' };
    const text = [days?.join('/'), input.at].filter(Boolean).join(' ');
    return { spec: { kind: 'next', ...(days ? { days } : {}), ...(input.at !== undefined ? { time: pad(input.at) } : {}), text } };
  }
  const text = String(input).trim();
  if (!text) return { error: 'the start time is empty', hint: `Give ${FORMS}.` };
  const iso = ISO_DATE.exec(text);
  if (iso) {
    if (!iso[1]) return { error: `"${text}" is a date without a time of day`, hint: `Add the time and zone, e.g. "${text}T09:00:00Z", or write a weekday and time ("mon 09:00").` };
    if (!iso[2]) {
      const local = DateTime.fromISO(text.replace(' ', 'T'), { zone });
      const withOffset = local.isValid ? local.toISO({ suppressMilliseconds: true }) : null;
      return {
        error: `"${text}" has no time zone, so it could mean different instants`,
        hint: `Add the zone: "${text.replace(' ', 'T')}Z" for UTC${withOffset && zone !== 'UTC' ? `, or "${withOffset}" for ${zone} (the plan's windows.timezone)` : ''}.`,
      };
    }
    const t = DateTime.fromISO(text.replace(' ', 'T'), { setZone: true });
    if (!t.isValid) return { error: `"${text}" is not a valid time (${t.invalidExplanation ?? t.invalidReason ?? 'out of range'})`, hint: 'E.g. "2026-12-07T09:00:00+01:00".' };
    return { spec: { kind: 'at', at: t.toMillis(), text } };
  }
  const rel = text.replace(/^(\+|in\s+)/i, '');
  if (/^\d+:\d+$/.test(rel) && !HHMM.test(rel)) return { error: `"${text}" is not a time of day`, hint: 'Write it as HH:MM (24 h, 00:00-23:59), e.g. "09:00" or "mon 09:00".' };
  if (/^\d/.test(rel) && !HHMM.test(rel)) {
    const ms = parseDuration(rel);
    if (ms !== null) return { spec: { kind: 'after', ms, text } };
    return { error: `"${text}" is not a duration`, hint: 'Write it with a unit: "30m", "2h", "3d", "1h30m".' };
  }
  const words = text.split(/\s+/);
  let days: string[] | undefined;
  let time: string | undefined;
  for (const w of words) {
    const d = day(w);
    if (d && !days) days = [d];
    else if (HHMM.test(w) && time === undefined) time = pad(w);
    else return { error: `"${text}" is not a start time`, hint: `Give ${FORMS}.` };
  }
  return { spec: { kind: 'next', ...(days ? { days } : {}), ...(time !== undefined ? { time } : {}), text } };
}

const pad = (hhmm: string) => (hhmm.length === 4 ? `0${hhmm}` : hhmm);

/**
 * The instant a start spec means when the run is started at `now`: an absolute time as is
 * (possibly in the past: the caller says so), a duration after now, or the next moment after
 * now on those weekdays at that time of day in `zone`.
 */
export function startTime(spec: StartSpec, now: number, zone = 'UTC'): number {
  if (spec.kind === 'at') return spec.at;
  if (spec.kind === 'after') return now + spec.ms;
  const base = DateTime.fromMillis(now, { zone });
  const [h, m] = (spec.time ?? '00:00').split(':').map(Number) as [number, number];
  for (let d = 0; d <= 8; d++) {
    const date = base.plus({ days: d }).startOf('day');
    if (spec.days && !spec.days.includes(WEEKDAYS[date.weekday - 1]!)) continue;
    const t = date.set({ hour: h, minute: m }).toMillis();
    if (t > now) return t;
  }
  return now; // unreachable: every weekday comes within 8 days
}
