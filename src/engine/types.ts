import type { FlagChange, FlagState } from '../adapters/types.js';
import type { CheckRecord, CheckReading } from '../analysis/judge.js';
import type { Command } from '../plan/model.js';

/** Version of the run record; records of older versions are migrated on read (state/migrate.ts). 2: waiting, holdLeftMs, actedOn/tailQueued declared. */
export const STATE_SCHEMA_VERSION = 2;

/**
 * `rollback-incomplete`: a rollback ran and some of its steps failed (flags not off, a command
 * or the health check failed). It is not an end: the run keeps its flag locks until a retry
 * (`rollout rollback`, `resume`, `advance`, a worker) gets every failed step through.
 * `scheduled`: created with a start time in the future (`startAt:`, `--at`); it holds its flag
 * locks and writes nothing until then (engine/start.ts).
 */
export type RunStatus = 'scheduled' | 'running' | 'paused' | 'awaiting-approval' | 'rolling-back' | 'rollback-incomplete' | 'completed' | 'rolled-back' | 'aborted';
export const FINAL_STATUSES: readonly RunStatus[] = ['completed', 'rolled-back', 'aborted'];
/** Statuses in which nothing happens until someone acts: the final ones and an incomplete rollback. */
export const STOPPED_STATUSES: readonly RunStatus[] = [...FINAL_STATUSES, 'rollback-incomplete'];

/** A rollback step that failed, to be retried: the flags off, a rollback command (its index in the plan), the health check. */
export type FailedStep = { step: 'flags'; detail: string } | { step: 'command'; index: number; name: string; detail: string } | { step: 'health-check'; detail: string };

export interface FlagRecord {
  enabled: boolean;
  percentage: number;
  rings?: Record<string, number>;
}

/** A side effect the runner performs. Recorded in state before it happens (intent). */
export type Action =
  /** `cohort`: a segment/ring rolled back or restored (`cohorts` says which, in words). */
  | { id: number; kind: 'apply-flags'; purpose: 'step' | 'rollback' | 'partial' | 'cohort'; changes: FlagChange[]; phase?: number; step?: number; cohorts?: string }
  /** `index`: a rollback command's place in the plan's rollback.commands (what a retry repeats). */
  | { id: number; kind: 'run-command'; purpose: 'rollback' | 'escalate'; command: Command; env: Record<string, string>; index?: number }
  | { id: number; kind: 'health-check'; command?: Command; http?: { url: string; expectStatus: number }; retries: number; intervalMs: number; timeoutMs: number; env: Record<string, string> }
  /**
   * A notice: the facts at the moment of the decision, rendered to template variables by
   * output/notice.ts when it is sent. `vars` (already-rendered words) only in actions saved by
   * versions before the facts; the runner sends those as they are.
   */
  | { id: number; kind: 'notify'; event: string; severity: 'info' | 'warning' | 'critical'; facts?: NoticeFacts; vars?: Record<string, string | number | null>; targets?: string[] }
  | { id: number; kind: 'record-incident'; incident: Incident }
  /** Ask the backend to freeze (or unfreeze) flags at their current percentage (seed 004). */
  | { id: number; kind: 'freeze-flags'; flags: string[]; frozen: boolean };

/** What a notice says, as numbers and states (no words): see output/notice.ts for the words. */
export interface NoticeFacts {
  run: string;
  status: RunStatus;
  phase: number;
  step: number;
  /** The current phase's flags' percentage (0 when none is written yet). */
  percentage: number;
  previousPercentage: number | null;
  nextPercentage: number | null;
  targetPercentage: number | null;
  /** When the next step is due (the hold's end), when there is one. */
  nextAt?: number;
  checks: Array<{ name: string; value: number | null; verdict: CheckRecord['verdict']; breached: boolean }>;
  reason?: string;
  failures?: string[];
  startedAt: number;
  /** A scheduled start: when the run starts, and how long ahead of it the announcement went out. */
  startsAt?: number;
  leadMs?: number;
  /** The estimated end of a scheduled run (Schedule.endsAt). */
  endsAt?: number;
  at: number;
  /** Event-specific variables (report name, breach reason…). */
  extra: Record<string, string | number | null>;
}

export type ActionInput = Action extends infer A ? (A extends { id: number } ? Omit<A, 'id'> : never) : never;

/** A segment or ring (names as the backend and the plan's `rings:` know them). */
export interface Cohort {
  kind: 'segment' | 'ring';
  name: string;
}

/** A cohort rolled back: who asked (or which check), when, why. */
export interface ExcludedCohort extends Cohort {
  reason: string;
  at: number;
  by?: string;
  trigger: 'manual' | 'check';
  check?: string;
}

export interface Incident {
  severity: 'critical' | 'warning';
  reason: string;
  /** Who asked for a manual rollback. */
  by?: string;
  trigger: 'check' | 'manual' | 'approval-timeout' | 'no-data';
  phase: string | null;
  percentage: number | null;
  at: string;
  checks: Record<string, { value: number | null; reason: string }>;
  /** The flags rolled back. */
  flags?: string[];
  /** A partial rollback for some users: the cohorts the flags were turned off for ("segment eu-users"). */
  cohorts?: string[];
}

