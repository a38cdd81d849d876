/**
 * Run records written by an older rollout are brought up to STATE_SCHEMA_VERSION when a store
 * reads them (file and PostgreSQL alike), one step per version, so a run started before an
 * upgrade resumes after it. A record from a NEWER rollout is refused: this version would drop
 * the fields it does not know on its next save.
 *
 * Version 2 declares fields version 1 already saved through casts (checks.*.actedOn,
 * rollback.tailQueued: nothing to do for them) and adds `waiting` (what the run waits for, as
 * data: the engine decides on it) and the paused-hold clock (a pause keeps what is left of the
 * hold in holdLeftMs instead of letting holdUntil run out).
 */
import { StateError } from '../errors.js';
import { STATE_SCHEMA_VERSION, type RunState, type Waiting } from '../engine/types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** `from` → the record at version from + 1. */
const STEPS: Record<number, (s: Obj) => void> = { 1: v1to2 };

/** The oldest record version this rollout can migrate. */
export const OLDEST_STATE_SCHEMA = 1;

export interface MigrateContext {
  /** Where the record is, for messages ("state file …/state.json", "the record of run x in pg…"). */
  where: string;
  /** What to do about a record this version cannot read (older than OLDEST_STATE_SCHEMA or unversioned). */
  oldHint: string;
}

/**
 * The record brought up to STATE_SCHEMA_VERSION (the same object, changed in place), or a
 * StateError (exit 8) for a record from a newer rollout or an unversioned/too-old one. Shape
 * checks are runRecordProblems' job, after this.
 */
export function migrateRunRecord(s: unknown, ctx: MigrateContext): { state: RunState; from: number } {
  if (!isObj(s)) return { state: s as RunState, from: STATE_SCHEMA_VERSION }; // validate says what is wrong
  const v = s.schema;
  if (typeof v === 'number' && Number.isInteger(v) && v > STATE_SCHEMA_VERSION)
    throw new StateError(
      `${ctx.where} was written by a newer rollout (run record schema version ${v}); this rollout reads versions ${OLDEST_STATE_SCHEMA} to ${STATE_SCHEMA_VERSION}, and would lose what the newer version saved`,
      'Drive this run with the rollout version that wrote it (or newer): upgrade rollout on this machine. It was not changed.',
    );
  if (typeof v !== 'number' || !Number.isInteger(v) || v < OLDEST_STATE_SCHEMA)
    throw new StateError(`${ctx.where} has ${'schema' in s ? `schema version ${String(v)}` : 'no schema version'}; this rollout reads versions ${OLDEST_STATE_SCHEMA} to ${STATE_SCHEMA_VERSION}`, ctx.oldHint);
  for (let at = v; at < STATE_SCHEMA_VERSION; at++) {
    STEPS[at]!(s);
    s.schema = at + 1;
  }
  return { state: s as unknown as RunState, from: v };
}

/** Version 1 → 2. */
function v1to2(s: Obj): void {
  if (s.waiting === undefined && typeof s.waitingFor === 'string') {
    const w = waitingOf(s, s.waitingFor);
    if (w) s.waiting = w;
  }
  // Version 1 let a paused run's hold run out while paused; version 2 stops its clock at the
  // pause. A record paused mid-hold keeps what was left when it was last saved.
  const hold = s.holdUntil;
  const at = s.updatedAt;
  if (s.status === 'paused' && s.holdLeftMs === undefined && typeof hold === 'number' && typeof at === 'number' && hold > at) {
    s.holdLeftMs = hold - at;
    delete s.holdUntil;
  }
}

/** `waiting` from version 1's words (the engine sets both since version 2). Unknown words: none (the next tick sets it). */
function waitingOf(s: Obj, words: string): Waiting | undefined {
  const num = (v: unknown) => (typeof v === 'number' ? { until: v } : {});
  const approval = isObj(s.approval) ? s.approval : undefined;
  const rollback = isObj(s.rollback) ? s.rollback : undefined;
  if (words.startsWith('hold until ')) return { kind: 'hold', ...num(s.holdUntil) };
  if (words.startsWith('checks: ')) return { kind: 'checks', ...(isObj(s.checks) ? { checks: Object.entries(s.checks).filter(([, r]) => isObj(r) && r.verdict !== 'pass').map(([n]) => n) } : {}) };
  if (words.startsWith('rollout window')) return { kind: 'window' };
  if (words.startsWith('schedule: ')) return { kind: 'schedule' };
  if (words.startsWith('applying ')) return { kind: 'applying' };
  if (words.startsWith('a human')) return { kind: 'human' };
  if (words.startsWith('approval for ') && approval && typeof approval.key === 'string') return { kind: 'approval', gate: approval.key, ...num(approval.deadline) };
  if (words.startsWith('review: ')) return { kind: 'review', ...(approval && typeof approval.review === 'string' ? { gate: approval.review } : {}) };
  if (words.startsWith('gradual rollback: checks to pass')) return { kind: 'rollback-stable', ...(rollback && isObj(rollback.stable) ? num(rollback.stable.until) : {}) };
  if (words.startsWith('gradual rollback: next step')) return { kind: 'rollback-step', ...(rollback ? num(rollback.nextAt) : {}) };
  if (words.startsWith('a retry of the failed rollback')) return { kind: 'rollback-retry' };
  if (words === 'rollback to finish' || words === 'the rollback retry to finish') return { kind: 'rollback' };
  return undefined;
}
