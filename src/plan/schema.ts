/**
 * The plan format, as a zod schema. This is the single source of truth: validation, the
 * TypeScript types and the published JSON Schema (schema/plan.schema.json) all come from it.
 * Durations stay strings here ("30m", "1h30m", "2d"); normalize.ts turns them into ms.
 */
import { z } from 'zod';
import { adapter, command, duration, name, percent } from './schema-parts.js';
import { notify } from './schema-notify.js';

export { command, duration } from './schema-parts.js';

export const approval = z.union([
  z.boolean(),
  z
    .object({
      required: z.boolean().default(true),
      message: z.string().optional(),
      approvers: z
        .array(z.string().min(1))
        .optional()
        .describe('Named approvers (seed 001: engineering-lead, product-manager, qa-lead, devops-lead). Each signs with `rollout approve --as <name>`; the gate opens when `quorum` of them have signed.'),
      quorum: z
        .number()
        .int()
        .min(1)
        .optional()
        .describe('How many of `approvers` must sign before the gate opens (default: all of them). Signing twice as one person counts once.'),
      timeout: duration.optional().describe('The decision window; when it passes without a decision, onTimeout applies.'),
      onTimeout: z.enum(['pause', 'abort', 'rollback']).default('pause'),
    })
    .strict(),
]);

/** A checklist item: "id: text" as an object, or just its text (the id is then made from it). */
export const checklistItem = z.union([
  z.string().min(1).describe('The item\'s text; its id (for `rollout confirm`) is the text in lower case, words joined by "-".'),
  z
    .object({
      id: z
        .string()
        .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, dot, dash, underscore')
        .max(80)
        .describe('What `rollout confirm <run> <id>` names, e.g. staging-tests.'),
      text: z.string().min(1).describe('The item as the checklist says it, e.g. "All tests passing in staging".'),
      by: z
        .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
        .optional()
        .describe('Who may confirm it (one name or a list), e.g. qa-lead; default anyone. `rollout confirm --as <name>`.'),
    })
    .strict(),
]);
export const checklist = z
  .array(checklistItem)
  .min(1)
  .describe('A checklist gate (seed 004 "Pre-Rollout Checklist"): the run waits here until every item is confirmed, one by one, with `rollout confirm <run> <id>` (who and when are recorded). Then any approval gate at the same point applies.');

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day as HH:MM (24h)');
const weekday = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);

export const step = z.union([
  percent.describe('Roll the phase\'s flags to this percentage.'),
  z
    .object({
      percent: percent.optional(),
      rings: z.record(z.string(), percent).optional().describe('Ring name → percentage inside the ring, e.g. {internal: 100, beta: 50, ga: 0}.'),
      set: z
        .record(z.string(), z.union([z.boolean(), percent]))
        .optional()
        .describe('Other flags set in the same step: true = on for all, false = off, a number = that percentage.'),
      hold: duration.optional().describe('Hold after this step (overrides the phase hold).'),
      approval: approval.optional().describe('A go/no-go gate before this step.'),
      checklist: checklist.optional().describe('A checklist confirmed item by item before this step (before its approval gate, if any).'),
      day: z
        .union([weekday, z.array(weekday).min(1)])
        .optional()
        .describe('Weekday schedule (seed 000: "Monday: 50%, Wednesday: 75%, Friday: 90%"): the step happens only on this weekday (or one of these), in windows.timezone (default UTC); a step due on another day waits for the next one.'),
      at: hhmm.optional().describe('Not before this time of day (HH:MM, windows.timezone); with `day`, on those days only.'),
      note: z.string().optional(),
    })
    .strict(),
]);

