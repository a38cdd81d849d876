/**
 * Steering a run: pause, resume, promote, approve, reject, abort, rollback. When a live
 * process drives the run, the request goes to its inbox; otherwise it is applied here, and
 * whatever it queued (flags off, commands, notices) is carried out here too (steer.ts).
 */
import { FINAL_STATUSES, type Cohort, type Control, type RunState } from '../engine/types.js';
import { noOpenPage } from '../engine/pages.js';
import { UsageError } from '../errors.js';
import { StateWriteError } from '../state/fs-guard.js';
import { runJson } from '../output/run.js';
import { follow } from '../runner/follow.js';
import { planOf, printJson, type Context } from './context.js';
import { safeText } from '../util/terminal.js';
import { confirmControl, steer, walkChecklist, type Opts } from './steer.js';

const reasonOf = (o: Opts, fallback?: string): string => {
  const r = o.reason ?? fallback;
  if (!r || !r.trim()) throw new UsageError('a reason is required', { hint: 'Pass --reason "what you saw", e.g. --reason "error rate 7% at 25%".' });
  if (r.length > 2000) throw new UsageError('the reason is longer than 2000 characters');
  return r;
};

export const handlers: Record<string, (c: Context, ref: string | undefined, o: Opts) => Promise<number>> = {
  pause: (c, ref, o) => steer(c, ref, (x) => ({ kind: 'pause', reason: reasonOf(x, 'paused by hand'), by: c.who(x.by) }), o, 'flush'),
  async resume(c, ref, o) {
    const store = await c.openStore();
    const id = await store.resolve(ref);
    const s = await store.load(id);
    if (FINAL_STATUSES.includes(s.status) && !s.pending.length) throw new UsageError(`run ${id} already ${s.status}; there is nothing to resume`, { hint: 'Start a new run with `rollout start <plan>`.' });
    const driver = await store.driver(id);
    // A crashed run (still "running" but no process) is picked up as it is; a paused one is resumed.
    // A crashed run (still "running" but no process), or a finished one whose last actions
    // (a notice, the incident record) never ran, is picked up as it is; a paused one is resumed.
    if (!driver && s.status !== 'paused' && s.status !== 'rollback-incomplete') {
      const plan = await planOf(c, s);
      if (!plan) throw new UsageError(`the plan of run ${id} (${s.plan.file}) no longer loads`, { hint: `Run \`rollout validate ${s.plan.file}\`.` });
      if (!c.json) c.stderr(`picking up run ${id} where it stopped (${s.status}${s.pending.length ? `, ${s.pending.length} action(s) in flight` : ''})`);
      return follow(c, store, plan, s, { takeover: o.takeover, detach: o.detach, yes: o.yes });
    }
    return steer(c, ref, (x) => ({ kind: 'resume', by: c.who(x.by) }), o, 'follow');
  },
  async ack(c, ref, o) {
    const store = await c.openStore();
    const id = await store.resolve(ref);
    const before = await store.load(id);
    const none = noOpenPage(before, o.page);
    if (none) throw new UsageError(none.error, { hint: none.hint });
    const code = await steer(c, id, (x) => ({ kind: 'ack', by: c.who(x.by), ...(x.as ? { as: x.as } : {}), ...(x.note ? { note: x.note } : {}), ...(x.page !== undefined ? { page: x.page } : {}) }), o, 'flush');
    if (!c.json) {
      const after = await store.load(id);
      for (const p of after.pages ?? []) {
        const was = before.pages?.find((b) => b.id === p.id);
        if (p.ack && !was?.ack) c.stdout(`acknowledged ${safeText(p.severity)} page #${p.id} as ${safeText(p.ack.name)} (paged: ${safeText([...new Set(p.paged.flatMap((x) => x.targets))].join(', '))}); escalation stopped`);
      }
    }
    return code;
  },
  promote: (c, ref, o) => steer(c, ref, (x) => ({ kind: 'promote', full: Boolean(x.full), by: c.who(x.by) }), o, 'flush'),
  async approve(c, ref, o) {
    // On a terminal, `approve` at a checklist walks its items (as `rollout confirm` does): a
    // person confirms each; off a terminal the engine refuses it with the confirm command.
    if (c.interactive && !c.json) {
      const store = await c.openStore();
      const s = await store.load(await store.resolve(ref));
      if (s.approval?.checklist && s.status === 'awaiting-approval') {
        c.stdout(`run ${s.id} waits at a checklist, not a go/no-go: confirm each item`);
        const me = o.as ?? c.who(o.by);
        const picked = await walkChecklist(c, s.approval.checklist.filter((i) => !i.confirmed), me);
        if (!picked.length) {
          c.stdout('nothing confirmed');
          return 0;
        }
        return steer(c, s.id, confirmControl(c, picked, {}), { by: o.by, as: o.as, note: o.note }, 'flush');
      }
    }
    return steer(c, ref, (x) => ({ kind: 'approve', by: c.who(x.by), ...(x.as ? { as: x.as } : {}), ...(x.note ? { note: x.note } : {}) }), o, 'flush');
  },
  reject: (c, ref, o) => steer(c, ref, (x) => ({ kind: 'reject', by: c.who(x.by), reason: reasonOf(x) }), o, 'flush'),
  abort: (c, ref, o) => steer(c, ref, (x) => ({ kind: 'abort', reason: reasonOf(x, 'aborted by hand'), by: c.who(x.by) }), o, 'flush'),
  async rollback(c, ref, o) {
    if (o.segment?.length || o.ring?.length) return cohortRollback(c, ref, o);
    if (o.undo || o.pause) throw new UsageError(`--${o.undo ? 'undo' : 'pause'} goes with --segment or --ring`, { hint: 'e.g. `rollout rollback --segment beta-users --undo`.' });
    const make = (x: Opts): Control => ({ kind: 'rollback', reason: reasonOf(x, c.env.ROLLOUT_REASON), by: c.who(x.by), ...(x.mode ? { mode: x.mode } : {}), ...(typeof x.to === 'number' ? { to: x.to } : {}) });
    try {
      // A partial rollback leaves the run paused: do it and return (exit 4), do not wait with it.
      return await steer(c, ref, make, o, typeof o.to === 'number' ? 'flush' : 'follow');
    } catch (err) {
      // The state store cannot be written: the flags still go off, unrecorded (exit 8).
      if (!(err instanceof StateWriteError) || typeof o.to === 'number') throw err;
      return rollbackWithoutState(c, ref, make(o), err);
    }
  },
};