export interface RollbackState {
  reason: string;
  trigger: Incident['trigger'];
  mode: 'immediate' | 'gradual';
  startedAt: number;
  /** Gradual: index of the next stage to apply; stages.length = flags done. */
  stage: number;
  nextAt?: number;
  failures: string[];
  /** The flags this rollback acts on when a check scoped it (else the plan's rollback flags). */
  flags?: string[];
  /** Health check result after the flags were off: undefined until checked. */
  healthy?: boolean;
  escalated: boolean;
  /** Who asked for it (manual rollbacks): kept apart from `reason`, which commands get verbatim as $ROLLOUT_REASON. */
  by?: string;
  /** The failed steps of the last attempt, which a retry repeats (`failures` says the same in words). */
  failed?: FailedStep[];
  /** Retries so far. */
  retries?: number;
  /** A scoped rollback (rollbackFlags) whose check says afterRollback: continue — the run goes on without those flags. */
  continue?: boolean;
  /** A health-gated stage (`stableFor`): the next stage waits until the checks have passed for `forMs` (since `since`), at most until `until`. */
  stable?: { forMs: number; until: number; since?: number };
  /** The rollback commands and health check are queued (they run once, after the flags). */
  tailQueued?: boolean;
}

/**
 * What a run waits for. `until`: when it is due (epoch ms), when known; `checks`: the checks
 * that block a step; `gate`: the approval or review gate's key or name.
 */
export interface Waiting {
  kind: 'start' | 'approval' | 'review' | 'checklist' | 'cohort' | 'hold' | 'checks' | 'window' | 'schedule' | 'applying' | 'human' | 'rollback' | 'rollback-stable' | 'rollback-step' | 'rollback-retry';
  until?: number;
  checks?: string[];
  gate?: string;
}

/** A checklist item of the gate a run waits at, and its confirmation (absent: not ticked). */
export interface ChecklistItemState {
  id: string;
  text: string;
  by?: string[];
  confirmed?: { name: string; by?: string; at: number; note?: string };
}

/**
 * A page (notify.escalation): a breach of a check with a `severity:` (or a failed rollback)
 * pages the first level of its severity's chain; nobody acknowledging within `ackWithin`
 * pages the next level, and so on. Closed by `rollout ack` (or resume / rollback / abort: a
 * human responded) or when the run ends.
 */
export interface Page {
  /** 1, 2, … within the run. */
  id: number;
  severity: string;
  /** What it is about, one line. */
  reason: string;
  /** The check whose breach opened it; absent for a failed rollback. */
  check?: string;
  openedAt: number;
  /** The chain level paged last (0 = the first). */
  level: number;
  /** Every time it paged someone: the level, its targets, when, and whether it was a repeat of the last level. */
  paged: Array<{ level: number; targets: string[]; at: number; repeat?: boolean }>;
  /** When the next level is paged unless someone acknowledges; absent when nothing more will be sent. */
  deadline?: number;
  /** Acknowledged: who took it (`--as`), who typed it (`by`), when, a note, and by what (ack, resume, rollback, abort). */
  ack?: { name: string; by?: string; at: number; note?: string; via: string };
  /** Closed without an acknowledgement: the run ended. */
  closed?: { at: number; why: string };
}

export interface RunState {
  schema: number;
  id: string;
  plan: { name: string; file: string; hash: string };
  status: RunStatus;
  /** Why paused / aborted / rolled back; what the run waits for while running. */
  reason?: string;
  /** What the run waits for, in words (output); `waiting` says the same as data. */
  waitingFor?: string;
  /** What the run waits for, as data: decisions read this, never the words in `waitingFor`. */
  waiting?: Waiting;
  /** Current phase and the index of the last applied step in it (-1: none yet). */
  phase: number;
  step: number;
  /** notify.reports index → when that report was last sent (or became due-able). */
  reportsAt?: Record<number, number>;
  /** Pages (notify.escalation), open and closed, oldest first. */
  pages?: Page[];
  /** Flags a breach pause froze on the backend (unfrozen when the run moves again). */
  frozen?: string[];
  /** Flags a scoped rollback took out of this run (afterRollback: continue): later steps leave them off. */
  dropped?: string[];
  /**
   * Cohorts rolled back (a partial rollback for some users, seed 002): the run's flags are off
   * for them while everybody else keeps their percentage; every later step keeps them off until
   * they are restored. The run does not complete while one is left.
   */
  excluded?: ExcludedCohort[];
  holdUntil?: number;
  /**
   * While paused: what is left of the step's hold. A hold is time at this percentage with the
   * checks running and passing, so a pause stops its clock (holdUntil is cleared); only paused
   * time during which a driver kept judging the checks, and they passed, counts against it.
   */
  holdLeftMs?: number;
  /** While paused: the last judgment at which every active check passed (credit runs from here). */
  holdSeenAt?: number;
  stepAppliedAt?: number;
  /** Skip holds up to and including the final step of the current phase (promote --full). */
  promoteFull?: boolean;
  approval?: {
    key: string;
    phase: number;
    step: number;
    requestedAt: number;
    deadline?: number;
    message?: string;
    /** A named-approver gate: who may sign, how many must, and who has (each name once). */
    approvers?: string[];
    quorum?: number;
    signed?: Array<{ name: string; by?: string; at: number }>;
    /** A blocking review checkpoint (notify.reports[].blocking), not a plan gate. */
    review?: string;
    /**
     * A checklist gate (key `checklist:<gate>`): the run waits until every item is confirmed by a
     * person (`rollout confirm`); `approve` does not open it. Each item as the plan gave it, with
     * who confirmed it, when, who typed it and a note.
     */
    checklist?: ChecklistItemState[];
  };
  approved: string[];
  /** Last confirmed state of each flag this run wrote. */
  flags: Record<string, FlagRecord>;
  checks: Record<string, CheckRecord & { actedOn?: boolean }>;
  /** Side effects decided but not yet completed, in order. */
  pending: Action[];
  rollback?: RollbackState;
  /** When the run started; while `scheduled`, when it is to start (set to the real start when it does). */
  startedAt: number;
  /** A scheduled start (engine/start.ts): kept after the start, for status and the log. */
  schedule?: Schedule;
  /** Who started the run: `user@host` ($ROLLOUT_USER or the OS account). Absent in older records. */
  startedBy?: string;
  /** When the engine last judged the run: a hold that ended since then makes the next step due at once. */
  lastTickAt?: number;
  updatedAt: number;
  finishedAt?: number;
  /** Next event sequence number and next action id. */
  seq: number;
  nextActionId: number;
}

