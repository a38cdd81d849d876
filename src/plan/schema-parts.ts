/**
 * The plan schema's building blocks (schema.ts, schema-notify.ts): names, percentages,
 * durations, commands and adapter blocks, each with the message a user gets when a value is
 * wrong.
 */
import { z } from 'zod';
import { parseDuration } from '../util/duration.js';

export const name = z.string().min(1).max(200);
/** The input as the user wrote it, for messages: 10% → "10%". */
export const shown = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));
export const percent = z
  .number({
    error: (iss) => {
      const v = iss.input;
      if (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*%\s*$/.test(v)) return `write a percentage as a plain number: ${v.replace(/[\s%]/g, '')}, not ${shown(v)}`;
      if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return `write a percentage as a plain number: ${v.trim()}, not ${shown(v)} (no quotes)`;
      return v === undefined ? 'a percentage is required' : `a percentage is a number from 0 to 100, not ${shown(v)}`;
    },
  })
  .min(0, 'a percentage is at least 0')
  .max(100, 'a percentage is at most 100');
export const duration = z
  .string({
    error: (iss) =>
      typeof iss.input === 'number'
        ? `a duration needs a unit: write "${iss.input}s" or "${iss.input}m" (or h, d), not ${iss.input}`
        : iss.input === undefined
          ? 'a duration is required'
          : `not a duration: ${shown(iss.input)}; write it with a unit, e.g. "30s", "15m", "2h"`,
  })
  .refine((s) => parseDuration(s) !== null, { message: 'not a duration: write it with a unit, e.g. "30s", "15m", "2h", "1h30m", "3d"' })
  .describe('A duration with a unit: "30s", "15m", "2h", "1h30m", "3d".');

/** A command in argv form (no shell): ["./rollback.sh", "--phase", "{{phase}}"]. */
export const argv = z.array(z.string()).min(1).describe('argv: program and arguments; no shell is involved.');
export const command = z.union([
  argv,
  z
    .object({
      run: argv,
      timeout: duration.optional().describe('Kill the command after this long (default 5m).'),
      cwd: z.string().optional(),
      env: z.record(z.string(), z.string()).optional(),
      shell: z.boolean().optional().describe('Run run[0] through /bin/sh -c. Off by default; user values still arrive only as env vars.'),
      name: z.string().optional(),
    })
    .strict(),
]);

export const adapter = (what: string) =>
  z
    .object({ type: z.string().min(1).describe(`The ${what} type.`) })
    .catchall(z.unknown())
    .describe(`A ${what}: \`type\` plus that type's options (see docs/adapters.md). Use \${VAR} for secrets.`);
