/**
 * Seed 003 "DojoPool Phased Production Deployment Plan" → plans/dojopool.yaml on the virtual
 * clock, deployment on Monday 2025-03-03 08:00 UTC.
 */
import { describe, expect, it } from 'vitest';
import { drive, observer } from '../unit/helpers.js';
import { D, flagStates, H, iso, load, M, MONDAY, noticeTargets, sim, stepDates } from './helpers.js';

describe('seed 003: DojoPool', () => {
  it('"Decision Window: 48 hours after deployment" — the phase-2 go/no-go is asked 48 hours after phase 1 deploys', async () => {
    const r = await sim(await load('dojopool'));
    const deployed = r.events.find((e) => e.type === 'step.applied' && /internal: 5%/.test(e.msg))!.at;
    const asked = r.events.filter((e) => e.type === 'approval.requested')[1]!;
    expect(asked.at - deployed).toBe(48 * H);
    expect(asked.msg).toMatch(/decision window until 2025-03-08T08:00:00.000Z/); // decided by day 5 ("3-5 days")
  });

  it('"Duration: 3-5 days" / "Decision Window: 48 hours after deployment" — with no decision the run stops (no-go by default) at day 5', async () => {
    const plan = await load('dojopool');
    const t = drive(plan, { start: MONDAY, obs: observer(plan, {}, {}, MONDAY), controls: [{ at: (s) => s.status === 'awaiting-approval' && s.approval?.key === 'p0', ctl: { kind: 'approve', by: 'lead' } }] });
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
    expect(noticeTargets(r.events, 'run.paused')[0]).toEqual(['engineering', 'oncall', 'log']);
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
    expect((asked[1]!.at - MONDAY) / D).toBe(4);
  });
});
