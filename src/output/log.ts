/**
 * `rollout log` in text: one line per event (time with its zone, sequence, type, message),
 * and under it the output of a rollback or health-check command, as `start` shows it live.
 */
import type { RunEvent } from '../engine/types.js';
import { redact } from '../util/redact.js';
import { safeLines, safeText } from '../util/terminal.js';
import { style } from './style.js';

const dateFormats = new Map<string, Intl.DateTimeFormat>();

/** "2026-12-02 09:46:36 CET": the date, local time and zone (UTC with --utc). */
export function logTime(at: number, timeZone?: string): string {
  let f = dateFormats.get(timeZone ?? '');
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23', timeZoneName: 'short' });
    dateFormats.set(timeZone ?? '', f);
  }
  const p = Object.fromEntries(f.formatToParts(at).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second} ${p.timeZoneName}`;
}

export function logLines(e: RunEvent, timeZone?: string): string[] {
  const lines = [`${style.dim(logTime(e.at, timeZone))} ${String(e.seq).padStart(4)} ${style.cyan(safeText(e.type).padEnd(18))} ${safeText(redact(e.msg))}`];
  const output = typeof e.data?.output === 'string' ? e.data.output.trimEnd() : '';
  if (output) for (const l of safeLines(redact(output))) lines.push(style.dim(`${' '.repeat(10)}│ ${l}`));
  return lines;
}
