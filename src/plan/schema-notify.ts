/**
 * The plan's `notify:` section: targets, which events go where, templates, recurring reports
 * (blocking review checkpoints among them), escalation severities, and the announcement ahead
 * of a scheduled start. Part of the plan schema (schema.ts).
 */
import { z } from 'zod';
import { adapter, duration } from './schema-parts.js';

export const notify = z
  .object({
    targets: z.record(z.string(), adapter('notification target')),
    events: z
      .record(z.string(), z.array(z.string()))
      .optional()
      .describe('Event → target names. Default: every target gets every default event.'),
    templates: z.record(z.string(), z.string()).optional().describe('Event → message template with {{variables}}.'),
    reports: z
      .array(
        z
          .object({
            name: z.string().optional().describe('Shown in the report ({{report}}).'),
            every: duration.describe('How often (at least 1m).'),
            phases: z.array(z.string()).optional().describe('Only while the run is in these phases (the first report one `every` after entering them).'),
            targets: z.array(z.string()).optional().describe('Targets (default: the `run.report` event\'s, else all).'),
            blocking: z
              .boolean()
              .optional()
              .describe('A review checkpoint, not a reminder (seed 002: "manual review checkpoints every 2 days"): after each report the run waits for `rollout approve` before its next step.'),
          })
          .strict(),
      )
      .optional()
      .describe('Recurring status reports (`run.report`) while the run is active: seed 000\'s "Daily: status updates", seed 003\'s "Hourly performance reports".'),
    escalation: z
      .record(
        z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, dot, dash, underscore'),
        z
          .object({
            description: z.string().optional().describe('What this severity means, e.g. "system down, data loss, security breach".'),
            ackWithin: duration.describe('How long a page waits for `rollout ack` before it moves to the next target in the chain ("Response: Immediate (15 minutes)").'),
            chain: z
              .array(z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]))
              .min(1)
              .describe('Who is paged, in order: notify target names; a list pages several targets together at that level.'),
            repeat: z.boolean().default(true).describe('After the last level: page it again every ackWithin until acknowledged (default), or stop (the page stays open).'),
            notice: z.enum(['info', 'warning', 'critical']).default('critical').describe('The severity of the notices this page sends.'),
          })
          .strict(),
      )
      .optional()
      .describe('Severities (seed 003: P0-P3) with an acknowledgement time and an ordered chain of targets; checks name theirs with `severity:`.'),
    announce: z
      .object({
        before: duration.describe('How long before the scheduled start the announcement (`run.announced`) goes out, e.g. "7d" (seed 000: "Week -1: Announce rollout plan").'),
        targets: z.array(z.string()).optional().describe('Targets (default: the `run.announced` event\'s in notify.events, else `run.started`\'s, else every target).'),
      })
      .strict()
      .optional()
      .describe('An announcement ahead of the start (seed 004\'s "Pre-Rollout Announcement"): `run.announced`, its text from notify.templates["run.announced"] with {{date}}, {{time}}, {{startsAt}}, {{summary}}. A run scheduled closer than `before` (or started at once) announces at once and says so; aborting an announced run sends `run.cancelled` to the same targets.'),
  })
  .strict()
  .optional();
