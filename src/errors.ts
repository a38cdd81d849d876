/**
 * Every failure that leaves `rollout` goes through RolloutError: a message the user can act
 * on, a hint saying what to do next, and the process exit code. Only src/cli.ts turns these
 * into an exit.
 */
export const ExitCode = {
  OK: 0,
  /** An unexpected error: a bug in rollout. */
  INTERNAL: 1,
  /** Bad usage or an invalid plan. */
  USAGE: 2,
  /** The run was rolled back (automatically or on request). */
  ROLLED_BACK: 3,
  /** The run is paused or waits for an approval. */
  PAUSED: 4,
  /** Another live run holds the lock on a flag or on this run. */
  LOCKED: 5,
  /** `advance`: the run is healthy and still in progress. */
  IN_PROGRESS: 6,
  /** A rollback ran but some of its steps failed: escalated, needs a human. */
  ROLLBACK_FAILED: 7,
  /** A backend, provider or the state store failed and nothing could be decided. */
  BACKEND: 8,
  /** The run was aborted. */
  ABORTED: 9,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODE_TABLE: ReadonlyArray<[number, string]> = [
  [0, 'done: the command succeeded / the run completed'],
  [1, 'internal error (a bug: please report it with --debug output)'],
  [2, 'usage error or invalid plan'],
  [3, 'the run was rolled back'],
  [4, 'the run is paused or awaiting approval'],
  [5, 'a lock is held by another live run'],
  [6, 'the run is in progress (advance: nothing is wrong, call again later)'],
  [7, 'rollback incomplete: some rollback steps failed and were escalated'],
  [8, 'a backend, metrics provider or the state store failed'],
  [9, 'the run was aborted'],
];

export interface ErrorDetails {
  hint?: string;
  exitCode?: number;
  cause?: unknown;
}

export class RolloutError extends Error {
  readonly hint?: string;
  readonly exitCode: number;
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'RolloutError';
    this.hint = details.hint;
    this.exitCode = details.exitCode ?? ExitCode.INTERNAL;
  }
}

export class UsageError extends RolloutError {
  constructor(message: string, details: Omit<ErrorDetails, 'exitCode'> = {}) {
    super(message, { ...details, exitCode: ExitCode.USAGE });
    this.name = 'UsageError';
  }
}

/** One problem in a plan file, with its position. */
export interface PlanIssue {
  path: string; // dot path inside the plan, e.g. phases.0.steps.2
  message: string;
  line?: number;
  col?: number;
  severity: 'error' | 'warning';
  /** The text of that line of the file, for showing it with a caret under `col`. */
  source?: string;
}

export class PlanError extends RolloutError {
  readonly file: string;
  readonly issues: PlanIssue[];
  constructor(file: string, issues: PlanIssue[], details: Omit<ErrorDetails, 'exitCode'> = {}) {
    const errors = issues.filter((i) => i.severity === 'error');
    const first = errors[0];
    const where = first?.line ? `${file}:${first.line}:${first.col ?? 1}` : file;
    super(
      errors.length === 1 && first
        ? `${where}: ${first.message}`
        : `${file}: ${errors.length} errors in plan`,
      { ...details, exitCode: ExitCode.USAGE },
    );
    this.name = 'PlanError';
    this.file = file;
    this.issues = issues;
  }
}

/**
 * A flag backend, metrics provider or notifier failed. `retryable` says whether the call may
 * be repeated safely (idempotent and the failure transient).
 */
export class BackendError extends RolloutError {
  readonly backend: string;
  readonly status?: number;
  readonly retryable: boolean;
  /** For 429/503: how long the server asked us to wait, in ms. */
  readonly retryAfterMs?: number;
  constructor(
    backend: string,
    message: string,
    opts: { status?: number; retryable?: boolean; retryAfterMs?: number; hint?: string; cause?: unknown } = {},
  ) {
    super(`${backend}: ${opts.status ? `HTTP ${opts.status}: ` : ''}${message}`, {
      hint: opts.hint,
      cause: opts.cause,
      exitCode: ExitCode.BACKEND,
    });
    this.name = 'BackendError';
    this.backend = backend;
    this.status = opts.status;
    this.retryable = opts.retryable ?? false;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

export class LockError extends RolloutError {
  constructor(message: string, hint?: string) {
    super(message, { hint, exitCode: ExitCode.LOCKED });
    this.name = 'LockError';
  }
}

export class StateError extends RolloutError {
  constructor(message: string, hint?: string, cause?: unknown) {
    super(message, { hint, cause, exitCode: ExitCode.BACKEND });
    this.name = 'StateError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
