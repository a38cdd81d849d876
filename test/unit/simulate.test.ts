/**
 * End-to-end engine scenarios through the real runner on a virtual clock (simulatePlan), and a
 * cross-check: the simulator (which jumps over quiet holds) decides exactly what the engine
 * driven tick by tick decides.
 */
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunEvent, RunState } from '../../src/engine/types.js';
import { loadPlan } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/model.js';
import { scenarioSchema, simulatePlan } from '../../src/runner/simulate.js';
import { drive, H, M, mkPlan, observer, stepTimes, T0, D } from './helpers.js';

const sim = (plan: Plan, scenario: Record<string, unknown> = {}, onEvent?: (e: RunEvent, s: RunState) => void) =>
  simulatePlan(plan, { start: T0, scenario: scenarioSchema.parse(scenario), ...(onEvent ? { onEvent } : {}) });
const types = (ev: RunEvent[]) => ev.map((e) => e.type);
const applied = (ev: RunEvent[]) => ev.filter((e) => e.type === 'step.applied').map((e) => e.at - T0);

const PLAN = `defaults: { hold: 1h, interval: 1m, maxJump: 100 }
checks:
  - { name: err, provider: sim, query: e, max: 5, for: 5m }
  - { name: lat, provider: sim, query: l, max: 300, tier: warning }
phases:
  - { name: canary, flags: [f], steps: [1, 10, 50] }
  - { name: rest, flags: [f], approval: { timeout: 2h, onTimeout: pause }, steps: [100] }
rollback:
  commands: [[./revert.sh]]
  healthCheck: { command: [./health.sh] }
  escalate: { commands: [[./page.sh]] }
notify:
  targets: { log: { type: log } }
`;

