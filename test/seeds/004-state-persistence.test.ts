/**
 * Seed 004 "Feature Flag Rollout Guide" (state persistence) → plans/state-persistence.yaml on
 * the virtual clock. Week 1 starts on Monday 2025-03-03 08:00 UTC; the window opens at 09:00.
 */
import { describe, expect, it } from 'vitest';
import { drive, observer } from '../unit/helpers.js';
import { D, flagStates, H, load, MONDAY, noticeText, sim, stepDates, weekday } from './helpers.js';

describe('seed 004: state persistence', () => {
  it('"Day 1: 09:00 - Deploy at 0% … 15:00 - Increase to 25% / Day 2: 09:00 - Increase to 50% … 15:00 - Increase to 75% / Day 3: 09:00 - Increase to 100%"', async () => {
    const r = await sim(await load('state-persistence'));
    expect(stepDates(r.events).filter(([s]) => s.startsWith('core'))).toEqual([
      ['core: 0%', '2025-03-03T09:00:00.000Z'],
      ['core: 1%', '2025-03-03T09:30:00.000Z'],
      ['core: 5%', '2025-03-03T11:00:00.000Z'],
      ['core: 10%', '2025-03-03T13:00:00.000Z'],
      ['core: 25%', '2025-03-03T15:00:00.000Z'],
      ['core: 50%', '2025-03-04T09:00:00.000Z'],
      ['core: 75%', '2025-03-04T15:00:00.000Z'],
      ['core: 100%', '2025-03-05T09:00:00.000Z'],
    ]);
  });

  it('"Pre-Rollout Announcement: Subject: State Persistence Rollout Starting [Date] … We will begin rolling out state persistence on [Date] at [Time]" — a week before a scheduled start', async () => {
    const plan = await load('state-persistence');
    const nine = Date.parse('2025-03-03T09:00:00Z'); // `rollout start … --at "mon 09:00"`, a fortnight ahead
    const { r, title, text } = await noticeText(plan, 'run.announced', { start: nine - 14 * D, startAt: nine });
    const ann = r.events.find((e) => e.type === 'run.announced')!;
    expect(new Date(ann.at).toISOString()).toBe('2025-02-24T09:00:00.000Z');
    expect(title).toBe('Rollout starting Mon 3 Mar 2025: state-persistence');
    expect(text.split('\n').slice(0, 5)).toEqual(['Subject: State Persistence Rollout Starting Mon 3 Mar 2025', '', 'Team,', '', 'We will begin rolling out state persistence on Mon 3 Mar 2025 at 09:00 UTC.']);
    expect(text).toContain('- Initial: 1% of traffic');
    expect(text).toContain('- Target: 100% on day 3; the whole plan done by its end'); // [End Date]: `rollout start --at` estimates it (test/unit/scheduled-start)
    expect(text).toContain('Monitor: https://grafana.prod/d/state-health');
    expect(text).toMatch(/- Phases: core 0% → 1% → 5% → 10% → 25% → 50% → 75% → 100%; snapshots internal 100% · beta 0% · ga 0%; recovery 1% → /);
    // Announced to the team, then the week-1 timeline from the scheduled start, exactly as before.
    expect(r.events.filter((e) => e.type === 'notify.sent' && e.msg.startsWith('notice run.announced:')).map((e) => e.msg)).toEqual(['notice run.announced: sent to team, log']);
    expect(stepDates(r.events).filter(([s]) => s.startsWith('core')).slice(0, 2)).toEqual([
      ['core: 0%', '2025-03-03T09:00:00.000Z'],
      ['core: 1%', '2025-03-03T09:30:00.000Z'],
    ]);
    expect(r.state.status).toBe('completed');
  });

  it('"Pre-Rollout Announcement" … "Pre-Rollout Checklist" — scheduled a week ahead, the items are confirmed during the wait and "Day 1: 09:00 - Deploy at 0%" comes on time', async () => {
    const plan = await load('state-persistence');
    const nine = Date.parse('2025-03-03T09:00:00Z');
    const ids = plan.phases[0]!.checklist!.map((i) => i.id);
    // Scheduled on the Monday before; the checklist is open from then, ticked on Wednesday.
    const t = drive(plan, {
      obs: observer(plan, {}, {}, nine),
      start: nine - 7 * D,
      create: { startAt: nine, source: 'command' },
      controls: [{ at: 2 * D, ctl: { kind: 'confirm', items: ids, by: 'release-manager' } }],
      until: (s) => s.step >= 0,
    });
    expect(t.of('checklist.requested')[0]!.at).toBe(nine - 7 * D);
    expect(t.of('checklist.completed')[0]!.at).toBe(nine - 5 * D);
    expect(t.of('run.announced')[0]!.at).toBe(nine - 7 * D);
    expect(t.of('run.started')[0]!.at).toBe(nine);
    expect(t.of('step.applied')[0]!.at).toBe(nine); // "09:00 - Deploy at 0%", not held up by the checklist
    // Nobody confirms during the wait: at 09:00 the run waits at the checklist, writing nothing.
    const idle = drive(plan, { obs: observer(plan, {}, {}, nine), start: nine - 7 * D, create: { startAt: nine }, limitMs: 7 * D + 2 * H });
    expect(idle.state.status).toBe('awaiting-approval');
    expect(idle.state.waiting).toEqual({ kind: 'checklist', gate: 'checklist:p0' });
    expect(idle.of('step.applied')).toEqual([]);
  });

  it('"Week 2: Additional Features — Enable Snapshots: # Start with internal ring" — Monday of week 2, {"internal": 100, "beta": 0, "ga": 0}', async () => {
    const r = await sim(await load('state-persistence'));
    const snap = stepDates(r.events).filter(([s]) => s.startsWith('snapshots'));
    expect(snap).toEqual([['snapshots: internal 100% · beta 0% · ga 0%', '2025-03-10T09:00:00.000Z']]);
  });

  it('"Enable Recovery: # After snapshots stable … {"enabled": true, "percentage": 50}" — in week 2, ending at 50%', async () => {
    const r = await sim(await load('state-persistence'));
    const rec = stepDates(r.events).filter(([s]) => s.startsWith('recovery'));
    expect(rec.map(([s]) => s)).toEqual(['recovery: 1%', 'recovery: 5%', 'recovery: 10%', 'recovery: 25%', 'recovery: 50%']);
    for (const [, at] of rec) expect(Date.parse(at)).toBeLessThan(Date.parse('2025-03-15T00:00:00Z')); // week 2
    expect(r.state.flags.enable_state_recovery).toMatchObject({ enabled: true, percentage: 50 });
  });

  it('"Week 3: Use-Case Rollout — # Start with low-risk use case … # Gradually enable others … percentage: 10"', async () => {
    const r = await sim(await load('state-persistence'));
    const uc = stepDates(r.events).filter(([s]) => s.startsWith('use-case'));
    expect(uc[0]).toEqual(['use-case-startgame: internal 100% · beta 50% · ga 0%', '2025-03-17T09:00:00.000Z']); // Monday of week 3
    expect(uc.slice(1).map(([s]) => s)).toEqual(['use-case-playturn: 10%', 'use-case-declare: 10%', 'use-case-scoring: 10%']);
  });

  it('the flags end where the guide leaves them', async () => {
    const r = await sim(await load('state-persistence'));
    expect(r.state.status).toBe('completed');
    expect(flagStates(r.state)).toEqual({
      use_state_persistence: '100%', // "Thursday: Complete rollout"
      enable_state_snapshots: '0% internal:100,beta:0', // internal ring (ga = everybody else = 0%)
      enable_state_recovery: '50%',
      use_state_persistence_startgame: '0% internal:100,beta:50',
      use_state_persistence_playturn: '10%',
      use_state_persistence_declare: '10%',
      use_state_persistence_scoring: '10%',
      state_persistence_performance: '100%', // the A/B experiments: everybody in, split into variants
      recovery_feature_value: '100%',
    });
  });

  it('"### Pre-Rollout Checklist" "- [ ] All tests passing in staging" … "- [ ] Customer support notified" — each item confirmed by a person before the first step', async () => {
    const plan = await load('state-persistence');
    expect(plan.phases[0]!.checklist!.map((i) => i.text)).toEqual([
      'All tests passing in staging',
      'Rollback script tested',
      'Monitoring dashboards ready',
      'Alert thresholds configured',
      'On-call team briefed',
      'Customer support notified',
    ]);
    expect(plan.phases[0]!.approval).toBeUndefined();
    // Nobody confirms: the simulation waits at the checklist and no flag is written.
    const r = await sim(plan, { approvals: 'wait' });
    expect(r.events.some((e) => e.type === 'step.applied')).toBe(false);
    expect(r.events.filter((e) => e.type === 'checklist.requested').map((e) => e.data!.key)).toEqual(['checklist:p0']);
    expect(r.state.approval!.checklist!.every((i) => !i.confirmed)).toBe(true);
    // People tick the items one by one on Monday morning, before the 09:00 window: five of six
    // do not open the gate; the sixth does, and "Day 1: 09:00 - Deploy at 0%" follows.
    const ids = plan.phases[0]!.checklist!.map((i) => i.id);
    const t = drive(plan, {
      obs: observer(plan),
      start: MONDAY,
      limitMs: 2 * H,
      controls: ids.map((id, i) => ({ at: (i + 1) * 5 * 60_000, ctl: { kind: 'confirm' as const, items: [id], by: i < 3 ? 'qa-lead' : 'sre-oncall' } })),
    });
    const confirmed = t.of('checklist.confirmed');
    expect(confirmed.map((e) => [e.data!.item, e.data!.name, new Date(e.at).toISOString().slice(11, 16)])).toEqual([
      ['staging-tests', 'qa-lead', '08:05'],
      ['rollback-script', 'qa-lead', '08:10'],
      ['dashboards', 'qa-lead', '08:15'],
      ['alert-thresholds', 'sre-oncall', '08:20'],
      ['oncall-briefed', 'sre-oncall', '08:25'],
      ['support-notified', 'sre-oncall', '08:30'],
    ]);
    expect(t.of('checklist.requested')[0]!.at).toBe(MONDAY); // asked at once, not when the window opens
    expect(t.of('checklist.completed')[0]!.at).toBe(MONDAY + 30 * 60_000);
    expect(t.of('step.applied')[0]!.at).toBe(MONDAY + H); // 09:00, when the window opens
  });

  it('"DON\'T: Rollout during peak hours" — every step on a weekday between 09:00 and 17:00', async () => {
    const r = await sim(await load('state-persistence'));
    for (const e of r.events.filter((x) => x.type === 'step.applied')) {
      expect(['sat', 'sun']).not.toContain(weekday(e.at));
      const h = new Date(e.at).getUTCHours();
      expect(h >= 9 && h < 17, new Date(e.at).toISOString()).toBe(true);
    }
  });

  it('"Error Rate > 5% → Pause rollout" and "# Freeze current percentage"', async () => {
    const r = await sim(await load('state-persistence'), { checks: { 'error-rate': [{ after: '4h', value: 0.07 }] } });
    expect(r.state.status).toBe('paused');
    expect(r.state.frozen).toEqual(['use_state_persistence']);
    expect(r.state.flags.use_state_persistence).toMatchObject({ enabled: true, percentage: 5 });
  });

  it('"Recovery Failures > 1% → Rollback recovery feature" — only enable_state_recovery goes off, and the rest of the rollout goes on', async () => {
    // Recovery starts on Wednesday of week 2 (day 9); failures from 13:00 UTC on day 9, while at 5 %.
    const r = await sim(await load('state-persistence'), { checks: { 'recovery-failures': [{ after: '9d5h', value: 0.05 }] } });
    const rb = r.events.find((e) => e.type === 'rollback.started')!;
    expect(rb.msg).toMatch(/of enable_state_recovery only/);
    expect(r.events.find((e) => e.type === 'rollback.scoped-done')!.msg).toMatch(/the rollout goes on without it/);
    expect(r.events.filter((e) => e.type === 'step.skipped').map((e) => e.msg.split(' skipped')[0])).toEqual(['recovery 10%', 'recovery 25%', 'recovery 50%']); // it was at 5%
    const uc = stepDates(r.events).filter(([s]) => s.startsWith('use-case'));
    expect(uc[0]).toEqual(['use-case-startgame: internal 100% · beta 50% · ga 0%', '2025-03-17T09:00:00.000Z']); // still week 3
    expect(r.state.status).toBe('completed');
    expect(flagStates(r.state)).toEqual({
      use_state_persistence: '100%',
      enable_state_snapshots: '0% internal:100,beta:0',
      enable_state_recovery: 'off',
      use_state_persistence_startgame: '0% internal:100,beta:50',
      use_state_persistence_playturn: '10%',
      use_state_persistence_declare: '10%',
      use_state_persistence_scoring: '10%',
      // "A/B Testing Configuration": both experiments split everybody into their variants.
      state_persistence_performance: '100%',
      recovery_feature_value: '100%',
    });
  });

  it('"P99 Latency > 100ms → Investigate, possibly pause" — a notice, the run goes on once it recovers', async () => {
    const r = await sim(await load('state-persistence'), { checks: { 'p99-latency': [{ after: '4h', value: 140 }, { after: '5h', value: 60 }] } });
    expect(r.events.some((e) => e.type === 'breach.detected' && /p99-latency/.test(e.msg))).toBe(true);
    expect(r.state.status).toBe('completed');
  });

  it('"# Rollback to 25%" — `rollout rollback --to 25` steps the live flag down and pauses; resume climbs again', async () => {
    const plan = await load('state-persistence');
    const t = drive(plan, {
      start: MONDAY,
      autoApprove: true, // the Pre-Rollout Checklist (ticked at once)
      obs: observer(plan, {}, {}, MONDAY),
      controls: [
        { at: 26 * H, ctl: { kind: 'rollback', reason: 'errors at 50%', to: 25 } },
        { at: 27 * H, ctl: { kind: 'resume' } },
      ],
      until: (s) => s.phase === 0 && s.step === 6,
    });
    const partial = t.of('rollback.partial')[0]!;
    expect(partial.msg).toMatch(/from 50% to 25%/);
    expect(t.performed.some((p) => p.action.kind === 'apply-flags' && p.action.purpose === 'partial')).toBe(true);
    expect(t.state.flags.use_state_persistence).toMatchObject({ percentage: 75 });
  });

  it('"Complete Rollback: # Disable all state persistence" — every flag off, then scripts/rollback_state_persistence.py', async () => {
    const r = await sim(await load('state-persistence'), { controls: [{ after: '10d', kind: 'rollback', reason: 'emergency' }] });
    expect(r.state.status).toBe('rolled-back');
    for (const v of Object.values(flagStates(r.state))) expect(v).toBe('off');
    expect(r.events.some((e) => e.type === 'command.finished' && /rollback_state_persistence/.test(e.msg))).toBe(true);
  });
});
void D;
