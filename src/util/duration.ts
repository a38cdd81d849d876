import parse from 'parse-duration';

/** "90s", "5m", "1h30m", "2d", "1 week" → ms. Bare numbers are refused: units must be explicit. */
export function parseDuration(text: string): number | null {
  const t = text.trim();
  if (!t || /^[\d.]+$/.test(t)) return null;
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