describe('simulatePlan scenarios', () => {
  it('healthy: every step on schedule, the gate approved, completed', async () => {
    const r = await sim(await mkPlan(PLAN));
    expect(r.state.status).toBe('completed');
    expect(applied(r.events)).toEqual([0, H, 2 * H, 3 * H]);
    expect(r.state.flags.f).toEqual({ enabled: true, percentage: 100 });
    expect(r.writes).toBe(4);
    expect(types(r.events)).toContain('approval.granted');
  });
  it('a sustained breach rolls back: flags off, commands "run", health checked, rolled-back', async () => {
    const r = await sim(await mkPlan(PLAN), { checks: { err: [{ after: '0s', value: 1 }, { after: '90m', value: 12 }] } });
    expect(r.state.status).toBe('rolled-back');
    const breach = r.events.find((e) => e.type === 'breach.detected')!;
    expect(breach.at - T0).toBe(95 * M);
    const t = types(r.events);
    expect(t.indexOf('rollback.flags-off')).toBeLessThan(t.indexOf('command.finished'));
    expect(t.indexOf('command.finished')).toBeLessThan(t.indexOf('health.ok'));
    expect(r.state.flags.f).toEqual({ enabled: false, percentage: 0 });
    expect(r.state.reason).toMatch(/check "err" breached \(critical\): 12 > max 5 for 5m/);
  });
  it('a short spike does not breach', async () => {
    const r = await sim(await mkPlan(PLAN), { checks: { err: [{ after: '0s', value: 1 }, { after: '90m', value: 12 }, { after: '93m', value: 1 }] } });
    expect(r.state.status).toBe('completed');
    expect(types(r.events)).not.toContain('breach.detected');
  });
  it('a warning breach pauses and the simulation stops there (nobody resumes)', async () => {
    const r = await sim(await mkPlan(PLAN), { checks: { lat: [{ after: '0s', value: 100 }, { after: '30m', value: 800 }] } });
    expect(r.state.status).toBe('paused');
    expect(r.state.reason).toMatch(/check "lat" breached \(warning\)/);
    expect(r.endedAt - T0).toBeLessThan(H);
  });
  it('scheduled pause and resume delay the steps', async () => {
    const r = await sim(await mkPlan(PLAN), { controls: [{ after: '30m', kind: 'pause' }, { after: '3h', kind: 'resume' }] });
    expect(r.state.status).toBe('completed');
    expect(applied(r.events)).toEqual([0, 3 * H, 4 * H, 5 * H]);
  });
  it('approvals: reject aborts; wait lets the decision window run out (onTimeout: pause)', async () => {
    const rej = await sim(await mkPlan(PLAN), { approvals: 'reject' });
    expect(rej.state.status).toBe('aborted');
    expect(rej.state.reason).toMatch(/no-go by scenario/);
    const wait = await sim(await mkPlan(PLAN), { approvals: 'wait' });
    expect(wait.state.status).toBe('paused');
    expect(types(wait.events)).toContain('approval.timeout');
    expect(wait.endedAt - T0).toBeLessThan(6 * H); // the paused run does not spin to the time limit
    expect(wait.stoppedAtLimit).toBe(false);
  });
  it('failing commands: escalation and an INCOMPLETE rollback', async () => {
    const r = await sim(await mkPlan(PLAN), { controls: [{ after: '20m', kind: 'rollback', reason: 'manual' }], failCommands: true });
    expect(r.state.status).toBe('rollback-incomplete');
    expect(r.state.reason).toMatch(/manual by scenario — rollback INCOMPLETE: rollback command 1: simulated failure/);
    expect(types(r.events)).toContain('rollback.escalated');
  });
  it('requires: an external flag that is off pauses the phase', async () => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 1m }
phases:
  - { name: a, flags: [f], requires: [base], steps: [100] }
`);
    const off = await sim(p, { flags: { base: 40 } });
    expect(off.state.status).toBe('paused');
    expect(off.state.reason).toMatch(/requires base fully on, but it is 40%/);
    const assumed = await sim(p);
    expect(assumed.state.status).toBe('completed');
    expect(assumed.assumed).toEqual(['base']);
  });
  it('gradual rollback waits are honoured on the virtual clock', async () => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 1m, maxJump: 100 }
phases: [{ name: a, flags: [f], steps: [50, 100] }]
rollback:
  mode: gradual
  steps: [{ percent: 50, wait: 30m }, { percent: 10, wait: 30m }, { percent: 0 }]
`);
    const r = await sim(p, { controls: [{ after: '90m', kind: 'rollback', reason: 'r' }] });
    expect(r.state.status).toBe('rolled-back');
    expect(r.events.filter((e) => e.type === 'rollback.step').map((e) => [e.data?.percent, e.at - T0])).toEqual([
      [50, 90 * M],
      [10, 120 * M],
      [0, 150 * M],
    ]);
  });
  it('windows: steps only in the allowed hours', async () => {
    const p = await mkPlan(`defaults: { hold: 2h, interval: 5m }
windows: { timezone: Europe/Berlin, allow: [{ days: [mon, tue, wed, thu], from: "10:00", to: "16:00" }] }
phases: [{ name: a, flags: [f], steps: [10, 25, 50, 100] }]
`);
    const r = await sim(p);
    expect(r.state.status).toBe('completed');
    // Mon 08:00 UTC = 09:00 CET: first step at 10:00 CET, then 12:00, 14:00; 16:00 is closed → Tue 10:00
    expect(applied(r.events).map((x) => new Date(T0 + x).toISOString())).toEqual(['2025-03-03T09:00:00.000Z', '2025-03-03T11:00:00.000Z', '2025-03-03T13:00:00.000Z', '2025-03-04T09:00:00.000Z']);
  });
});

