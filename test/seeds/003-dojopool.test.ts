/**
 * Seed 003 "DojoPool Phased Production Deployment Plan" → plans/dojopool.yaml on the virtual
 * clock, deployment on Monday 2025-03-03 08:00 UTC.
 */
import { describe, expect, it } from 'vitest';
import type { RunState } from '../../src/engine/types.js';
import { drive, observer } from '../unit/helpers.js';
import { D, flagStates, H, iso, load, M, MONDAY, noticeTargets, sim, stepDates } from './helpers.js';

/** Every item of the checklist `key` confirmed as soon as the run waits at it (tests about what comes after). */
const CHECKLIST = (key: string) => ({ at: (s: RunState) => s.approval?.key === key, ctl: { kind: 'confirm' as const, items: [], all: true, by: 'release-manager' } });

describe('seed 003: DojoPool', () => {
  it('Phase 1 "Pre-Deployment Checklist": "- [ ] All staging environment tests passed" … "- [ ] Security audit completed" … "- [ ] Communication plan distributed" — nothing deploys until each is confirmed', async () => {
    const plan = await load('dojopool');
    expect(plan.phases[0]!.checklist!.map((i) => i.text)).toEqual([
      'All staging environment tests passed',
      'Production infrastructure provisioned',
      'Security audit completed',
      'Performance baseline established',
      'Rollback procedures tested',
      'Communication plan distributed',
    ]);
    const obs = observer(plan, {}, {}, MONDAY);
    const first5 = ['staging-tests', 'infrastructure', 'performance-baseline', 'rollback-tested', 'communication-plan'];
    const t = drive(plan, {
      start: MONDAY,
      obs,
      limitMs: 12 * H,
      controls: [
        { at: H, ctl: { kind: 'confirm', items: first5, by: 'devops-lead' } },
        { at: 2 * H, ctl: { kind: 'confirm', items: ['security-audti'], by: 'security' } }, // a typo: refused
        { at: 3 * H, ctl: { kind: 'approve', by: 'cto' } }, // a go/no-go does not replace the checklist
        { at: 4 * H, ctl: { kind: 'confirm', items: ['security-audit'], by: 'security', note: 'pen test report 2025-02' } },
      ],
    });
    expect(t.refused).toEqual([
      '"security-audti" is not an item of the pre-rollout checklist for phase internal — did you mean "security-audit"?',
      expect.stringMatching(/waits at a checklist, not a go\/no-go: 1 item\(s\) still to confirm \(security-audit\)/),
    ]);
    expect(t.of('step.applied')[0]!.at).toBe(MONDAY + 4 * H); // "Deploy" only after the last item
    const done = t.of('checklist.completed')[0]!;
    expect(done.msg).toBe('pre-rollout checklist for phase internal complete: staging-tests (devops-lead), infrastructure (devops-lead), security-audit (security), performance-baseline (devops-lead), rollback-tested (devops-lead), communication-plan (devops-lead)');
  });

  it('Phase 2 "Pre-Deployment Checklist": "- [ ] Phase 1 success criteria met" … "- [ ] Database performance optimized" — asked 48 hours after deployment, before the go/no-go', async () => {
    const plan = await load('dojopool');
    const t = drive(plan, { start: MONDAY, obs: observer(plan, {}, {}, MONDAY), controls: [CHECKLIST('checklist:p0'), { at: 50 * H, ctl: { kind: 'confirm', items: [], all: true, by: 'beta-lead' } }], limitMs: 3 * D });
    const asked = t.of('checklist.requested')[1]!;
    expect(asked.at - MONDAY).toBe(48 * H);
    expect((asked.data!.items as Array<{ text: string }>).map((i) => i.text)).toEqual(['Phase 1 success criteria met', 'Load testing completed for target user volume', 'Beta user communication plan ready', 'Support team briefed and ready', 'Database performance optimized']);
    expect(t.of('approval.requested')[0]!.at - MONDAY).toBe(50 * H); // then the go/no-go
    expect(plan.phases.slice(1).map((p) => p.checklist!.length)).toEqual([5, 5, 5]); // phases 2, 3, 4
  });

  it('"Decision Window: 48 hours after deployment" — the phase-2 go/no-go is asked 48 hours after phase 1 deploys', async () => {
    const r = await sim(await load('dojopool'));
    const deployed = r.events.find((e) => e.type === 'step.applied' && /internal: 5%/.test(e.msg))!.at;
    const asked = r.events.filter((e) => e.type === 'approval.requested')[0]!; // phase 1 has a checklist, no go/no-go
    expect(asked.at - deployed).toBe(48 * H);
    expect(asked.msg).toMatch(/decision window until 2025-03-08T08:00:00.000Z/); // decided by day 5 ("3-5 days")
  });

  it('"Duration: 3-5 days" / "Decision Window: 48 hours after deployment" — with no decision the run stops (no-go by default) at day 5', async () => {
    const plan = await load('dojopool');
    const t = drive(plan, { start: MONDAY, obs: observer(plan, {}, {}, MONDAY), controls: [CHECKLIST('checklist:p0'), CHECKLIST('checklist:p1')] });
    expect(t.state.status).toBe('paused');
    expect(t.of('approval.timeout')[0]!.at - MONDAY).toBe(5 * D);
  });

  it('"No-Go Criteria: Any failure criteria met" — "> 1% error rate for 30+ minutes" stops and asks; it does not roll back on its own', async () => {
    const r = await sim(await load('dojopool'), { checks: { 'error-rate-critical-p1': [{ after: '1d', value: 0.015 }] } });
    expect(r.state.status).toBe('paused');
    expect(r.events.some((e) => e.type === 'rollback.started')).toBe(false);
    const first = r.events.find((e) => e.type === 'check.changed' && /error-rate-critical-p1: fail/.test(e.msg))!;
    expect(r.events.find((e) => e.type === 'breach.detected')!.at - first.at).toBe(30 * M);
    expect(r.state.reason).toMatch(/`rollout resume` or `rollout rollback`/);
    expect(noticeTargets(r.events, 'run.paused')[0]).toEqual(['engineering', 'log']);
    expect(noticeTargets(r.events, 'page.opened')[0]).toEqual(['team-lead']); // P1: the engineering team lead is paged
    expect(flagStates(r.state)).toEqual({ 'dojopool-production': '5%' });
  });

  it('"Manual: Engineering team decision" — after a No-Go, a human rolls back: "./rollback-production.sh --phase [current_phase]"', async () => {
    const r = await sim(await load('dojopool'), {
      checks: { 'error-rate-critical-p1': [{ after: '1d', value: 0.015 }] },
      controls: [{ after: '1d2h', kind: 'rollback', reason: 'no-go: errors above 1% for 30 minutes' }],
    });
    expect(r.state.status).toBe('rolled-back');
    expect(r.state.rollback!.trigger).toBe('manual');
    const cmd = r.events.find((e) => e.type === 'command.finished')!;
    expect((cmd.data as { argv: string[] }).argv).toEqual(['./scripts/rollback-production.sh', '--phase', '{{phase}}']);
    expect(r.events.some((e) => e.type === 'health.ok')).toBe(true);
    // [current_phase] and [rollback_reason] as the script receives them
    const plan = await load('dojopool');
    const t = drive(plan, { start: MONDAY, autoApprove: true, obs: observer(plan, { 'error-rate-critical-p1': (el) => (el >= D ? 0.015 : 0.001) }, {}, MONDAY), controls: [{ at: D + 2 * H, ctl: { kind: 'rollback', reason: 'no-go', by: 'lead' } }] });
    const run = t.performed.find((p) => p.action.kind === 'run-command')!.action as { env: Record<string, string> };
    expect(run.env).toMatchObject({ ROLLOUT_PHASE: 'internal', ROLLOUT_REASON: 'no-go' });
  });

  it('"> 2% error rate sustained for 2+ hours" (phase 2) pauses at 2 hours, not before', async () => {
    const r = await sim(await load('dojopool'), { checks: { 'error-rate-critical-p2': [{ after: '4d', value: 0.03 }] } });
    const first = r.events.find((e) => e.type === 'check.changed' && /error-rate-critical-p2: fail/.test(e.msg))!;
    expect(r.events.find((e) => e.type === 'breach.detected')!.at - first.at).toBe(2 * H);
    expect(r.state.status).toBe('paused');
  });

  it('"Duration: 7-10 days" for phases 2 and 3, then "Full Traffic Release" and "Post-Launch Monitoring (First 72 hours)"', async () => {
    const r = await sim(await load('dojopool'));
    expect(stepDates(r.events)).toEqual([
      ['internal: 5%', '2025-03-03T08:00:00.000Z'],
      ['limited-beta: 10%', '2025-03-05T08:00:00.000Z'],
      ['open-beta: 25%', '2025-03-12T08:00:00.000Z'],
      ['open-beta: 50%', '2025-03-13T08:00:00.000Z'],
      ['open-beta: tournaments=true', '2025-03-14T08:00:00.000Z'],
      ['open-beta: social-features=true', '2025-03-15T08:00:00.000Z'],
      ['open-beta: marketplace=true', '2025-03-16T08:00:00.000Z'],
      ['ga: 100%', '2025-03-19T08:00:00.000Z'],
    ]);
    expect(iso(r.state.finishedAt!)).toBe('2025-03-22T08:00:00.000Z');
    expect(r.events.filter((e) => e.type === 'report.sent')).toHaveLength(72); // "Hourly performance reports"
    // "Remove traffic restrictions" / "Enable tournament features … social features … marketplace"
    expect(flagStates(r.state)).toEqual({ 'dojopool-production': '100%', tournaments: '100%', 'social-features': '100%', marketplace: '100%' });
  });

  it('"Go Criteria: All success criteria met" — phase 1 criteria failing keep the phase-2 go/no-go from being asked', async () => {
    const r = await sim(await load('dojopool'), { checks: { 'error-rate-p1': [{ after: '0s', value: 0.0005 }, { after: '1d', value: 0.005 }, { after: '4d', value: 0.0005 }] } });
    const asked = r.events.filter((e) => e.type === 'approval.requested');
    expect((asked[0]!.at - MONDAY) / D).toBe(4);
  });

  describe('"Alert Response Procedures: Severity Levels" (notify.escalation)', () => {
    const pages = (r: { events: Array<{ type: string; at: number; data?: Record<string, unknown> }> }) =>
      r.events.filter((e) => e.type.startsWith('page.')).map((e) => [e.type, (e.data as { targets?: string[] }).targets ?? null, e.at] as const);

    it('"P0 (Critical): System down" — "Escalation: On-call engineer + CTO" (both at once, and "Stakeholders: Email notifications for critical issues"); "Response: Immediate (15 minutes)": paged again every 15 minutes until acknowledged', async () => {
      const r = await sim(await load('dojopool'), {
        checks: { 'system-down': [{ after: '0s', value: 1 }, { after: '1d', value: 0 }] },
        controls: [{ after: '1d40m', kind: 'abort', reason: 'stop the simulation' }],
      });
      const breach = r.events.find((e) => e.type === 'breach.detected')!;
      expect(breach.at - MONDAY).toBe(D);
      expect(r.events.find((e) => e.type === 'run.paused')!.at).toBe(breach.at); // stop and ask, like every No-Go
      const everyone = ['oncall', 'cto', 'stakeholders'];
      expect(pages(r).slice(0, 3)).toEqual([
        ['page.opened', everyone, breach.at],
        ['page.escalated', everyone, breach.at + 15 * M],
        ['page.escalated', everyone, breach.at + 30 * M],
      ]);
      expect(noticeTargets(r.events, 'page.opened')[0]).toEqual(everyone);
      const again = r.events.find((e) => e.type === 'page.escalated')!;
      expect(again.data).toMatchObject({ severity: 'P0', repeat: true });
      expect(again.msg).toMatch(/P0 page #1 not acknowledged within 15m \(waiting since 2025-03-04T08:00:00.000Z\): paging oncall, cto, stakeholders again/);
      expect(r.state.pages![0]).toMatchObject({ severity: 'P0', check: 'system-down', level: 0 });
    });

    it('"Response: Immediate (15 minutes)" — on-call acknowledging within 15 minutes stops the page: nobody is paged again', async () => {
      const r = await sim(await load('dojopool'), {
        checks: { 'system-down': [{ after: '0s', value: 1 }, { after: '1d', value: 0 }] },
        controls: [{ after: '1d10m', kind: 'ack', as: 'oncall-engineer' }, { after: '1d2h', kind: 'abort', reason: 'stop the simulation' }],
      });
      expect(pages(r).map((p) => p[0])).toEqual(['page.opened', 'page.acknowledged']);
      expect(r.state.pages![0]!.ack).toMatchObject({ name: 'oncall-engineer', at: MONDAY + D + 10 * M });
      expect(noticeTargets(r.events, 'page.acknowledged')[0]).toEqual(['oncall', 'cto', 'stakeholders']);
    });

    it('"P1 (High): Degraded performance" — "Response: Within 1 hour", "Escalation: Engineering team lead": > 1% errors for 30+ minutes pages the team lead, again after an hour unanswered', async () => {
      const r = await sim(await load('dojopool'), {
        checks: { 'error-rate-critical-p1': [{ after: '1d', value: 0.015 }] },
        controls: [{ after: '1d2h', kind: 'ack', as: 'team-lead' }, { after: '1d3h', kind: 'rollback', reason: 'no-go' }],
      });
      const opened = r.events.find((e) => e.type === 'page.opened')!;
      expect(opened.data).toMatchObject({ severity: 'P1', targets: ['team-lead'] });
      expect(opened.at - MONDAY).toBe(D + 30 * M);
      const again = r.events.filter((e) => e.type === 'page.escalated');
      expect(again.map((e) => [(e.at - opened.at) / H, (e.data as { repeat: boolean }).repeat])).toEqual([[1, true]]);
      expect(r.state.pages![0]!.ack).toMatchObject({ name: 'team-lead', via: 'ack' });
    });

    it('"P2 (Medium): Performance degradation" — "Response: Within 4 hours", "Escalation: Engineering team": a missed success criterion pages engineering with 4 hours to answer', async () => {
      const r = await sim(await load('dojopool'), { checks: { 'api-response-p1': [{ after: '0s', value: 100 }, { after: '12h', value: 250 }, { after: '20h', value: 100 }] } });
      const opened = r.events.find((e) => e.type === 'page.opened')!;
      expect(opened.data).toMatchObject({ severity: 'P2', targets: ['engineering'], deadline: opened.at + 4 * H });
      expect(opened.at - MONDAY).toBe(12 * H);
      // unanswered, engineering is paged again every 4 hours; the run goes on (a success criterion only gates)
      expect(r.events.filter((e) => e.type === 'page.escalated').map((e) => (e.at - opened.at) / H).slice(0, 2)).toEqual([4, 8]);
      expect(r.state.status).toBe('completed');
      expect(r.state.pages![0]!.closed).toMatchObject({ why: 'the run completed' });
    });

    it('"P3 (Low): Minor issues" — "Response: Within 24 hours", "Escalation: Development team": support load just above its GA target pages development', async () => {
      const r = await sim(await load('dojopool'), { checks: { 'support-load-p4': [{ after: '0s', value: 10 }, { after: '16d1h', value: 30 }, { after: '16d3h', value: 10 }] } });
      expect(r.state.status).toBe('completed');
      const opened = r.events.find((e) => e.type === 'page.opened')!;
      expect(opened.data).toMatchObject({ severity: 'P3', targets: ['development'], deadline: opened.at + 24 * H });
      expect(noticeTargets(r.events, 'page.opened')[0]).toEqual(['development']);
    });

    it('a rollback that fails pages P0 ("Critical") — on-call and the CTO, with 15 minutes to acknowledge', async () => {
      const r = await sim(await load('dojopool'), {
        checks: { 'error-rate-critical-p1': [{ after: '1d', value: 0.015 }] },
        controls: [{ after: '1d2h', kind: 'rollback', reason: 'no-go' }],
        failCommands: true,
      });
      expect(r.state.status).toBe('rollback-incomplete');
      const p0 = r.state.pages!.find((p) => p.severity === 'P0')!;
      expect(p0).toMatchObject({ level: 0, deadline: p0.openedAt + 15 * M });
      expect(p0.paged[0]!.targets).toEqual(['oncall', 'cto', 'stakeholders']);
      // the human who rolled back answered the P1 page; the P0 one is new and open
      expect(r.state.pages!.find((p) => p.severity === 'P1')!.ack).toMatchObject({ via: 'rollback' });
    });
  });
});
