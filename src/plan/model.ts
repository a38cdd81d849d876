/** The normalized plan the engine works on: durations in ms, defaults applied, checks merged. */
import type { StartSpec } from './start-at.js';
export type NoDataPolicy = 'hold' | 'pause' | 'rollback' | 'pass';
export type BreachAction = 'pause' | 'rollback' | 'notify';

export interface AdapterSpec {
  type: string;
  options: Record<string, unknown>;
}

export interface Command {
  name: string;
  argv: string[];
  timeoutMs: number;
  cwd?: string;
  env?: Record<string, string>;
  shell: boolean;
}

export interface Approval {
  message?: string;
  approvers?: string[];
  /** With approvers: how many must sign (normalized: approvers.length when not given). */
  quorum?: number;
  timeoutMs?: number;
  onTimeout: 'pause' | 'abort' | 'rollback';
}

/** One item of a checklist gate: confirmed by a person (`rollout confirm`), never by the tool. */
export interface ChecklistItem {
  id: string;
  text: string;
  /** Who may confirm it (absent: anyone). */
  by?: string[];
}

export interface Report {
  name?: string;
  everyMs: number;
  phases?: string[];
  targets?: string[];
  /** A review checkpoint: the run waits for an approval after each report. */
  blocking?: boolean;
}

export interface Check {
  name: string;
  provider: string;
  query: string;
  max?: number;
  min?: number;
  relative?: { baseline: string; maxIncrease?: number; maxDecrease?: number };
  forMs: number;
  noData: NoDataPolicy;
  noDataTimeoutMs: number;
  tier: 'warning' | 'critical';
  action: BreachAction;
  /** With action pause: also freeze the current phase's flags on the backend. */
  freeze: boolean;
  /** With action rollback: only these flags (plus the flags that require them) are rolled back. */
  rollbackFlags?: string[];
  /** With rollbackFlags: after that rollback, go on with the other flags instead of ending the run. */
  afterRollback?: 'end' | 'continue';
  /** With action rollback: a partial rollback for some users — only these segments / rings lose the flags; the run goes on. */
  rollbackSegments?: string[];
  rollbackRings?: string[];
  unit: string;
  /** A statistical treatment-vs-control check (instead of max/min/relative). */
  compare?: Compare;
  /** A severity under notify.escalation: a breach opens a page at it. */
  severity?: string;
}

/** A severity (notify.escalation): who is paged, in order, and how long each level has to acknowledge. */
export interface Escalation {
  description?: string;
  ackWithinMs: number;
  /** Levels: the targets paged together at each. */
  chain: string[][];
  /** After the last level: page it again every ackWithin (true) or stop. */
  repeat: boolean;
  notice: 'info' | 'warning' | 'critical';
}

export interface Compare {
  /** Control query (query is the treatment); or splitBy a label. */
  control?: string;
  splitBy?: string;
  controlValue: string;
  test: 'mann-whitney' | 'sequential';
  confidence: number;
  tolerance: number;
  direction: 'higher-is-bad' | 'lower-is-bad';
  minSamples: number;
  windowMs: number;
  stepMs: number;
  requests?: { query: string; control?: string; min: number };
}

export interface Step {
  /** Percentage for the phase's flags (undefined: a rings-only or set-only step). */
  percent?: number;
  rings?: Record<string, number>;
  /** Other flags set with this step: true/false or a percentage. */
  set: Record<string, boolean | number>;
  holdMs: number;
  approval?: Approval;
  /** A checklist gate before this step (before its approval gate). */
  checklist?: ChecklistItem[];
  /** Weekday schedule: the step happens only on these days (windows.timezone), not before `at`. */
  days?: string[];
  at?: string;
  note?: string;
}

export interface Phase {
  name: string;
  description?: string;
  flags: string[];
  steps: Step[];
  requires: string[];
  /** Required flag → the percentage that satisfies it (absent: 100, fully on). */
  requiresAtLeast?: Record<string, number>;
  approval?: Approval;
  /** A checklist gate before the phase's first step (before its approval gate). */
  checklist?: ChecklistItem[];
  /** Effective checks: the plan's (filtered by `phases:`) plus the phase's own. */
  checks: Check[];
  users?: string[];
  segments?: string[];
  stickiness?: string;
  /** An experiment: the phase's flags split into these variants (percent, summing to 100). */
  variants?: Array<{ name: string; percent: number }>;
}

export interface Window {
  days?: string[];
  from?: string;
  to?: string;
  start?: string;
  end?: string;
  name?: string;
}

export interface Plan {
  name: string;
  description?: string;
  /** A scheduled start (`startAt:`), resolved against the moment `rollout start` runs (plan/start-at.ts). */
  startAt?: StartSpec;
  /** Absolute path of the plan file, and a hash of its normalized content. */
  file: string;
  dir: string;
  hash: string;
  backend: AdapterSpec;
  metrics: Record<string, AdapterSpec>;
  holdMs: number;
  intervalMs: number;
  maxJump: number;
  rings: Record<string, { description?: string; users?: string[]; segments?: string[] }>;
  phases: Phase[];
  rollback: {
    mode: 'immediate' | 'gradual';
    /** Flags a rollback acts on: `rollback.flags`, or every flag the plan touches. */
    flags: string[];
    /** Stages; `stableForMs`: the next stage waits until the checks have passed this long (at most `maxWaitMs`). */
    steps: Array<{ percent: number; waitMs: number; stableForMs?: number; maxWaitMs?: number }>;
    commands: Command[];
    healthCheck?: {
      command?: Command;
      http?: { url: string; expectStatus: number };
      retries: number;
      intervalMs: number;
      timeoutMs: number;
    };
    escalate: { commands: Command[]; notify: string[]; severity?: string };
  };
  windows?: { timezone: string; allow: Window[]; blackout: Window[] };
  notify: {
    targets: Record<string, AdapterSpec>;
    events?: Record<string, string[]>;
    templates: Record<string, string>;
    /** Recurring `run.report` notices (absent when the plan has none). */
    reports?: Report[];
    /** Severity name → its escalation (absent when the plan has none). */
    escalation?: Record<string, Escalation>;
    /** An announcement `beforeMs` ahead of a scheduled start (`run.announced`); `targets`: where it (and a cancellation) goes. */
    announce?: { beforeMs: number; targets?: string[] };
  };
  /** Every flag the plan touches, in first-use order (rollback turns these off). */
  flags: string[];
}