describe('the simulator decides what the engine decides', () => {
  const SKIP = new Set(['notify.sent', 'notify.failed']);
  const decisions = (ev: RunEvent[]) => ev.filter((e) => !SKIP.has(e.type)).map((e) => `${e.at - T0} ${e.type}`);
  it.each([
    ['healthy', {}, {}],
    ['breach', { err: [{ after: '0s', value: 1 }, { after: '150m', value: 9 }] }, { err: (e: number) => (e >= 150 * M ? 9 : 1) }],
    ['spike then warning', { err: [{ after: '0s', value: 1 }, { after: '30m', value: 9 }, { after: '33m', value: 1 }], lat: [{ after: '0s', value: 1 }, { after: '5h', value: 900 }] }, { err: (e: number) => (e >= 30 * M && e < 33 * M ? 9 : 1), lat: (e: number) => (e >= 5 * H ? 900 : 1) }],
  ])('%s', async (_, checks, script) => {
    const p = await mkPlan(PLAN);
    const r = await sim(p, { checks });
    const t = drive(p, { obs: observer(p, script), autoApprove: true });
    expect(r.state.status).toBe(t.state.status);
    expect(applied(r.events)).toEqual(stepTimes(t));
    // same decisions at the same times (the simulator skips only judgments that change nothing)
    expect(decisions(r.events).filter((x) => !x.endsWith('approval.granted'))).toEqual(decisions(t.events).filter((x) => !x.endsWith('approval.granted')));
  });
});

describe('seed plans', () => {
  const ROOT = resolve(import.meta.dirname, '../..');
  it('dojopool open-beta: the set-only steps (tournaments, social, marketplace) keep production at 50%', async () => {
    const p = (await loadPlan(join(ROOT, 'plans/dojopool.yaml'), { env: {} })).plan;
    const seen: Array<[number, number]> = [];
    const r = await sim(p, {}, (e, s) => {
      if (e.type === 'step.applied') seen.push([s.step, s.flags['dojopool-production']?.percentage ?? -1]);
    });
    expect(r.state.status).toBe('completed');
    const beta = p.phases.findIndex((x) => x.name === 'open-beta');
    const betaSteps = r.events.filter((e) => e.type === 'step.applied' && e.data?.phase === beta);
    expect(betaSteps).toHaveLength(5);
    // once at 50%, production never drops while the features are switched on
    const pcts = seen.map(([, pct]) => pct);
    for (let i = 1; i < pcts.length; i++) expect(pcts[i]).toBeGreaterThanOrEqual(pcts[i - 1]!);
    expect(r.state.flags).toMatchObject({ tournaments: { enabled: true }, 'social-features': { enabled: true }, marketplace: { enabled: true } });
  }, 60_000);
  it('a long plan simulates within the time limit without spinning (90 days, 1m interval)', async () => {
    const p = await mkPlan(`defaults: { hold: 7d, interval: 1m }
phases: [{ name: a, flags: [f], steps: [1, 5, 10, 25, 50, 75, 100] }]
`);
    const r = await sim(p);
    expect(r.state.status).toBe('completed');
    expect(r.endedAt - T0).toBe(49 * D);
  });
});

describe('simulate skips quiet stretches by the engine’s own rules', () => {
  const plan = () =>
    mkPlan(`defaults: { hold: 7d, interval: 1m, maxJump: 100 }
checks:
  - { name: ok, provider: sim, query: ok, max: 5 }
  - { name: sparse, provider: sim, query: sparse, max: 5, noData: pass }
phases:
  - { name: a, flags: [f], steps: [10, 50, 100] }
`);

  it('a check with no data and noData: pass does not block a step, so a 3-week hold is not judged every minute', async () => {
    const p = await plan();
    const r = await simulatePlan(p, { start: T0, scenario: scenarioSchema.parse({ checks: { sparse: null } }) });
    expect(r.state.status).toBe('completed');
    expect(r.events.filter((e) => e.type === 'step.applied').map((e) => (e.at - T0) / D)).toEqual([0, 7, 14]);
    // Judged at each step and hold's end, not 3 × 7 × 1440 times.
    expect(r.reads).toBeLessThan(100);
  });

  it('what the run waits for is data: the step being applied, then the hold with its end', async () => {
    const p = await plan();
    const waits: Array<RunState['waiting']> = [];
    await simulatePlan(p, { start: T0, onEvent: (_e, s) => void waits.push(s.waiting) });
    expect(waits).toContainEqual({ kind: 'applying' });
    expect(waits).toContainEqual({ kind: 'hold', until: T0 + 7 * D });
  });
});