/**
 * `rollback --segment/--ring`: a partial rollback for some users (seed 002). Refused at once
 * when the plan's backend cannot turn a flag off for some users only; otherwise it goes
 * through the engine like every control (the driver's inbox, or here).
 */
async function cohortRollback(c: Context, ref: string | undefined, o: Opts): Promise<number> {
  const store = await c.openStore();
  const id = await store.resolve(ref);
  const state = await store.load(id);
  const plan = await planOf(c, state);
  const { canExclude } = await import('../plan/lint.js');
  if (plan && !canExclude(plan)) {
    const { EXCLUDE_BACKENDS } = await import('../adapters/flags/shared.js');
    throw new UsageError(`the ${plan.backend.type} backend of plan ${plan.name} cannot turn a flag off for some users only`, {
      hint: `Backends that can: ${EXCLUDE_BACKENDS.join(', ')}, and http when its write request sends {{exclude}}. Or roll back everybody: \`rollout rollback ${id} --reason …\` (or \`--to <percent>\`).`,
    });
  }
  const cohorts = [...(o.segment ?? []).map((name) => ({ kind: 'segment' as const, name })), ...(o.ring ?? []).map((name) => ({ kind: 'ring' as const, name }))];
  if (FINAL_STATUSES.includes(state.status)) throw finishedRun(state, plan?.backend.type ?? 'flag', plan?.rollback.flags ?? Object.keys(state.flags), cohorts, o.undo);
  const make = (x: Opts): Control => ({ kind: 'exclude', cohorts, reason: x.undo ? (x.reason ?? 'restored') : reasonOf(x, c.env.ROLLOUT_REASON), by: c.who(x.by), ...(x.undo ? { undo: true } : {}), ...(x.pause ? { pause: true } : {}) });
  return steer(c, ref, make, o, 'flush');
}

/**
 * A cohort rollback (or --undo) on a run that ended: the engine only moves cohorts of a run in
 * progress. Say what the run left on the backend and what the user can do instead.
 */
