/**
 * A run record read back from the store is checked before anything uses it, like a plan: a
 * record of the wrong shape (valid JSON, but `"flags": 5`) would otherwise crash a command
 * deep inside ("Cannot read properties of undefined") or be taken for another run. Hand-written
 * rather than a schema library: `status` reads every record and must start fast; this checks
 * exactly what the commands and the engine rely on.
 */
import { STATE_SCHEMA_VERSION } from '../engine/types.js';

const STATUSES = ['scheduled', 'running', 'paused', 'awaiting-approval', 'rolling-back', 'rollback-incomplete', 'completed', 'rolled-back', 'aborted'];
const ACTION_KINDS = ['apply-flags', 'run-command', 'health-check', 'notify', 'record-incident', 'freeze-flags'];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const what = (v: unknown) => (v === undefined ? 'nothing' : v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)?.slice(0, 40)}`);

/**
 * Problems with a run record (empty: it is usable). `expectedId`: the id the store filed it
 * under — a record naming another run is not that run.
 */
export function runRecordProblems(s: unknown, expectedId?: string): string[] {
  const out: string[] = [];
  if (!isObj(s)) return [`the record is ${what(s)}, not an object`];
  const need = (path: string, ok: boolean, expected: string, v: unknown) => {
    if (!ok) out.push(`${path}: expected ${expected}, found ${what(v)}`);
    return ok;
  };
  const str = (o: Obj, k: string, path = k) => need(path, typeof o[k] === 'string', 'a string', o[k]);
  const int = (o: Obj, k: string, path = k) => need(path, Number.isInteger(o[k]), 'a whole number', o[k]);
  const num = (o: Obj, k: string, path = k) => need(path, typeof o[k] === 'number' && Number.isFinite(o[k]), 'a number', o[k]);
  const optNum = (o: Obj, k: string, path = k) => o[k] === undefined || o[k] === null || num(o, k, path);
  const optStr = (o: Obj, k: string, path = k) => o[k] === undefined || o[k] === null || str(o, k, path);

  if (s.schema !== STATE_SCHEMA_VERSION) out.push(`schema: expected ${STATE_SCHEMA_VERSION}, found ${what(s.schema)}`);
  if (str(s, 'id') && expectedId !== undefined && s.id !== expectedId && (s.id as string).replace(/[^A-Za-z0-9._-]/g, '_') !== expectedId)
    out.push(`id: the record says "${String(s.id).slice(0, 80)}" but is filed as run "${expectedId}"`);
  need('status', typeof s.status === 'string' && STATUSES.includes(s.status), `one of ${STATUSES.join(', ')}`, s.status);
  if (need('plan', isObj(s.plan), 'an object {name, file, hash}', s.plan)) {
    const p = s.plan as Obj;
    str(p, 'name', 'plan.name');
    str(p, 'file', 'plan.file');
    str(p, 'hash', 'plan.hash');
  }
  int(s, 'phase');
  int(s, 'step');
  need('approved', Array.isArray(s.approved) && s.approved.every((x) => typeof x === 'string'), 'a list of strings', s.approved);
  if (need('flags', isObj(s.flags), 'an object (flag → {enabled, percentage})', s.flags))
    for (const [f, r] of Object.entries(s.flags as Obj)) {
      if (!need(`flags.${f}`, isObj(r), 'an object {enabled, percentage}', r)) continue;
      need(`flags.${f}.enabled`, typeof (r as Obj).enabled === 'boolean', 'true or false', (r as Obj).enabled);
      num(r as Obj, 'percentage', `flags.${f}.percentage`);
    }
  if (need('checks', isObj(s.checks), 'an object (check → last judgment)', s.checks))
    for (const [c, r] of Object.entries(s.checks as Obj)) need(`checks.${c}`, isObj(r), 'an object', r);
  if (need('pending', Array.isArray(s.pending), 'a list of actions', s.pending))
    (s.pending as unknown[]).forEach((a, i) => {
      if (!need(`pending.${i}`, isObj(a), 'an action object', a)) return;
      int(a as Obj, 'id', `pending.${i}.id`);
      need(`pending.${i}.kind`, ACTION_KINDS.includes((a as Obj).kind as string), `one of ${ACTION_KINDS.join(', ')}`, (a as Obj).kind);
      if ((a as Obj).kind === 'apply-flags') need(`pending.${i}.changes`, Array.isArray((a as Obj).changes), 'a list', (a as Obj).changes);
    });
  if (s.rollback !== undefined && need('rollback', isObj(s.rollback), 'an object', s.rollback)) {
    const r = s.rollback as Obj;
    str(r, 'reason', 'rollback.reason');
    need('rollback.failures', Array.isArray(r.failures) && r.failures.every((x) => typeof x === 'string'), 'a list of strings', r.failures);
    int(r, 'stage', 'rollback.stage');
  }
  if (s.approval !== undefined && s.approval !== null && need('approval', isObj(s.approval), 'an object', s.approval)) {
    str(s.approval as Obj, 'key', 'approval.key');
    int(s.approval as Obj, 'phase', 'approval.phase');
    int(s.approval as Obj, 'step', 'approval.step');
  }
  // A scheduled run waits for schedule.at: without it nothing would ever start it.
  if ((s.schedule !== undefined || s.status === 'scheduled') && need('schedule', isObj(s.schedule), 'an object {at, scheduledAt, source}', s.schedule)) {
    num(s.schedule as Obj, 'at', 'schedule.at');
    num(s.schedule as Obj, 'scheduledAt', 'schedule.scheduledAt');
    optNum(s.schedule as Obj, 'announceAt', 'schedule.announceAt');
    optNum(s.schedule as Obj, 'announcedAt', 'schedule.announcedAt');
  }
  if (s.frozen !== undefined) need('frozen', Array.isArray(s.frozen), 'a list of flags', s.frozen);
  if (s.pages !== undefined && need('pages', Array.isArray(s.pages), 'a list of pages', s.pages))
    (s.pages as unknown[]).forEach((p, i) => {
      if (!need(`pages.${i}`, isObj(p), 'an object {id, severity, openedAt, level, paged}', p)) return;
      const o = p as Obj;
      int(o, 'id', `pages.${i}.id`);
      str(o, 'severity', `pages.${i}.severity`);
      num(o, 'openedAt', `pages.${i}.openedAt`);
      int(o, 'level', `pages.${i}.level`);
      need(`pages.${i}.paged`, Array.isArray(o.paged) && o.paged.length > 0 && o.paged.every((x) => isObj(x) && Array.isArray(x.targets) && typeof x.at === 'number'), 'a list of {level, targets, at}', o.paged);
      optNum(o, 'deadline', `pages.${i}.deadline`);
    });
  num(s, 'startedAt');
  optStr(s, 'startedBy');
  num(s, 'updatedAt');
  optNum(s, 'holdUntil');
  optNum(s, 'finishedAt');
  optStr(s, 'reason');
  optStr(s, 'waitingFor');
  int(s, 'seq');
  int(s, 'nextActionId');
  return out;
}