export interface Schedule {
  /** When the run starts. */
  at: number;
  /** When `rollout start` scheduled it. */
  scheduledAt: number;
  /** Where the time came from: the plan's `startAt:` or the command line's `--at`. */
  source: 'plan' | 'command';
  /** When the announcement is due (notify.announce: `before` ahead of `at`, never before `scheduledAt`). */
  announceAt?: number;
  /** When it went out (decided; the notice itself is a pending action like every notice). */
  announcedAt?: number;
  /** The announcement went out less than `before` ahead of the start (scheduled too close to it, or started at once). */
  announcedLate?: boolean;
  /** The targets the announcement went to (a cancellation goes to the same). */
  announcedTo?: string[];
  /** When the run really started (later than `at` when nothing drove it at its time). */
  startedAt?: number;
  /** When the plan would end from `at` (healthy metrics, gates approved at once), estimated when it was scheduled: the announcement's [End Date]. */
  endsAt?: number;
}

export interface RunEvent {
  seq: number;
  at: number;
  type: string;
  msg: string;
  data?: Record<string, unknown>;
}

export interface Readings {
  /** Check name → what its provider returned. */
  checks: Record<string, CheckReading>;
  /** Flags the runner read from the backend (for `requires:`). */
  flags?: Record<string, FlagState>;
}

export type Control =
  | { kind: 'pause'; reason: string; by?: string }
  | { kind: 'resume'; by?: string }
  /** `as`: the approver signing (default `by`); `all`: sign for every approver still missing (--yes, simulations). */
  | { kind: 'approve'; by?: string; as?: string; all?: boolean; note?: string }
  /**
   * Tick (or with `undo`, untick) checklist items of the gate the run waits at. `as`: who
   * confirms (default `by`); `all`: every open item `as` may confirm; `auto`: a simulation or dry
   * run, which ticks every item whatever its `by:` says (never from the CLI).
   */
  | { kind: 'confirm'; items: string[]; by?: string; as?: string; all?: boolean; undo?: boolean; note?: string; auto?: boolean }
  | { kind: 'reject'; by?: string; reason: string }
  | { kind: 'abort'; reason: string; by?: string }
  | { kind: 'rollback'; reason: string; by?: string; mode?: 'immediate' | 'gradual'; /** Partial: step the phase's flags down to this percentage and pause. */ to?: number }
  | { kind: 'promote'; full: boolean; by?: string }
  /** Acknowledge the run's open pages (or one, `page`): escalation stops. `as`: who takes it (default `by`). */
  | { kind: 'ack'; by?: string; as?: string; note?: string; page?: number }
  /**
   * A partial rollback for some users: turn the run's flags off for these cohorts (everybody
   * else keeps their percentage), or with `undo` bring them back. `pause`: also pause the run.
   */
  | { kind: 'exclude'; cohorts: Cohort[]; reason: string; by?: string; undo?: boolean; pause?: boolean }
  /**
   * Retry the failed steps of an incomplete rollback (flags off, the failed commands, the health
   * check). `escalate`: run the escalation again if it stays incomplete (a worker retrying on its
   * own; a human retrying is already there).
   */
  | { kind: 'retry-rollback'; by?: string; reason?: string; escalate?: boolean };

export interface Outcome {
  ok: boolean;
  /** Human summary: "exit 0 in 12 ms", "HTTP 503: …". */
  detail: string;
  /** Captured output (commands), redacted. */
  output?: string;
  /** Flags read back after a write (verification). */
  readBack?: FlagState[];
}

export interface Decision {
  state: RunState;
  events: RunEvent[];
}