export const check = z
  .object({
    name: name.describe('Unique check name, used in status and the event log.'),
    provider: z.string().describe('Name of a provider under `metrics:`.'),
    query: z.string().describe('The provider\'s query: PromQL, a JSON path, a command argument …'),
    max: z.number().optional().describe('Breach when the value is above this.'),
    min: z.number().optional().describe('Breach when the value is below this.'),
    relative: z
      .object({
        baseline: z.string().describe('Query for the control / legacy baseline, same provider.'),
        maxIncrease: z.number().min(0).optional().describe('Breach when value > baseline × (1 + maxIncrease); 0.10 = "within 10%".'),
        maxDecrease: z.number().min(0).max(1).optional().describe('Breach when value < baseline × (1 − maxDecrease).'),
      })
      .strict()
      .optional(),
    compare: z
      .object({
        control: z.string().optional().describe('Query for the control group, same provider; `query` is then the treatment. Or use splitBy.'),
        splitBy: z.string().optional().describe('Instead of a control query: split `query`\'s series by this label (e.g. variant); every value but `controlValue` is compared with it.'),
        controlValue: z.string().default('control').describe('With splitBy: the label value of the control group.'),
        test: z.enum(['mann-whitney', 'sequential']).default('mann-whitney').describe('mann-whitney: a U test over the window\'s samples (fixed horizon). sequential: an always-valid mSPRT, safe to judge every interval without inflating false alarms; give it a window covering the whole experiment.'),
        confidence: z.number().min(0.5).max(0.9999).default(0.95).describe('A regression is declared at this confidence: the false-alarm rate stays at or under 1 − confidence.'),
        tolerance: z.number().gt(0).max(10).default(0.1).describe('The smallest relative effect that matters: 0.1 = a regression of more than 10 % vs control.'),
        direction: z.enum(['higher-is-bad', 'lower-is-bad']).default('higher-is-bad'),
        minSamples: z.number().int().min(2).default(20).describe('Samples per side (points of the window) before any verdict but inconclusive.'),
        window: duration.optional().describe('Samples from this far back (default 30m).'),
        step: duration.optional().describe('One sample per step (default 1m).'),
        requests: z
          .object({
            query: z.string().describe('Requests (or users) per side: split by splitBy, or the treatment\'s with `control:` for the control\'s.'),
            control: z.string().optional(),
            min: z.number().int().min(1).describe('Minimum per side (seed 004: min_sample_size 10000).'),
          })
          .strict()
          .optional()
          .describe('A minimum sample counted in requests, from a query: inconclusive below it.'),
      })
      .strict()
      .optional()
      .describe('A statistical check of treatment vs control (seed 004\'s A/B tests, "within 10 % of legacy"): verdicts pass, fail (a regression beyond the tolerance at the stated confidence) or inconclusive (too few samples or not enough evidence: never advances; follows noData).'),
    for: duration.optional().describe('Breach only when sustained this long ("error rate > 0.5% for 5 minutes").'),
    noData: z
      .enum(['hold', 'pause', 'rollback', 'pass'])
      .default('hold')
      .describe('No data: hold (never advance; pause after noDataTimeout), pause, rollback, or pass.'),
    noDataTimeout: duration.optional().describe('With noData: hold, pause after no data this long (default 15m).'),
    tier: z.enum(['warning', 'critical']).default('critical'),
    action: z.enum(['pause', 'rollback', 'notify']).optional().describe('Default: critical → rollback, warning → pause.'),
    freeze: z
      .boolean()
      .optional()
      .describe('With action pause: also ask the flag backend to freeze the current phase\'s flags at their percentage (seed 004\'s "freeze current percentage"); they are unfrozen when the run resumes, rolls back or is aborted. Needs a backend with a freeze call (http: `freeze:`).'),
    rollbackFlags: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('With action rollback: turn off only these flags, and the flags of phases that require them, instead of every flag the plan touches (seed 004: "Recovery Failures > 1% → Rollback recovery feature").'),
    rollbackSegments: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('With action rollback: a partial rollback for some users — turn the rollback flags off for only these segments (backend segment names); everybody else keeps their percentage and the run goes on (seed 002: "Partial Rollback (Specific User Segments)"). Needs a backend that can: local, unleash, flagd, launchdarkly, http with {{exclude}}.'),
    rollbackRings: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('With action rollback: like rollbackSegments, for rings of `rings:` (not the everybody-else ring).'),
    afterRollback: z
      .enum(['end', 'continue'])
      .optional()
      .describe('With rollbackFlags: after rolling those flags back, end the run (default) or continue the rest of the rollout without them (seed 004: roll back the recovery feature only, keep rolling out the others).'),
    phases: z.array(z.string()).optional().describe('Only in these phases (default: all).'),
    unit: z.string().optional().describe('Shown next to values, e.g. "%" or "ms".'),
    severity: z
      .string()
      .min(1)
      .optional()
      .describe('A severity under notify.escalation (e.g. P1): a breach of this check opens a page at that severity, which moves up its chain when nobody acknowledges (`rollout ack`) in time.'),
  })
  .strict();

export const phase = z
  .object({
    name: name,
    description: z.string().optional(),
    flags: z.array(z.string().min(1)).default([]).describe('Flags this phase rolls through its steps.'),
    steps: z.array(step).optional().describe('Percentages (or ring/set objects), in order. Default: [100].'),
    hold: duration.optional().describe('Hold after each step (default: defaults.hold).'),
    users: z.array(z.string()).optional().describe('Allowlist: these user ids get the flags from the first step on.'),
    segments: z.array(z.string()).optional().describe('Allowlist: these segments get the flags from the first step on.'),
    requires: z
      .array(
        z.union([
          z.string().min(1),
          z
            .object({
              flag: z.string().min(1),
              atLeast: percent.describe('The required flag must be enabled at this percentage or more (seed 004: recovery needs snapshots "stable", not 100%).'),
            })
            .strict(),
        ]),
      )
      .optional()
      .describe('Flags that must be on before this phase starts: a name means fully on (100%); {flag, atLeast} accepts a lower percentage.'),
    approval: approval.optional().describe('A go/no-go gate before the phase starts.'),
    checklist: checklist.optional().describe('A checklist confirmed item by item before the phase starts (before its approval gate, if any); on the first phase it is a pre-rollout checklist.'),
    checks: z.array(check).optional().describe('Checks for this phase only, in addition to the plan\'s.'),
    stickiness: z.string().optional(),
    variants: z
      .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, dot, dash, underscore'), percent)
      .optional()
      .describe('An experiment (seed 004\'s A/B tests): split the users who get the phase\'s flags into named variants, percent each, summing to 100, e.g. {control: 50, treatment: 50}. Assigned with Unleash\'s variant hashing (flagd: its fractional targeting; LaunchDarkly: a percentage rollout over named variations); backends: local, unleash, flagd, launchdarkly.'),
  })
  .strict();

