/**
 * Log notifier: writes notices as lines through ctx.log (stderr / the event log). Needs no
 * network, so it is a useful default and what the demo uses.
 *
 *   notify:
 *     targets:
 *       console: { type: log }                 # format: text (default) | json
 *
 * text:  "[notify] CRITICAL rollback.started: 🚨 EMERGENCY ROLLBACK: checkout"
 *        "  🚨 EMERGENCY ROLLBACK: error_rate 2.1% > 1%"      ← each text line, indented
 *        "  Plan: checkout (run r-1)"
 * json:  one line, the Notice as JSON: {"event":…,"severity":…,"title":…,"text":…,"fields":…}
 *
 * Every line passes through redact().
 */
import { z } from 'zod';
import { redact, redactDeep } from '../../util/redact.js';
import { safeText } from '../../util/terminal.js';
import type { Notice, Notifier, NotifierFactory } from '../types.js';

export const options = z.strictObject({
  format: z.enum(['text', 'json']).default('text').describe('text: a header line and the message indented; json: one JSON line per notice.'),
  prefix: z.string().default('notify').describe('Tag in front of text lines (default "notify").'),
});
export type LogOptions = z.output<typeof options>;

export function formatNotice(notice: Notice, o: LogOptions): string[] {
  if (o.format === 'json') return [JSON.stringify(redactDeep(notice))];
  const tag = o.prefix ? `[${o.prefix}] ` : '';
  const lines = [`${tag}${notice.severity.toUpperCase()} ${notice.event}: ${notice.title}`];
  for (const line of notice.text.replace(/\s+$/, '').split(/\r?\n/)) lines.push(line ? `  ${line}` : '');
  // Drop the blank trailing/duplicate-empty noise but keep paragraph breaks readable.
  return lines.filter((l, i) => l !== '' || (i > 0 && lines[i - 1] !== '')).map((l) => safeText(redact(l)));
}

export const create: NotifierFactory = (raw, ctx) => {
  const o = options.parse(raw);
  return {
    name: 'log',
    async send(notice: Notice): Promise<void> {
      for (const line of formatNotice(notice, o)) ctx.log(line);
    },
  } satisfies Notifier;
};
