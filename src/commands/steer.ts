/**
 * Sending a control to a run — the part every steering command shares (control.ts's pause,
 * approve, rollback…, confirm.ts's checklist ticks, ack): to the live driver's inbox, or
 * applied and carried out here when nobody drives the run; and the exit code that says whether
 * it was done. Also the item-by-item checklist walk `approve` and `confirm` both offer on a terminal.
 */
import type { ChecklistItemState, Control, RunState } from '../engine/types.js';
import { FINAL_STATUSES } from '../engine/types.js';
import { ExitCode, UsageError } from '../errors.js';
import { describeHolder } from '../state/index.js';
import { runJson } from '../output/run.js';
import { statusColor } from '../output/style.js';
import { follow } from '../runner/follow.js';
import { exitCodeFor, sendControl } from '../runner/session.js';
import { planOf, printJson, type Context } from './context.js';
import { safeText } from '../util/terminal.js';

export interface Opts {
  by?: string;
  /** approve: the named approver signing (default: --by, i.e. the user). */
  as?: string;
  reason?: string;
  note?: string;
  full?: boolean;
  mode?: 'immediate' | 'gradual';
  to?: number;
  takeover?: boolean;
  detach?: boolean;
  yes?: boolean;
  page?: number;
  /** rollback: a partial rollback for these segments / rings only (or, with undo, their return). */
  segment?: string[];
  ring?: string[];
  undo?: boolean;
  pause?: boolean;
}

export async function steer(c: Context, ref: string | undefined, make: (o: Opts) => Control, o: Opts, then: 'flush' | 'follow'): Promise<number> {
  const store = await c.openStore();
  const id = await store.resolve(ref);
  const before = await store.load(id);
  const plan = await planOf(c, before);
  const ctl = make(o);
  const driver = await store.driver(id);
  const sent = driver ? await sendControl(store, id, ctl, { clock: c.clock, waitMs: ctl.kind === 'rollback' ? 60_000 : 15_000 }) : undefined;
  if (!driver || (sent && 'driverGone' in sent)) {
    // No live driver (or it died while we waited): take the run over here. A request already
    // posted to the inbox is taken by our own loop; otherwise it is applied directly.
    const posted = Boolean(sent);
    if (!plan) throw new UsageError(`the plan of run ${id} (${before.plan.file}) no longer loads`, { hint: `Run \`rollout validate ${before.plan.file}\` and fix it; the run needs its plan to go on.` });
    if (FINAL_STATUSES.includes(before.status) && ctl.kind !== 'rollback') throw new UsageError(`run ${id} already ${before.status}`);
    // Apply and carry out here: rollback and resume follow the run; others flush what they queued.
    if (posted && !c.json) c.stderr(`the driver of run ${id} is gone (its lease lapsed); taking the run over here`);
    const code = await follow(c, store, plan, posted ? await store.load(id) : before, { takeover: o.takeover, detach: then === 'flush' || o.detach, yes: o.yes }, posted ? [] : [ctl]);
    // resume drives the run like start, so it exits like start: where the run stands.
    if (ctl.kind === 'resume') return code;
    return controlExit(ctl, code);
  }
  let state = sent as RunState;
  // A full rollback sent to a driver: wait (bounded) until it has been carried out, so the exit
  // code can say whether it was complete.
  const deadline = c.clock.now() + 120_000;
  while (ctl.kind === 'rollback' && ctl.to === undefined && !FINAL_STATUSES.includes(state.status) && exitCodeFor(state) !== ExitCode.ROLLBACK_FAILED && c.clock.now() < deadline) {
    await c.clock.sleep(250);
    state = await store.load(id);
  }
  report(c, state, `sent to ${describeHolder(driver)}, which drives the run`);
  // Sent to the driver, which goes on with it: done as asked (resume too: it does not follow here).
  return controlExit(ctl, exitCodeFor(state));
}

/**
 * A control command that did what was asked exits 0, so `rollout abort && next-step` works in
 * scripts; the run's state is in the output (and --json). 7 when a rollback ran but some of its
 * steps failed. A full rollback that has not finished (still stepping down, or interrupted)
 * keeps the run's code (6 in progress, 4 paused).
 */
function controlExit(ctl: Control, runCode: number): number {
  if (runCode === ExitCode.ROLLBACK_FAILED) return ExitCode.ROLLBACK_FAILED;
  if (ctl.kind === 'rollback' && ctl.to === undefined) return runCode === ExitCode.ROLLED_BACK ? ExitCode.OK : runCode;
  return ExitCode.OK;
}

function report(c: Context, s: RunState, note?: string) {
  if (c.json) printJson(c, { ...runJson(undefined, s), note: note ?? null, exitCode: exitCodeFor(s) });
  else c.stdout(`run ${s.id}: ${statusColor(s.status)(s.status)}${s.reason ? ` — ${safeText(s.reason)}` : ''}${s.waitingFor ? ` (${safeText(s.waitingFor)})` : ''}${note ? `\n${note}` : ''}`);
}

/**
 * On a terminal: ask item by item whether each open item is confirmed, as `me`; items only
 * others may confirm are listed, not asked. Returns the ids confirmed.
 */
export async function walkChecklist(c: Context, todo: ChecklistItemState[], me: string): Promise<string[]> {
  const picked: string[] = [];
  for (const i of todo) {
    if (i.by?.length && !i.by.includes(me)) {
      c.stdout(`☐ ${safeText(i.id)}: to be confirmed by ${safeText(i.by.join(' or '))}`);
      continue;
    }
    if (await c.prompt(`Checklist: ${safeText(i.text)} — confirmed?`, { signal: new AbortController().signal })) picked.push(i.id);
  }
  return picked;
}

/** The control that ticks (or, with undo, unticks) checklist items. */
export const confirmControl =
  (c: Context, items: string[], o: { undo?: boolean; all?: boolean }) =>
  (x: Opts): Control => ({ kind: 'confirm', items, by: c.who(x.by), ...(x.as ? { as: x.as } : {}), ...(x.note ? { note: x.note } : {}), ...(o.undo ? { undo: true } : {}), ...(o.all ? { all: true } : {}) });
