/**
 * Seed 002 "Progressive Rollout Strategy - Protocol-Agnostic Chat Architecture" →
 * plans/chat-architecture.yaml on the virtual clock, from Monday 2025-03-03 08:00 UTC.
 */
import { describe, expect, it } from 'vitest';
import type { Action } from '../../src/engine/types.js';
import { stepChanges } from '../../src/engine/engine.js';
import { drive, observer } from '../unit/helpers.js';
import { D, flagStates, load, M, MONDAY, noticeTargets, sim, stepDates } from './helpers.js';

describe('seed 002: chat architecture', () => {
  it('"PHASE_1_FLAGS = { useNewArchitecture: false, enableShadowLogging: true, shadowProcessingEnabled: true, performanceMonitoring: true }" for "1-2 weeks"', async () => {
    const plan = await load('chat-architecture');
    const t = drive(plan, { start: MONDAY, autoApprove: true, obs: observer(plan, {}, {}, MONDAY), until: (s) => s.phase === 0 && s.step === 0 });
    expect(flagStates(t.state)).toEqual({ useNewArchitecture: 'off', enableShadowLogging: '100%', shadowProcessingEnabled: '100%', performanceMonitoring: '100%' });
    expect(plan.phases[0]!.steps[0]!.holdMs).toBe(7 * D);
  });

  it('"useNewArchitecture: ({ userId }) => isBetaUser(userId)" — beta users only, nobody else', async () => {
    const plan = await load('chat-architecture');
    const beta = plan.phases.findIndex((p) => p.name === 'beta');
    const flag = stepChanges(plan, beta, 0).find((c) => c.flag === 'useNewArchitecture')!;
    expect(flag).toMatchObject({ enabled: true, percentage: 0, segments: ['beta-users'] });
    const r = await sim(plan);
    expect(r.events.find((e) => e.type === 'step.applied' && /beta/.test(e.msg))!.msg).toMatch(/^beta: 0% applied/);
  });

  it('"Week 1: 10% of traffic / Week 2: 25% of traffic (if metrics good)" then "Week 3: 50%", "Week 4: 75%", Phase 4 100%', async () => {
    const r = await sim(await load('chat-architecture'));
    const dates = stepDates(r.events);
    const at = (s: string) => Date.parse(dates.find(([x]) => x === s)![1]);
    expect((at('limited: 25%') - at('limited: 10%')) / D).toBe(7);
    expect((at('moderate: 50%') - at('limited: 25%')) / D).toBe(7);
    expect((at('majority: 75%') - at('moderate: 50%')) / D).toBe(7);
    expect((at('full: 100%') - at('majority: 75%')) / D).toBe(7);
    expect(r.state.status).toBe('completed');
    // PHASE_4_FLAGS: useNewArchitecture true, enableAGUIEvents true, enableVerboseLogging false, performanceMonitoring true.
    expect(flagStates(r.state)).toMatchObject({ useNewArchitecture: '100%', enableAGUIEvents: '100%', enableVerboseLogging: 'off', performanceMonitoring: '100%', enableShadowLogging: 'off', shadowProcessingEnabled: 'off' });
  });

  it('"Error rate > 0.5% for more than 5 minutes" → "Critical Triggers (Immediate Rollback)": flags off, incident, critical-alerts, health check', async () => {
    const r = await sim(await load('chat-architecture'), { checks: { 'error-rate-critical': [{ after: '22d', value: 0.009 }] } });
    const first = r.events.find((e) => e.type === 'check.changed' && /error-rate-critical: fail/.test(e.msg))!;
    const breach = r.events.find((e) => e.type === 'breach.detected')!;
    expect(breach.at - first.at).toBe(5 * M); // not before 5 minutes
    expect(r.state.status).toBe('rolled-back');
    expect(r.state.flags.useNewArchitecture).toMatchObject({ enabled: false });
    const types = r.events.map((e) => e.type);
    expect(types.indexOf('rollback.flags-off')).toBeLessThan(types.indexOf('incident.recorded'));
    expect(types).toContain('health.ok');
    expect(r.events.some((e) => e.type === 'notify.sent' && /^notice rollback\.started: sent to critical-alerts/.test(e.msg))).toBe(true);
  });

  it('"P99 response time > 500ms for more than 2 minutes" rolls back after 2 minutes, not 1', async () => {
    const r = await sim(await load('chat-architecture'), { checks: { 'p99-critical': [{ after: '22d', value: 700 }] } });
    const first = r.events.find((e) => e.type === 'check.changed' && /p99-critical: fail/.test(e.msg))!;
    expect(r.events.find((e) => e.type === 'breach.detected')!.at - first.at).toBe(2 * M);
    expect(r.state.status).toBe('rolled-back');
  });

  it('"Complete service unavailability" — no instance up rolls back; one instance down does not', async () => {
    const plan = await load('chat-architecture');
    const c = plan.phases[0]!.checks.find((x) => x.name === 'service-available')!;
    expect(c.query).toBe('max(up{job="chat"})'); // 1 while any instance is up
    const down = await sim(plan, { checks: { 'service-available': [{ after: '22d', value: 0 }] } });
    expect(down.state.status).toBe('rolled-back');
    const oneDown = await sim(plan, { checks: { 'service-available': [{ after: '22d', value: 1 }] } });
    expect(oneDown.state.status).toBe('completed');
  });

  it('"Error rate 0.2-0.5% for more than 10 minutes" → "Warning Triggers (Manual Review Required)": the run pauses for a human', async () => {
    const r = await sim(await load('chat-architecture'), { checks: { 'error-rate-warning': [{ after: '22d', value: 0.003 }] } });
    expect(r.state.status).toBe('paused');
    expect(r.state.flags.useNewArchitecture).toMatchObject({ enabled: true, percentage: 10 });
  });

  it('"Automated rollback if error rate > 0.2%" (Phase 3a) — rolls back in 3a, only pauses elsewhere', async () => {
    const in3a = await sim(await load('chat-architecture'), { checks: { 'error-rate-auto-rollback': [{ after: '22d', value: 0.003 }] } });
    expect(in3a.state.status).toBe('rolled-back');
    expect(in3a.state.reason).toMatch(/error-rate-auto-rollback/);
  });

  it('"Manual review checkpoints every 2 days" (Phase 3b) — a review every 2 days during 3b only, each approved', async () => {
    const r = await sim(await load('chat-architecture'));
    const start = r.events.find((e) => e.type === 'phase.started' && /moderate/.test(e.msg))!.at;
    expect(r.events.filter((e) => e.type === 'report.sent').map((e) => (e.at - start) / D)).toEqual([2, 4, 6]);
    const reviews = r.events.filter((e) => e.type === 'approval.requested' && (e.data as { review?: string }).review);
    expect(reviews.map((e) => (e.at - start) / D)).toEqual([2, 4, 6]);
  });

  it('"Manual review checkpoints every 2 days" — a checkpoint blocks: without a review the run does not reach 3c', async () => {
    // Checks judged hourly instead of every minute: the same decisions, 60× fewer ticks over 6 weeks.
    const plan = { ...(await load('chat-architecture')), intervalMs: 60 * M };
    type S = import('../../src/engine/types.js').RunState;
    const gates = [1, 2, 3, 4, 5].flatMap((i) => [
      { at: (s: S) => s.approval?.key === `checklist:p${i}`, ctl: { kind: 'confirm' as const, items: [], all: true, by: 'team' } }, // the milestones
      { at: (s: S) => s.status === 'awaiting-approval' && s.approval?.key === `p${i}`, ctl: { kind: 'approve' as const, by: 'product' } },
    ]);
    const t = drive(plan, { start: MONDAY, obs: observer(plan, {}, {}, MONDAY), controls: gates });
    const moderate = t.of('phase.started').find((e) => /moderate/.test(e.msg))!.at;
    expect(t.state.status).toBe('awaiting-approval');
    expect(t.state.phase).toBe(plan.phases.findIndex((p) => p.name === 'moderate'));
    expect(t.state.waitingFor).toBe('review: manual review checkpoint (`rollout approve`)');
    expect(t.of('approval.requested').at(-1)!.at - moderate).toBe(2 * D);
    expect(t.of('phase.started').some((e) => /majority/.test(e.msg))).toBe(false);
    // With a reviewer approving each checkpoint, the run goes on to 3c when 3b's week is over.
    const reviews = [1, 2, 3].map(() => ({ at: (s: S) => s.status === 'awaiting-approval' && Boolean(s.approval?.review), ctl: { kind: 'approve' as const, by: 'reviewer' } }));
    const t2 = drive(plan, { start: MONDAY, obs: observer(plan, {}, {}, MONDAY), controls: [...gates, ...reviews], until: (s) => s.phase === 4 });
    expect(t2.of('approval.granted').filter((e) => /reviewer/.test(e.msg))).toHaveLength(3);
    expect(t2.state.phase).toBe(4); // majority (3c)
  });

  it('"Timeline and Milestones": "Week 1-2: Phase 1 (Shadow Deployment) - [ ] Configure monitoring and alerting … - [ ] Team training on new monitoring tools" — confirmed before the beta go/no-go', async () => {
    const plan = await load('chat-architecture');
    const texts = (name: string) => plan.phases.find((p) => p.name === name)!.checklist!.map((i) => i.text);
    expect(texts('beta')).toEqual(['Deploy new architecture in shadow mode', 'Configure monitoring and alerting', 'Validate production environment compatibility', 'Team training on new monitoring tools']);
    expect(texts('limited')).toEqual(['Collect user feedback and usage data', 'Optimize performance based on real traffic', 'Document any issues and resolutions']);
    expect(texts('moderate')).toEqual(['Enhanced monitoring and alerting', 'Performance optimization', 'Stakeholder reporting']);
    expect(texts('majority')).toEqual(['Mid-rollout health assessment', 'Performance benchmarking', 'Prepare for majority rollout']);
    expect(texts('full')).toEqual(['Final optimization round', 'Full deployment preparation', 'Team readiness assessment']);
    // Shadow's week ends on day 7: its milestones are asked; three of four confirmed do not
    // bring the beta go/no-go; "Team training on new monitoring tools" on day 9 does.
    const t = drive(plan, {
      start: MONDAY,
      obs: observer(plan, {}, {}, MONDAY),
      limitMs: 10 * D,
      controls: [
        { at: 7 * D + 60 * M, ctl: { kind: 'confirm', items: ['shadow-deployed', 'monitoring-alerting', 'environment-compatibility'], by: 'eng-lead' } },
        { at: 9 * D, ctl: { kind: 'confirm', items: ['team-training'], by: 'ops-lead' } },
      ],
    });
    expect(t.of('checklist.requested')[0]!.at - MONDAY).toBe(7 * D);
    expect(t.of('approval.requested').map((e) => e.at - MONDAY)).toEqual([9 * D]);
    expect(t.state.waiting).toEqual({ kind: 'approval', gate: 'p1' });
  });

  it('"Instant Rollback (< 30 seconds): Disable useNewArchitecture globally" — only that flag; the other flags stay', async () => {
    const plan = { ...(await load('chat-architecture')), intervalMs: 60 * M }; // hourly judgments: same decisions, fewer ticks
    const t = drive(plan, { start: MONDAY, autoApprove: true, obs: observer(plan, {}, {}, MONDAY), controls: [{ at: 40 * D, ctl: { kind: 'rollback', reason: 'manual' } }] });
    const off = t.performed.find((p) => p.action.kind === 'apply-flags' && p.action.purpose === 'rollback')!;
    expect((off.action as Extract<Action, { kind: 'apply-flags' }>).changes.map((c) => c.flag)).toEqual(['useNewArchitecture']);
    expect(off.at - MONDAY).toBe(40 * D); // in the same instant
    expect(flagStates(t.state)).toMatchObject({ useNewArchitecture: 'off', enableAGUIEvents: '100%' });
  });

  it('"Partial Rollback (Specific User Segments): … 2. Targeted Flag Update: Disable new architecture for specific cohorts 3. Monitoring: Enhanced monitoring of affected users" — one segment off, everybody else keeps 25 %, the team is told, later steps keep it out until it is restored', async () => {
    const plan = await load('chat-architecture');
    const r = await sim(plan, {
      controls: [
        { after: '30d', kind: 'rollback', segment: 'android-legacy', reason: 'android-legacy clients drop messages on the new transport' },
        { after: '40d', kind: 'rollback', segment: 'android-legacy', undo: true, reason: 'fixed in 2.3.1' },
      ],
    });
    const cohort = r.events.find((e) => e.type === 'rollback.cohort')!;
    expect(cohort.at - MONDAY).toBe(30 * D);
    expect(cohort.msg).toMatch(/PARTIAL ROLLBACK for segment android-legacy \(by scenario\): useNewArchitecture off for them; everybody else keeps useNewArchitecture 25%/);
    const written = r.events.find((e) => e.type === 'rollback.cohort-applied')!;
    expect(written.data?.changes).toEqual([expect.objectContaining({ flag: 'useNewArchitecture', enabled: true, percentage: 25, exclude: { segments: ['android-legacy'], rings: [] } })]);
    // Only that flag: the other flags are untouched, and no emergency rollback ran.
    expect(r.events.some((e) => e.type === 'rollback.started')).toBe(false);
    // 3. Monitoring: the alert reaches critical-alerts and the team.
    expect(noticeTargets(r.events, 'rollback.cohort')[0]).toEqual(['critical-alerts', 'team', 'log']);
    // 3b's 50 % (day 35) keeps the segment out; after the undo (day 40) 3c's 75 % has it back.
    const step = (label: string) => r.events.find((e) => e.type === 'step.applied' && e.msg.startsWith(label))!.data?.changes as Array<{ flag: string; exclude?: unknown }>;
    expect(step('moderate: 50%').find((c) => c.flag === 'useNewArchitecture')!.exclude).toEqual({ segments: ['android-legacy'], rings: [] });
    expect(step('majority: 75%').find((c) => c.flag === 'useNewArchitecture')!.exclude).toEqual({ segments: [], rings: [] });
    expect(r.state.status).toBe('completed');
    expect(flagStates(r.state)).toMatchObject({ useNewArchitecture: '100%' });
    // Never restored: the run does not call itself complete with a cohort still out.
    const stuck = await sim(plan, { controls: [{ after: '30d', kind: 'rollback', segment: 'android-legacy', reason: 'drops messages' }] });
    expect(stuck.state.status).toBe('paused');
    expect(stuck.state.waitingFor).toMatch(/segment android-legacy to be restored/);
    // "Instant Rollback" still turns it off for everybody, the cohort included.
    const full = await sim(plan, { controls: [{ after: '30d', kind: 'rollback', segment: 'android-legacy', reason: 'r' }], checks: { 'error-rate-critical': [{ after: '31d', value: 0.009 }] } });
    expect(full.state.status).toBe('rolled-back');
    expect(full.state.flags.useNewArchitecture).toMatchObject({ enabled: false });
  });
});
