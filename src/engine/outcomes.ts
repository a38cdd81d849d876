import { formatDuration } from '../util/duration.js';
/** Action outcomes: the runner reports how a queued action went; the run's state follows. */
import type { Plan } from '../plan/model.js';
import { Draft, iso } from './draft.js';
import { notify } from './notice.js';
import { stepLabel } from './steps.js';
import { pause } from './transitions.js';
import type { Action, Decision, FailedStep, Outcome, RollbackState, RunState } from './types.js';

export function complete(plan: Plan, state: RunState, actionId: number, outcome: Outcome, now: number): Decision {
  const d = new Draft(state, plan, now);
  const s = d.s;
  const idx = s.pending.findIndex((a) => a.id === actionId);
  if (idx < 0) return d.done();
  const [a] = s.pending.splice(idx, 1) as [Action];
  const rb = s.rollback;
  switch (a.kind) {
    case 'apply-flags': {
      if (outcome.ok) for (const c of a.changes) s.flags[c.flag] = { enabled: c.enabled, percentage: c.enabled ? (c.percentage ?? 100) : 0, ...(c.rings ? { rings: c.rings } : {}) };
      if (a.purpose === 'step') {
        const label = stepLabel(plan, a.phase!, a.step!);
        if (!outcome.ok) {
          d.emit('step.failed', `could not apply ${plan.phases[a.phase!]!.name} ${label}: ${outcome.detail}`, { phase: a.phase, step: a.step, readBack: outcome.readBack });
          if (s.status === 'running') pause(d, `flag backend failed while applying ${label}: ${outcome.detail}. Fix the backend, then \`rollout resume\` retries this step`);
          break;
        }
        const phaseChanged = a.phase !== s.phase || s.step < 0;
        // promote --full covers the phase it was given in, not the next one.
        if (s.promoteFull && a.phase !== s.phase) s.promoteFull = false;
        s.phase = a.phase!;
        s.step = a.step!;
        s.stepAppliedAt = now;
        const st = plan.phases[s.phase]!.steps[s.step]!;
        const lastOfPhase = s.step === plan.phases[s.phase]!.steps.length - 1;
        s.holdUntil = s.promoteFull ? now : now + st.holdMs;
        if (s.promoteFull && lastOfPhase) s.promoteFull = false;
        if (phaseChanged) d.emit('phase.started', `phase ${plan.phases[s.phase]!.name} started`, { phase: s.phase });
        d.emit('step.applied', `${plan.phases[s.phase]!.name}: ${label} applied; holding ${formatDuration(s.holdUntil - now)} until ${iso(s.holdUntil)}`, {
          phase: s.phase,
          step: s.step,
          changes: a.changes,
          holdUntil: s.holdUntil,
        });
        if (s.status === 'running') {
          s.waitingFor = `hold until ${iso(s.holdUntil)}`;
          s.waiting = { kind: 'hold', until: s.holdUntil };
        }
        notify(d, 'step.applied', 'info');
      } else if (a.purpose === 'cohort') {
        const what = a.cohorts ?? 'a cohort';
        if (outcome.ok) d.emit('rollback.cohort-applied', `${what}: ${a.changes.map((c) => `${c.flag} ${c.enabled ? `${c.percentage ?? 100}%` : 'off'}${c.exclude?.segments?.length || c.exclude?.rings?.length ? ` except ${[...(c.exclude.segments ?? []).map((x) => `segment ${x}`), ...(c.exclude.rings ?? []).map((x) => `ring ${x}`)].join(', ')}` : ''}`).join(', ')} written`, { changes: a.changes });
        else {
          d.emit('rollback.cohort-failed', `${what}: the flag write FAILED: ${outcome.detail}`, { readBack: outcome.readBack });
          const why = `the flag write for ${what} FAILED (${outcome.detail}); fix the backend, then \`rollout resume\` (the next step writes it again), or \`rollout rollback\` to turn the flags off for everybody`;
          if (s.status === 'running' || s.status === 'awaiting-approval') pause(d, why);
          else if (s.status === 'paused') s.reason = why;
        }
      } else if (a.purpose === 'partial') {
        const to = a.changes[0]?.percentage ?? 0;
        if (outcome.ok) d.emit('rollback.partial-done', `partial rollback: ${a.changes.map((c) => c.flag).join(', ')} at ${to}%`, { to });
        else {
          d.emit('rollback.partial-failed', `partial rollback to ${to}% FAILED: ${outcome.detail}`, { to, readBack: outcome.readBack });
          if (s.status === 'paused') s.reason = `partial rollback to ${to}% FAILED (${outcome.detail}); fix the backend and retry, or \`rollout rollback\` to turn the flags off`;
        }
      } else {
        if (!outcome.ok && rb) failStep(rb, { step: 'flags', detail: outcome.detail }, `flag write failed: ${outcome.detail}`);
        if (rb && rb.mode === 'gradual' && rb.stage < plan.rollback.steps.length) {
          const st = plan.rollback.steps[rb.stage]!;
          rb.stage++;
          rb.nextAt = now + st.waitMs;
          // A health-gated stage ("0% after stable"): the next stage waits for the checks, at most maxWait.
          const gated = st.stableForMs !== undefined && rb.stage < plan.rollback.steps.length;
          if (gated) {
            rb.stable = { forMs: st.stableForMs!, until: now + (st.maxWaitMs ?? st.stableForMs!) };
            rb.nextAt = undefined;
            s.checks = {}; // every check must prove itself afresh at the new percentage
            s.lastTickAt = undefined; // judged at once: "stable" is counted from the stage, not an interval later
          }
          const then = gated ? `; next once the checks have passed for ${formatDuration(st.stableForMs!)} (at most ${formatDuration(st.maxWaitMs ?? 0)})` : st.waitMs ? `; next in ${formatDuration(st.waitMs)}` : '';
          d.emit(outcome.ok ? 'rollback.step' : 'rollback.step-failed', `rollback: flags to ${st.percent}%${outcome.ok ? '' : ` FAILED: ${outcome.detail}`}${then}`, { percent: st.percent });
        } else {
          if (rb) rb.stage = plan.rollback.steps.length;
          d.emit(outcome.ok ? 'rollback.flags-off' : 'rollback.flags-failed', outcome.ok ? `rollback: flags off (${a.changes.map((c) => c.flag).join(', ')})` : `rollback: turning flags off FAILED: ${outcome.detail}`, { readBack: outcome.readBack });
        }
      }
      break;
    }
    case 'run-command':
      d.emit(outcome.ok ? 'command.finished' : 'command.failed', `${a.purpose} command "${a.command.name}": ${outcome.detail}`, { argv: a.command.argv, output: outcome.output });
      if (!outcome.ok && rb) {
        if (a.purpose === 'rollback') failStep(rb, { step: 'command', index: a.index ?? plan.rollback.commands.findIndex((c) => c.name === a.command.name), name: a.command.name, detail: outcome.detail }, `${a.command.name}: ${outcome.detail}`);
        else rb.failures.push(`${a.command.name}: ${outcome.detail}`); // escalation: reported, not retried
      }
      break;
    case 'health-check':
      if (rb) rb.healthy = outcome.ok;
      d.emit(outcome.ok ? 'health.ok' : 'health.failed', `health check after rollback: ${outcome.detail}`, { output: outcome.output });
      if (!outcome.ok && rb) failStep(rb, { step: 'health-check', detail: outcome.detail }, `health check failed: ${outcome.detail}`);
      break;
    case 'notify':
      d.emit(outcome.ok ? 'notify.sent' : 'notify.failed', `notice ${a.event}: ${outcome.detail}`);
      break;
    case 'freeze-flags': {
      const verb = a.frozen ? 'freeze' : 'unfreeze';
      d.emit(outcome.ok ? (a.frozen ? 'flags.frozen' : 'flags.unfrozen') : 'freeze.failed', `${verb} ${a.flags.join(', ')}: ${outcome.detail}`, { flags: a.flags });
      break;
    }
    case 'record-incident':
      d.emit(outcome.ok ? 'incident.recorded' : 'incident.failed', `incident: ${a.incident.reason} (${outcome.detail})`, { incident: a.incident });
      break;
  }
  return d.done();
}

/** A failed rollback step: in words (`failures`) and as what a retry repeats (`failed`). */
function failStep(rb: RollbackState, f: FailedStep, text: string) {
  rb.failures.push(text);
  const failed = (rb.failed ?? []).filter((x) => x.step !== f.step || (x.step === 'command' && f.step === 'command' && x.index !== f.index));
  rb.failed = [...failed, f];
}