function finishedRun(s: RunState, backend: string, rollbackFlags: string[], cohorts: Cohort[], undo?: boolean): UsageError {
  const names = cohorts.map((x) => `${x.kind} ${x.name}`).join(', ');
  const flags = rollbackFlags.join(', ');
  const what = undo ? 'a cohort restore (--segment/--ring --undo)' : 'a cohort rollback (--segment/--ring)';
  const onBackend = `exclude ${names} on the ${backend} backend itself`;
  const everybody = `\`rollout rollback ${s.id} --reason …\` turns ${flags} off for everybody`;
  const startNext = `\`rollout start ${s.plan.file}\``;
  const leftOut = s.excluded?.filter((x) => cohorts.some((c) => c.kind === x.kind && c.name === x.name)) ?? [];
  let hint: string;
  if (s.status === 'rolled-back') hint = `${flags} ${flags.includes(',') ? 'are' : 'is'} already off for everybody, ${names} included. To roll out again, start a new run: ${startNext}.`;
  else if (undo && leftOut.length)
    hint = `The run ended with ${names} still left out on the backend; the plan's next run takes ${leftOut.length > 1 ? 'them' : 'it'} over: start it (${startNext}) and run \`rollout rollback --${cohorts[0]!.kind} ${cohorts[0]!.name} --undo\` on it, or lift the exclusion on the ${backend} backend itself.`;
  else if (undo) hint = `${names} ${cohorts.length > 1 ? 'are' : 'is'} not rolled back in this run: nothing to restore.`;
  else hint = `The run ${s.status === 'aborted' ? 'left its flags as they were' : `left ${flags} on for everybody`}: ${onBackend}, or ${everybody}.`;
  return new UsageError(`run ${s.id} is ${s.status}: ${what} acts on a run in progress`, { hint });
}

/**
 * `rollback` when the state cannot be written: carry out the run's emergency procedure in
 * memory and say on stderr what could not be recorded. Exit 8: the store failed.
 */
async function rollbackWithoutState(c: Context, ref: string | undefined, ctl: Control, why: StateWriteError): Promise<number> {
  const store = await c.openStore();
  const id = await store.resolve(ref);
  const state = await store.load(id);
  const plan = await planOf(c, state);
  if (!plan) throw new UsageError(`the state cannot be written (${why.message}) and the plan of run ${id} (${state.plan.file}) no longer loads: nothing was done`, { hint: why.hint });
  c.stderr(`rollout: ${safeText(why.message)}\nrolling back anyway: the flags go off, but none of it can be recorded`);
  const { Reporter } = await import('../output/reporter.js');
  const reporter = new Reporter({ json: c.json, out: c.streams.stderr, env: c.env });
  const { rollbackUnrecorded } = await import('../runner/unrecorded.js');
  const r = await rollbackUnrecorded({
    plan,
    state,
    control: ctl,
    cwd: c.cwd,
    writeIncident: (i, inc, key) => store.writeIncident(i, inc, key),
    log: (m) => reporter.line(safeText(m)),
    onEvent: (e, s) => reporter.event(e, s),
  });
  const flags = Object.entries(r.state.flags).map(([f, v]) => `${safeText(f)}=${v.enabled ? `${v.percentage}%` : 'off'}`).join(', ');
  c.stderr(
    [
      `rollout: rolled back WITHOUT RECORDING IT in ${safeText(why.dir)}: ${r.state.status}${flags ? `; flags ${flags}` : ''}${r.state.rollback?.failures.length ? `; failures: ${safeText(r.state.rollback.failures.join('; '))}` : ''}`,
      'not recorded:',
      ...r.notRecorded.map((l) => `  - ${safeText(l)}`),
      `hint: ${safeText(why.hint ?? '')}`,
      `Until then \`rollout status ${id}\` shows the old state; once the directory is writable, \`rollout rollback ${id} --reason …\` records the rollback (flag writes repeat harmlessly; rollback commands run again).`,
    ].join('\n'),
  );
  if (c.json) printJson(c, { ...runJson(plan, r.state), recorded: false, notRecorded: r.notRecorded, error: why.message, hint: why.hint ?? null, exitCode: why.exitCode });
  return why.exitCode;
}
