import parse from 'parse-duration';

/**
 * Every number carries its unit ("1h30m", "2 days", "1.5h"); nothing else in the text. parse-duration
 * alone reads "25:00" as 25 ms, "1h30" as 1h30ms and "3d garbage" as 3d: a start time or hold
 * that silently means something else.
 */
const UNIT = '(?:ms|msecs?|milliseconds?|[µμ]s|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?|y|yrs?|years?)';
const WHOLE = new RegExp(`^(?:\\s*\\d+(?:\\.\\d+)?\\s*${UNIT}\\s*,?)+$`, 'i');

/** "90s", "5m", "1h30m", "2d", "1 week" → ms. Bare numbers are refused: units must be explicit. */
export function parseDuration(text: string): number | null {
  const t = text.trim();
  if (!t || !WHOLE.test(t)) return null;
  const ms = parse(t);
  return ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0 ? null : ms;
}

/** ms → "1h30m", "2d4h", "45s", "250ms". */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  return parts.slice(0, 2).join('');
}
