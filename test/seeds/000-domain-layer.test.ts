/**
 * Seed 000 "Domain Layer Rollout Strategy" → plans/domain-layer.yaml, run on the virtual clock.
 * Each test quotes the seed line it proves. The run starts on Monday 2025-03-03 (week 3 day 1,
 * once the phase 1-2 success criteria are confirmed) unless a test says otherwise.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { create } from '../../src/adapters/flags/env-file.js';
import { BackendError } from '../../src/errors.js';
import { canExclude } from '../../src/plan/lint.js';
import { drive, observer } from '../unit/helpers.js';
import { D, H, flagStates, iso, load, MONDAY, noticeTargets, noticeText, sim, stepDates, weekday } from './helpers.js';

describe('seed 000: domain layer', () => {
  it('Phase 1 "Success Criteria: - [ ] All game features work correctly … - [ ] No memory leaks" and Phase 2 "- [ ] Handles expected load … - [ ] Support team trained" — confirmed one by one before the canary', async () => {
    const plan = await load('domain-layer');
    expect(plan.phases[0]!.checklist!.map((i) => i.text)).toEqual([
      'All game features work correctly',
      'No performance degradation',
      'Event broadcasts match legacy',
      'No memory leaks',
      'Handles expected load',
      'Response times within 10% of legacy',
      'All events properly broadcast',
      'Support team trained',
    ]);
    const ids = plan.phases[0]!.checklist!.map((i) => i.id);
    // The developers confirm phase 1 on Monday; "Support team trained" is the last to come (Tuesday).
    const t = drive(plan, {
      start: MONDAY,
      obs: observer(plan, {}, {}, MONDAY),
      limitMs: 3 * D,
      controls: [
        { at: H, ctl: { kind: 'confirm', items: ids.slice(0, 7), by: 'dev-lead' } },
        { at: D + 2 * H, ctl: { kind: 'confirm', items: ['support-trained'], by: 'support-lead', note: 'training session held' } },
      ],
    });
    expect(t.of('checklist.confirmed').map((e) => e.data!.name)).toEqual([...Array(7).fill('dev-lead'), 'support-lead']);
    expect(t.of('step.applied')[0]!.at).toBe(MONDAY + D + 2 * H); // 1% only once the last criterion is confirmed
    expect(t.of('step.applied')[0]!.msg).toMatch(/^canary: 1%/);
  });

  it('"Day 1-2: 1% of traffic / Day 3-4: 5% / Day 5-6: 10% / Day 7: 25% of traffic"', async () => {
    const r = await sim(await load('domain-layer'));
    expect(stepDates(r.events).slice(0, 4)).toEqual([
      ['canary: 1%', '2025-03-03T08:00:00.000Z'], // day 1
      ['canary: 5%', '2025-03-05T08:00:00.000Z'], // day 3
      ['canary: 10%', '2025-03-07T08:00:00.000Z'], // day 5
      ['canary: 25%', '2025-03-09T08:00:00.000Z'], // day 7
    ]);
  });

  it('"Monday: 50% of traffic / Wednesday: 75% of traffic / Friday: 90% of traffic" — from a Monday start', async () => {
    const r = await sim(await load('domain-layer'));
    const prog = stepDates(r.events).filter(([s]) => s.startsWith('progressive'));
    expect(prog).toEqual([
      ['progressive: 50%', '2025-03-10T08:00:00.000Z'],
      ['progressive: 75%', '2025-03-12T08:00:00.000Z'],
      ['progressive: 90%', '2025-03-14T08:00:00.000Z'],
    ]);
  });

  it('"Monday: 50% … Wednesday: 75% … Friday: 90%" — still Monday/Wednesday/Friday when the run starts on a Wednesday', async () => {
    const wednesday = Date.parse('2025-03-05T10:00:00Z');
    const r = await sim(await load('domain-layer'), {}, wednesday);
    const prog = r.events.filter((e) => e.type === 'step.applied' && /progressive/.test(e.msg));
    expect(prog.map((e) => weekday(e.at))).toEqual(['mon', 'wed', 'fri']);
    expect(r.events.some((e) => e.type === 'step.scheduled' && /scheduled for mon/.test(e.msg))).toBe(true);
    expect(r.state.status).toBe('completed');
  });

  it('"Enable for All Traffic … DOMAIN_ROLLOUT_PERCENTAGE=100" then "Monitor for 1 Week"', async () => {
    const r = await sim(await load('domain-layer'));
    const full = stepDates(r.events).find(([s]) => s.startsWith('full'))!;
    expect(full).toEqual(['full: 100%', '2025-03-17T08:00:00.000Z']);
    expect(r.state.status).toBe('completed');
    expect(iso(r.state.finishedAt!)).toBe('2025-03-24T08:00:00.000Z'); // one week at 100%
    expect(flagStates(r.state)).toEqual({ domain: '100%' });
  });

  it('"name: DomainAdapterErrorRate / condition: error_rate > 0.01 / action: page_oncall"', async () => {
    const r = await sim(await load('domain-layer'), { checks: { 'domain-adapter-error-rate': [{ after: '3d', value: 0.02 }] } });
    expect(r.state.status).toBe('paused');
    expect(r.state.reason).toMatch(/domain-adapter-error-rate/);
    expect(noticeTargets(r.events, 'run.paused')[0]).toContain('oncall');
    expect(flagStates(r.state)).toEqual({ domain: '5%' }); // held where it was
  });

  it('"name: DomainAdapterLatency / condition: p95_latency > 200ms / action: notify_team" — the team, not the pager', async () => {
    const r = await sim(await load('domain-layer'), { checks: { 'domain-adapter-latency': [{ after: '3d', value: 250 }, { after: '3d2h', value: 120 }] } });
    const breach = r.events.find((e) => e.type === 'breach.detected' && /domain-adapter-latency/.test(e.msg))!;
    expect(breach).toBeDefined();
    const sent = noticeTargets(r.events, 'breach.detected');
    expect(sent.length).toBeGreaterThan(0);
    for (const targets of sent) expect(targets).not.toContain('oncall');
    expect(sent[0]).toContain('team');
    expect(r.events.some((e) => e.type === 'run.paused')).toBe(false);
    expect(r.state.status).toBe('completed');
  });

  it('"export DOMAIN_ROLLOUT_PERCENTAGE=50 # From 100 … =25 # After 1 hour … =10 # After 2 hours … =0 # After stable"', async () => {
    const r = await sim(await load('domain-layer'), { controls: [{ after: '15d', kind: 'rollback', reason: 'errors increased' }] });
    const stages = r.events.filter((e) => e.type === 'rollback.step' || e.type === 'rollback.flags-off');
    const t0 = stages[0]!.at;
    expect(stages.map((e) => [(e.data as { percent?: number }).percent, (e.at - t0) / H])).toEqual([
      [50, 0],
      [25, 1],
      [10, 3],
      [0, 4], // the checks held for 1 hour at 10%: "stable"
    ]);
    expect(r.events.some((e) => e.type === 'rollback.stable')).toBe(true);
    expect(r.state.status).toBe('rolled-back');
    expect(flagStates(r.state)).toEqual({ domain: 'off' });
  });

  it('"=0 # After stable" — when 10% never gets stable, 0% comes after the 4-hour maximum, and the team hears why', async () => {
    const r = await sim(await load('domain-layer'), {
      controls: [{ after: '15d', kind: 'rollback', reason: 'errors increased' }],
      checks: { 'domain-adapter-latency': [{ after: '15d', value: 400 }] },
    });
    const stages = r.events.filter((e) => e.type === 'rollback.step' || e.type === 'rollback.flags-off');
    expect((stages.at(-1)!.at - stages[0]!.at) / H).toBe(3 + 4);
    expect(r.events.find((e) => e.type === 'rollback.unstable')!.msg).toMatch(/domain-adapter-latency/);
    expect(r.state.status).toBe('rolled-back');
  });

  it('"Immediate Rollback: export DOMAIN_ADAPTERS_ENABLED=false" — `rollout rollback --mode immediate`', async () => {
    const plan = await load('domain-layer');
    const t = drive(plan, { start: MONDAY, autoApprove: true, obs: observer(plan, {}, {}, MONDAY), controls: [{ at: 8 * D, ctl: { kind: 'rollback', reason: 'instantly', mode: 'immediate' } }] });
    expect(t.state.status).toBe('rolled-back');
    expect(t.of('rollback.step')).toEqual([]);
    expect(t.of('rollback.flags-off')[0]!.at - MONDAY).toBe(8 * D);
    expect(flagStates(t.state)).toEqual({ domain: 'off' });
  });

  it('"Week -1: Announce rollout plan" — started with --at a week and more ahead, the team hears of it 7 days before; nothing moves until the start', async () => {
    const plan = await load('domain-layer');
    const { r, text } = await noticeText(plan, 'run.announced', { start: MONDAY - 10 * D, startAt: MONDAY });
    expect(r.events[0]!.type).toBe('run.scheduled');
    const ann = r.events.find((e) => e.type === 'run.announced')!;
    expect(iso(ann.at)).toBe('2025-02-24T08:00:00.000Z'); // week -1
    expect(ann.data).toMatchObject({ late: false });
    expect(noticeTargets(r.events, 'run.announced')).toEqual([['team', 'log']]);
    expect(text).toMatch(/^Week -1: domain layer rollout plan\n/);
    expect(text).toContain('starts Mon 3 Mar 2025 at 08:00 UTC (7d from now)');
    expect(text).toContain('Plan: canary 1% → 5% → 10% → 25%; progressive 50% → 75% → 90%; full 100%');
    // Before the start the flag is not touched; from it, the timeline is the seed's, as for a run started that Monday.
    expect(r.events.filter((e) => e.type === 'step.applied' || e.type === 'step.intent').every((e) => e.at >= MONDAY)).toBe(true);
    expect(stepDates(r.events).slice(0, 4)).toEqual([
      ['canary: 1%', '2025-03-03T08:00:00.000Z'],
      ['canary: 5%', '2025-03-05T08:00:00.000Z'],
      ['canary: 10%', '2025-03-07T08:00:00.000Z'],
      ['canary: 25%', '2025-03-09T08:00:00.000Z'],
    ]);
    expect(iso(r.state.finishedAt!)).toBe('2025-03-24T08:00:00.000Z');
    // The daily status updates are "during rollout": none in the week of waiting.
    expect(r.events.filter((e) => e.type === 'report.sent').every((e) => e.at > MONDAY)).toBe(true);
  });

  it('"Week -1: Announce rollout plan" — a start closer than a week still announces, at once, and says it is late', async () => {
    const plan = await load('domain-layer');
    const r = await sim(plan, {}, MONDAY);
    const ann = r.events.find((e) => e.type === 'run.announced')!;
    expect(ann.at).toBe(MONDAY);
    expect(ann.msg).toMatch(/the run starts now, not 7d ahead as notify.announce.before asks/);
    const soon = await noticeText(plan, 'run.announced', { start: MONDAY - 2 * D, startAt: MONDAY });
    expect(soon.r.events.find((e) => e.type === 'run.announced')!.msg).toMatch(/2d from now — less than the 7d ahead/);
    expect(soon.text).toContain('(2d from now)');
  });

  it('"Daily: Status updates during rollout" / "Weekly: Progress reports to stakeholders"', async () => {
    const r = await sim(await load('domain-layer'));
    const sent = r.events.filter((e) => e.type === 'report.sent');
    expect(sent.filter((e) => /daily/.test(e.msg))).toHaveLength(21);
    expect(sent.filter((e) => /weekly/.test(e.msg))).toHaveLength(3);
    const to = noticeTargets(r.events, 'run.report');
    expect(to.filter((t) => t.includes('stakeholders'))).toHaveLength(3); // the weekly ones, not the daily
  });

  it('"Status page updates if issues": a pause on the error-rate trigger updates the status page; a healthy run never does', async () => {
    const bad = await sim(await load('domain-layer'), { checks: { 'domain-adapter-error-rate': [{ after: '3d', value: 0.02 }] } });
    expect(noticeTargets(bad.events, 'run.paused')[0]).toContain('statuspage');
    const good = await sim(await load('domain-layer'));
    expect(good.events.filter((e) => e.type === 'notify.sent' && /statuspage/.test(e.msg))).toEqual([]);
  });

  it('"If User Issues Arise: 2. Rollback affected users" — not on this plan\'s env-file backend: refused with the reason and the backends that can, nothing written', async () => {
    const plan = await load('domain-layer');
    expect(canExclude(plan)).toBe(false);
    const dir = await mkdtemp(join(tmpdir(), 'seed000-'));
    try {
      const b = create({ ...plan.backend.options, path: 'domain.env' }, { baseDir: dir, cwd: dir, log: () => undefined, env: {} });
      const err = (await b.apply({ flag: 'domain', enabled: true, percentage: 25, exclude: { segments: ['affected-users'] } }).catch((e: unknown) => e)) as BackendError;
      expect(err).toBeInstanceOf(BackendError);
      expect(err.message).toMatch(/cannot turn the flag off for segment affected-users only: an env file has no segments or rings/);
      expect(err.hint).toMatch(/Backends that can: local, unleash, flagd, launchdarkly/);
      expect(existsSync(join(dir, 'domain.env'))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // A simulation does not pretend otherwise: the write fails and the run pauses, as it would for real.
    const r = await sim(plan, { controls: [{ after: '2d', kind: 'rollback', segment: 'affected-users', reason: 'r' }] });
    expect(r.events.find((e) => e.type === 'rollback.cohort-failed')!.msg).toMatch(/cannot turn a flag off for some users only/);
    expect(r.state.status).toBe('paused');
  });
});
