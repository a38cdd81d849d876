/** Human controls: pause, resume, approve, reject, abort, rollback (full or partial), promote. */
import type { Plan } from '../plan/model.js';
import { Draft } from './draft.js';
import { approvalFor, approvalWaiting } from './gates.js';
import { confirmItems, isChecklist, openItems } from './checklist.js';
import { partialRollback, retryRollback, startRollback } from './rollback.js';
import { excludeCohorts, reassertCohorts, restoreCohorts } from './cohorts.js';
import { cancelScheduled, scheduledRefusal } from './start.js';
import { formatDuration } from '../util/duration.js';
import { finish, freeze, pause, resumeHold } from './transitions.js';
import { ackPages, noOpenPage } from './pages.js';
import { FINAL_STATUSES, type Control, type Decision, type RunState } from './types.js';

/** Controls in words, for the refusal of a scheduled run. */
const PAST = { pause: 'paused', resume: 'resumed', approve: 'approved', reject: 'rejected', promote: 'promoted', 'retry-rollback': 'retried', ack: 'acknowledged', confirm: 'confirmed', exclude: 'rolled back for a segment or ring' };

export function control(plan: Plan, state: RunState, ctl: Control, now: number): Decision & { error?: string; hint?: string } {
  const d = new Draft(state, plan, now);
  const s = d.s;
  const by = ctl.by ? ` by ${ctl.by}` : '';
  const refuse = (error: string, hint?: string) => ({ state, events: [], error, hint });
  const final = FINAL_STATUSES.includes(s.status);
  // An incomplete rollback takes only what finishes it (rollback, resume, retry-rollback) or,
  // deliberately, abandons it (abort).
  if (s.status === 'rollback-incomplete' && !['rollback', 'resume', 'retry-rollback', 'abort', 'ack'].includes(ctl.kind))
    return refuse(`run ${s.id} has an incomplete rollback (${s.rollback?.failures.join('; ') ?? 'steps failed'}); it cannot be ${ctl.kind}d`, `Retry it: \`rollout rollback ${s.id} --reason …\` repeats the failed steps.`);
  if (s.status === 'rollback-incomplete' && ctl.kind !== 'abort' && ctl.kind !== 'ack' && !(ctl.kind === 'rollback' && ctl.to !== undefined)) {
    retryRollback(d, { by: ctl.by, ...('reason' in ctl && ctl.reason ? { reason: ctl.reason } : {}), ...(ctl.kind === 'retry-rollback' ? { escalate: ctl.escalate } : {}) });
    respond(d, ctl);
    return d.done();
  }
  // A scheduled run has written nothing: abort cancels it; nothing else applies before its start.
  // (A checklist before the first step is open while scheduled: its items can be confirmed.)
  if (s.status === 'scheduled' && ctl.kind !== 'abort' && !(ctl.kind === 'confirm' && s.approval?.checklist)) {
    const r = scheduledRefusal(s, ctl.kind === 'rollback' ? 'it has not started, so nothing was written to its flags and there is nothing to roll back' : `it cannot be ${(PAST as Record<string, string>)[ctl.kind] ?? `given "${ctl.kind}"`} before it starts`);
    return refuse(r.error, r.hint);
  }
  if (s.status === 'scheduled' && ctl.kind === 'abort') {
    s.pending = s.pending.filter((a) => a.kind === 'notify');
    cancelScheduled(d, `${ctl.reason}${by}`);
    return d.done();
  }
  // Before the control itself: an abort ends the run, which would close the pages unanswered.
  // (A refused control returns the state as it was, acknowledgement included.)
  respond(d, ctl);
  switch (ctl.kind) {
    case 'ack': {
      const none = noOpenPage(s, ctl.page);
      if (none) return refuse(none.error, none.hint);
      ackPages(d, { name: ctl.as ?? ctl.by ?? 'someone', ...(ctl.by ? { by: ctl.by } : {}), ...(ctl.note ? { note: ctl.note } : {}), via: 'ack' }, ctl.page);
      break;
    }
    case 'pause':
      if (s.status !== 'running' && s.status !== 'awaiting-approval') return refuse(`run ${s.id} is ${s.status}; only a running run can be paused`);
      pause(d, `${ctl.reason}${by}`);
      break;
    case 'resume':
      if (s.status !== 'paused') return refuse(`run ${s.id} is ${s.status}, not paused`, s.status === 'awaiting-approval' ? (s.approval?.checklist ? 'It waits at a checklist: `rollout confirm <item>` for each open item (`rollout confirm --list`).' : 'Use `rollout approve`.') : undefined);
      s.status = s.approval ? 'awaiting-approval' : 'running';
      if (s.approval?.deadline !== undefined && s.approval.deadline <= now) {
        // The window passed while paused: resuming opens a new one (else it would time out at once).
        const timeoutMs = approvalFor(plan, s.approval.phase, s.approval.step)?.timeoutMs ?? 0;
        s.approval = { ...s.approval, requestedAt: now, deadline: now + timeoutMs };
      }
      s.reason = undefined;
      s.waitingFor = undefined;
      s.waiting = undefined;
      s.checks = {}; // streaks restart: a paused check must prove itself again
      s.lastTickAt = undefined; // due at once: judge afresh now, not an interval after the last judgment
      {
        const left = resumeHold(d);
        d.emit('run.resumed', `resumed${by}${left !== undefined && s.holdUntil !== undefined ? `; ${formatDuration(left)} of the hold left (paused time counts only while checks ran and passed)` : ''}`, left !== undefined ? { holdLeftMs: left } : undefined);
      }
      freeze(d, false);
      // A cohort write may have failed while it ran (that paused it): write the exclusion again.
      if (s.excluded?.length) reassertCohorts(d);
      break;
    case 'confirm': {
      const no = confirmItems(d, ctl);
      if (no) return refuse(no.error, no.hint);
      break;
    }
    case 'approve': {
      const a = s.approval;
      if (!a || (s.status !== 'awaiting-approval' && s.status !== 'paused')) return refuse(`run ${s.id} is not waiting for an approval (it is ${s.status})`);
      if (isChecklist(a)) {
        const open = openItems(a).map((i) => i.id);
        return refuse(`run ${s.id} waits at a checklist, not a go/no-go: ${open.length} item(s) still to confirm (${open.join(', ')})`, `Confirm each item: \`rollout confirm ${s.id} <item> [--as <name>]\` (\`rollout confirm ${s.id} --list\` shows them).`);
      }
      // A named-approver gate (seed 001's four sign-offs) opens only at its quorum; each name counts once.
      if (a.approvers?.length) {
        const signed = [...(a.signed ?? [])];
        const names = ctl.all ? a.approvers.filter((n) => !signed.some((x) => x.name === n)) : [ctl.as ?? ctl.by ?? ''];
        for (const name of names) {
          if (!a.approvers.includes(name))
            return refuse(`"${name}" is not an approver of this gate (approvers: ${a.approvers.join(', ')})`, `Sign as one of them: \`rollout approve ${s.id} --as <name>\`.`);
          if (signed.some((x) => x.name === name)) {
            d.emit('approval.signed', `${name} has already signed; a second sign-off by the same person counts once`, { key: a.key, name, by: ctl.by, duplicate: true });
            continue;
          }
          signed.push({ name, ...(ctl.by ? { by: ctl.by } : {}), at: now });
          d.emit('approval.signed', `sign-off: ${name}${ctl.by && ctl.by !== name ? ` (by ${ctl.by})` : ''} — ${signed.length} of ${a.quorum ?? a.approvers.length}`, { key: a.key, name, by: ctl.by });
        }
        s.approval = { ...a, signed };
        if (signed.length < (a.quorum ?? a.approvers.length)) {
          if (s.status === 'awaiting-approval') {
            s.waitingFor = approvalWaiting(plan, s.approval);
            s.waiting = { kind: 'approval', gate: s.approval.key, ...(s.approval.deadline !== undefined ? { until: s.approval.deadline } : {}) };
          }
          break;
        }
      }
      const signers = s.approval?.signed?.map((x) => x.name);
      // Approving a paused run also resumes it: like resume, its checks must prove themselves again.
      if (s.status === 'paused') {
        s.checks = {};
        resumeHold(d);
      }
      s.approved.push(a.key);
      s.approval = undefined;
      s.status = 'running';
      s.lastTickAt = undefined; // due at once
      s.reason = undefined;
      s.waitingFor = undefined;
      s.waiting = undefined;
      d.emit('approval.granted', `go: approved${signers?.length ? ` — signed off by ${signers.join(', ')}` : by}${ctl.note ? ` (${ctl.note})` : ''}`, { key: a.key, by: ctl.by, ...(signers?.length ? { signed: signers } : {}) });
      freeze(d, false);
      break;
    }
    case 'reject':
      if (!s.approval || (s.status !== 'awaiting-approval' && s.status !== 'paused')) return refuse(`run ${s.id} is not waiting for an approval`);
      finish(d, 'aborted', `no-go${by}: ${ctl.reason}`);
      freeze(d, false); // the run ends: it releases what it froze
      break;
    case 'retry-rollback':
      return refuse(`run ${s.id} is ${s.status}; only an incomplete rollback is retried`);
    case 'abort':
      if (final) return refuse(`run ${s.id} already ${s.status}`);
      if (s.status === 'rollback-incomplete') {
        // Abandoning a rollback is a human decision: the run ends and releases its flags, which
        // may still be on. Said loudly, recorded with who did it.
        finish(d, 'aborted', `${ctl.reason}${by}; the INCOMPLETE rollback was abandoned (${s.rollback?.failures.join('; ') ?? ''}): check the flags ${(s.rollback?.flags ?? plan.rollback.flags).join(', ')} by hand`);
        break;
      }
      if (s.status === 'rolling-back') return refuse(`run ${s.id} is rolling back; a rollback is not aborted halfway`, 'Wait for it to finish; `rollout status` shows progress.');
      s.pending = s.pending.filter((a) => a.kind === 'notify');
      finish(d, 'aborted', `${ctl.reason}${by}; flags left as they are (use \`rollout rollback\` to turn them off)`);
      freeze(d, false); // left as they are, but not frozen: the run ends and releases what it froze
      break;
    case 'rollback':
      if ((s.status === 'rolling-back' || (s.status === 'rolled-back' && s.pending.length)) && ctl.to === undefined) {
        // Already under way (a driver killed mid-rollback, or one still at it): carry on with it.
        d.emit('rollback.continued', `rollback already under way; continuing it (asked again${by}: ${ctl.reason})`, { by: ctl.by, pending: s.pending.length });
        break;
      }
      if (s.status === 'rolling-back' || s.status === 'rolled-back') return refuse(`run ${s.id} is already ${s.status}`);
      if (ctl.to !== undefined) {
        const no = partialRollback(d, ctl.to, `${ctl.reason}${by}`);
        if (no) return refuse(no.error, no.hint);
        break;
      }
      startRollback(d, ctl.reason, 'manual', ctl.mode ?? plan.rollback.mode, undefined, ctl.by);
      break;
    case 'exclude': {
      const no = ctl.undo ? restoreCohorts(d, ctl.cohorts, { reason: ctl.reason, by: ctl.by }) : excludeCohorts(d, ctl.cohorts, { reason: ctl.reason, by: ctl.by, trigger: 'manual', pause: ctl.pause });
      if (no) return refuse(no.error, no.hint);
      break;
    }
    case 'promote':
      if (s.status !== 'running') return refuse(`run ${s.id} is ${s.status}; only a running run can be promoted`, s.status === 'paused' ? 'Resume it first.' : undefined);
      if (s.holdUntil !== undefined && s.holdUntil > now) s.holdUntil = now;
      if (ctl.full) s.promoteFull = true;
      s.lastTickAt = undefined; // due at once
      d.emit('run.promoted', `promoted${ctl.full ? ' (full: holds skipped to the end of this phase)' : ': hold ended early'}${by}; checks must still pass`);
      break;
  }
  return d.done();
}

/**
 * A person who resumes, rolls back or aborts the run has responded to its pages: they are
 * acknowledged in that person's name (escalation stops). Other controls (pause, promote,
 * approvals, a worker's retry) are not a response to a page.
 */
function respond(d: Draft, ctl: Control) {
  if ((ctl.kind !== 'resume' && ctl.kind !== 'rollback' && ctl.kind !== 'abort') || !ctl.by) return;
  ackPages(d, { name: ctl.by, via: ctl.kind });
}
