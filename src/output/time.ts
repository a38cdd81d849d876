/**
 * Times for people: local wall-clock time with its zone ("14:05:09 CET"), the day only when
 * it is not today, countdowns ("in 4m12s") instead of ISO timestamps. Pure: the clock and
 * the zone are arguments, so renderers are tested with exact strings.
 */
import { formatDuration } from '../util/duration.js';

export interface TimeOptions {
  now: number;
  /** IANA zone; default the machine's. `UTC` with --utc. */
  timeZone?: string;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function fmt(timeZone: string | undefined, withDay: boolean): Intl.DateTimeFormat {
  const key = `${timeZone ?? ''}|${withDay}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'short',
      ...(withDay ? { weekday: 'short', day: 'numeric', month: 'short' } : {}),
    });
    formatters.set(key, f);
  }
  return f;
}

/** "CET", "EST", "UTC": an abbreviation from whichever English locale knows one, else "GMT+5". */
export function zoneName(t: number, timeZone: string | undefined, fallback: string): string {
  if (!/^GMT[+-]/.test(fallback)) return fallback;
  for (const locale of ['en-US', 'en-IN', 'en-AU']) {
    const name = new Intl.DateTimeFormat(locale, { timeZone, timeZoneName: 'short' }).formatToParts(t).find((p) => p.type === 'timeZoneName')?.value;
    if (name && !/^GMT[+-]/.test(name)) return name;
  }
  return fallback;
}

function dayKey(t: number, timeZone?: string): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(t);
}

/** "14:05:09 CET", or "Thu 3 Dec 14:05:09 CET" when it is another day than `now`'s. */
export function clock(t: number, o: TimeOptions): string {
  const withDay = dayKey(t, o.timeZone) !== dayKey(o.now, o.timeZone);
  const parts = fmt(o.timeZone, withDay).formatToParts(t);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  const hms = `${get('hour')}:${get('minute')}:${get('second')}`;
  const zone = zoneName(t, o.timeZone, get('timeZoneName'));
  return withDay ? `${get('weekday')} ${get('day')} ${get('month')} ${hms} ${zone}` : `${hms} ${zone}`;
}

/** "in 4m12s" / "4m12s ago" / "now"; whole seconds (no "0ms"). */
export function relative(t: number, now: number): string {
  const d = t - now;
  if (Math.abs(d) < 1000) return 'now';
  const text = formatDuration(Math.round(Math.abs(d) / 1000) * 1000);
  return d > 0 ? `in ${text}` : `${text} ago`;
}

/** "14:21:00 CET (in 4m12s)". */
export function when(t: number, o: TimeOptions): string {
  return `${clock(t, o)} (${relative(t, o.now)})`;
}

const ISO = /\b\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?Z\b/g;

/** Every ISO timestamp in a sentence (engine texts carry them) → local time and countdown. */
export function humanizeTimes(text: string, o: TimeOptions): string {
  return text.replace(ISO, (iso) => {
    const t = Date.parse(iso);
    return Number.isFinite(t) ? when(t, o) : iso;
  });
}