export const window = z
  .object({
    days: z.array(weekday).optional().describe('Weekdays (default: every day).'),
    from: hhmm.optional(),
    to: hhmm.optional(),
    start: z.string().optional().describe('A date or date-time (ISO 8601) for one-off blackouts.'),
    end: z.string().optional(),
    name: z.string().optional(),
  })
  .strict();

export const plan = z
  .object({
    $schema: z.string().optional(),
    version: z.literal(1).default(1),
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]*$/i, 'letters, digits, dot, dash, underscore')
      .describe('Plan name: runs are addressable by it.'),
    description: z.string().optional(),
    startAt: z
      .union([
        z.string().min(1),
        z
          .object({
            day: z.union([weekday, z.array(weekday).min(1)]).optional(),
            at: hhmm.optional(),
          })
          .strict(),
      ])
      .optional()
      .describe(
        'A scheduled start (seeds 000, 004: announce first, start later): the run is created by `rollout start` as `scheduled`, holds its flag locks, and writes nothing until this time. An ISO 8601 time with its zone ("2026-12-07T09:00:00+01:00"), a duration after `rollout start` ("3d"), or the next weekday/time in windows.timezone ("mon 09:00" or {day: mon, at: "09:00"}). `rollout start --at` overrides it.',
      ),
    backend: adapter('flag backend'),
    metrics: z.record(z.string(), adapter('metrics provider')).optional(),
    defaults: z
      .object({
        hold: duration.optional().describe('Hold after each step (default 1h).'),
        interval: duration.optional().describe('Re-evaluate checks this often while holding (default 1m).'),
        maxJump: percent.optional().describe('Warn when a step grows by more points than this (default 25).'),
        stickiness: z.string().optional(),
      })
      .strict()
      .optional(),
    checks: z.array(check).optional().describe('Checks evaluated before every step and while holding.'),
    rings: z
      .record(
        z.string(),
        z
          .object({
            description: z.string().optional(),
            users: z.array(z.string()).optional(),
            segments: z.array(z.string()).optional(),
          })
          .strict(),
      )
      .optional()
      .describe('Ring definitions (seed 004: internal, beta, ga). A ring without users/segments means everybody else.'),
    phases: z.array(phase).min(1, 'a plan needs at least one phase'),
    rollback: z
      .object({
        mode: z.enum(['immediate', 'gradual']).default('immediate'),
        flags: z
          .array(z.string().min(1))
          .min(1)
          .optional()
          .describe('Flags a rollback turns off / steps down (default: every flag the plan touches). E.g. only the kill switch, keeping monitoring flags on.'),
        steps: z
          .array(
            z
              .object({
                percent: percent,
                wait: duration.optional().describe('A fixed wait after this stage.'),
                stableFor: duration
                  .optional()
                  .describe('Health-gated wait (seed 000: "0% after stable"): the next stage comes once every check of the phase has passed for this long (no data does not count as passing).'),
                maxWait: duration.optional().describe('With stableFor: move on after this long even if the checks never held (default 24h); recorded as not stable.'),
              })
              .strict(),
          )
          .optional()
          .describe('Gradual mode: percentages to step down through, each followed by its wait (fixed `wait`, or `stableFor` with `maxWait`).'),
        commands: z.array(command).optional().describe('Run after the flags are off. The reason arrives as $ROLLOUT_REASON.'),
        healthCheck: z
          .object({
            command: command.optional(),
            http: z.object({ url: z.string(), expectStatus: z.number().int().default(200) }).strict().optional(),
            retries: z.number().int().min(0).max(100).default(2),
            interval: duration.optional(),
            timeout: duration.optional(),
          })
          .strict()
          .optional(),
        escalate: z
          .object({
            commands: z.array(command).optional(),
            notify: z.array(z.string()).optional(),
            severity: z.string().min(1).optional().describe('A severity under notify.escalation (seed 003: P0): a failed rollback also opens a page at that severity.'),
          })
          .strict()
          .optional()
          .describe('When a rollback step or the health check fails.'),
      })
      .strict()
      .optional(),
    windows: z
      .object({
        timezone: z.string().default('UTC'),
        allow: z.array(window).optional().describe('Steps happen only inside one of these windows.'),
        blackout: z.array(window).optional().describe('No steps inside any of these ("don\'t roll out during peak hours").'),
      })
      .strict()
      .optional(),
    notify,
  })
  .strict();

export type PlanInput = z.input<typeof plan>;
export type PlanDoc = z.output<typeof plan>;
export type CheckDoc = z.output<typeof check>;
export type StepDoc = z.output<typeof step>;
export type PhaseDoc = z.output<typeof phase>;
export type CommandDoc = z.output<typeof command>;
export type ApprovalDoc = z.output<typeof approval>;
export type ChecklistDoc = z.output<typeof checklist>;
export type WindowDoc = z.output<typeof window>;
