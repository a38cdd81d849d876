/**
 * The plans shipped in plans/ (seeds 000-004 and the demo): each loads without errors on a
 * machine with no environment set (every ${VAR} has a default), simulates to completion on the
 * healthy scenario, and says what its seed says (steps, holds, gates, rollback). The rollback
 * scripts are checked for the one property that matters most: the reason is data, never code.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadPlan } from '../../src/plan/load.js';
import type { Plan } from '../../src/plan/model.js';
import { scenarioSchema, simulatePlan } from '../../src/runner/simulate.js';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');
const PLANS = join(ROOT, 'plans');
const SEED_PLANS = ['domain-layer', 'domain-migration', 'chat-architecture', 'dojopool', 'state-persistence'];
/** A Monday, 08:00 UTC: windows and weekday schedules line up with the seeds' calendars. */
const START = Date.parse('2025-03-03T08:00:00Z');
const H = 3_600_000;
const D = 24 * H;

const load = async (name: string): Promise<Plan> => (await loadPlan(join(PLANS, `${name}.yaml`), { env: {} })).plan;
const percents = (p: Plan, phase: string) => p.phases.find((x) => x.name === phase)!.steps.map((s) => s.percent);
const holds = (p: Plan, phase: string) => p.phases.find((x) => x.name === phase)!.steps.map((s) => s.holdMs);
const simulate = (p: Plan, scenario: Record<string, unknown> = {}) => simulatePlan(p, { start: START, scenario: scenarioSchema.parse(scenario) });

describe('every plan in plans/', () => {
  const files = readdirSync(PLANS).filter((f) => f.endsWith('.yaml'));
  it('includes the five seed plans', () => {
    for (const n of SEED_PLANS) expect(files).toContain(`${n}.yaml`);
  });
  for (const f of files) {
    it(`${f} loads without errors and with no environment`, async () => {
      const { warnings } = await loadPlan(join(PLANS, f), { env: {} });
      expect(warnings.filter((w) => w.severity === 'error')).toEqual([]);
    });
  }
  for (const n of SEED_PLANS) {
    it(`${n}.yaml declares the JSON Schema for yaml-language-server and cites its seed`, () => {
      const text = readFileSync(join(PLANS, `${n}.yaml`), 'utf8');
      expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../schema/plan.schema.json');
      expect(text).toMatch(/^# Seed 00[0-4] — /m);
    });
    it(`${n} simulates to completion on the healthy scenario`, async () => {
      const r = await simulate(await load(n));
      expect(r.state.status, r.state.reason).toBe('completed');
      expect(r.events.filter((e) => e.type === 'breach.detected')).toEqual([]);
    });
  }
});

describe('seed 000: domain layer', () => {
  it('canary, progressive and full schedules with their holds', async () => {
    const p = await load('domain-layer');
    expect(p.backend.type).toBe('env-file');
    expect(percents(p, 'canary')).toEqual([1, 5, 10, 25]);
    expect(holds(p, 'canary')).toEqual([2 * D, 2 * D, 2 * D, D]);
    expect(percents(p, 'progressive')).toEqual([50, 75, 90]);
    expect(percents(p, 'full')).toEqual([100]);
    expect(holds(p, 'full')).toEqual([7 * D]);
    expect(p.phases[0]!.checklist).toHaveLength(8); // phases 1-2 success criteria, confirmed before the canary
  });
  it('rolls back gradually 50 → 25 → 10 → 0 with the seed waits', async () => {
    const p = await load('domain-layer');
    expect(p.rollback.mode).toBe('gradual');
    expect(p.rollback.steps).toEqual([
      { percent: 50, waitMs: H },
      { percent: 25, waitMs: 2 * H },
      { percent: 10, waitMs: 0, stableForMs: H, maxWaitMs: 4 * H }, // "0 after stable"
      { percent: 0, waitMs: 0 },
    ]);
    const r = await simulate(p, { controls: [{ after: '15d', kind: 'rollback', reason: 'errors increased' }] });
    expect(r.state.status).toBe('rolled-back');
    const steps = r.events.filter((e) => e.type === 'rollback.step' || e.type === 'rollback.flags-off');
    expect(steps.map((e) => (e.data as { percent?: number } | undefined)?.percent)).toEqual([50, 25, 10, 0]);
    expect(steps.at(-1)!.at - steps[0]!.at).toBe(4 * H); // 1 h + 2 h + healthy for 1 h at 10%
  });
  it('pauses (pages on-call) when the domain adapter error rate passes 1%', async () => {
    const r = await simulate(await load('domain-layer'), { checks: { 'domain-adapter-error-rate': [{ after: '3d', value: 0.02 }] } });
    expect(r.state.status).toBe('paused');
    expect(r.events.some((e) => e.type === 'breach.detected')).toBe(true);
  });
});

describe('seed 001: domain migration', () => {
  it('writes the seed MigrationConfig at each stage', async () => {
    const p = await load('domain-migration');
    const ph = p.phases[0]!;
    expect(ph.flags).toEqual(['enableMigration']);
    expect(ph.steps.map((s) => [s.percent, s.set])).toEqual([
      [5, { useDomainEntities: false, enableDualProviders: true }],
      [25, { useDomainEntities: true }],
      [50, {}],
      [100, { enableDualProviders: false }],
    ]);
    expect(ph.approval?.approvers).toEqual(['engineering-lead', 'product-manager', 'qa-lead', 'devops-lead']);
    expect(p.rollback.flags).toEqual(['enableMigration']);
  });
  it('rolls back at once when sync failures pass 5%', async () => {
    const r = await simulate(await load('domain-migration'), { checks: { 'sync-failure-rate': [{ after: '2d', value: 0.08 }] } });
    expect(r.state.status).toBe('rolled-back');
    expect(r.state.rollback?.trigger).toBe('check');
  });
});

describe('seed 002: chat architecture', () => {
  it('manual review checkpoints every 2 days during 3b (50%), and only then', async () => {
    const r = await simulate(await load('chat-architecture'));
    const moderate = r.events.find((e) => e.type === 'phase.started' && /phase moderate/.test(e.msg))!;
    const next = r.events.find((e) => e.type === 'phase.started' && /phase majority/.test(e.msg))!;
    const reviews = r.events.filter((e) => e.type === 'report.sent');
    expect(reviews.map((e) => (e.at - moderate.at) / D)).toEqual([2, 4, 6]);
    expect(reviews.every((e) => e.at < next.at)).toBe(true);
  });
  it('starts with a 0% shadow phase that turns the shadow flags on', async () => {
    const p = await load('chat-architecture');
    const shadow = p.phases[0]!;
    expect(shadow.name).toBe('shadow');
    expect(shadow.steps[0]!.percent).toBe(0);
    expect(shadow.steps[0]!.set).toEqual({ enableShadowLogging: true, shadowProcessingEnabled: true, performanceMonitoring: true });
    expect(p.phases.map((x) => x.steps.map((s) => s.percent))).toEqual([[0], [0], [10, 25], [50], [75], [100]]); // beta: the segment only
    expect(p.phases.slice(1).every((x) => x.approval)).toBe(true);
    expect(p.rollback.flags).toEqual(['useNewArchitecture']);
  });
  it('critical trigger: error rate > 0.5% for 5 minutes rolls back, health check, alert to critical-alerts', async () => {
    const p = await load('chat-architecture');
    const c = p.phases[0]!.checks.find((x) => x.name === 'error-rate-critical')!;
    expect([c.max, c.forMs, c.action]).toEqual([0.005, 5 * 60_000, 'rollback']);
    const r = await simulate(p, { checks: { 'error-rate-critical': [{ after: '8d', value: 0.009 }] } });
    expect(r.state.status).toBe('rolled-back');
    const breach = r.events.find((e) => e.type === 'breach.detected')!;
    const first = r.events.find((e) => e.type === 'check.changed' && /error-rate-critical: fail/.test(e.msg))!;
    expect(breach.at - first.at).toBeGreaterThanOrEqual(5 * 60_000);
    expect(r.events.some((e) => e.type === 'health.ok')).toBe(true);
    expect(p.notify.events?.['rollback.started']).toContain('critical-alerts');
    expect(p.notify.templates['rollback.started']).toContain('🚨 EMERGENCY ROLLBACK: {{reason}}');
  });
  it('escalates when the health check after the rollback fails', async () => {
    const r = await simulate(await load('chat-architecture'), { controls: [{ after: '2d', kind: 'rollback', reason: 'manual' }], failCommands: true });
    expect(r.events.some((e) => e.type === 'rollback.escalated')).toBe(true);
  });
});

describe('seed 003: DojoPool', () => {
  it('four phases with go/no-go decision windows', async () => {
    const p = await load('dojopool');
    expect(p.phases.map((x) => x.name)).toEqual(['internal', 'limited-beta', 'open-beta', 'ga']);
    expect(p.phases.map((x) => x.approval?.timeoutMs)).toEqual([undefined, 3 * D, 3 * D, 3 * D]);
    expect(p.phases[0]!.steps[0]!.holdMs).toBe(48 * H); // the phase-2 decision window opens 48 h after deployment
    expect(p.phases.slice(1).every((x) => x.approval?.onTimeout === 'pause')).toBe(true);
  });
  it('calls rollback-production.sh with --phase; the reason only travels in the environment', async () => {
    const p = await load('dojopool');
    expect(p.rollback.commands.map((c) => c.argv)).toEqual([['./scripts/rollback-production.sh', '--phase', '{{phase}}']]);
    expect(p.rollback.commands[0]!.shell).toBe(false);
    expect(JSON.stringify(p.rollback.commands)).not.toContain('REASON');
  });
  it('phase 1 success criteria gate the go/no-go for phase 2: missed from day 1 to day 8, phase 2 waits until they hold', async () => {
    const r = await simulate(await load('dojopool'), {
      checks: { 'error-rate-p1': [{ after: '0s', value: 0.0005 }, { after: '1d', value: 0.005 }, { after: '8d', value: 0.0005 }] },
    });
    const asked = r.events.filter((e) => e.type === 'approval.requested').map((e) => (e.at - r.startedAt) / D);
    const phase2 = r.events.find((e) => e.type === 'phase.started' && /limited-beta/.test(e.msg))!;
    // phase 1 holds 3 days; its criteria fail until day 8, so nothing is asked before
    expect(asked[1]).toBeGreaterThanOrEqual(8);
    expect((phase2.at - r.startedAt) / D).toBeGreaterThanOrEqual(8);
    expect(r.state.status).toBe('completed');
  });
  it('post-launch monitoring: hourly performance reports during the 72 hours after GA, and only then', async () => {
    const r = await simulate(await load('dojopool'));
    const ga = r.events.find((e) => e.type === 'phase.started' && /phase ga/.test(e.msg))!;
    const reports = r.events.filter((e) => e.type === 'report.sent');
    expect(reports).toHaveLength(72);
    expect(reports.every((e) => e.at > ga.at && e.at <= ga.at + 72 * H)).toBe(true);
  });
  it('failure criterion (No-Go): > 1% errors for 30+ minutes in phase 1 stops and asks a human', async () => {
    const r = await simulate(await load('dojopool'), { checks: { 'error-rate-critical-p1': [{ after: '1d', value: 0.015 }] } });
    expect(r.state.status).toBe('paused');
  });
});

describe('seed 000: communication plan', () => {
  it('daily status updates and weekly progress reports while the run lasts', async () => {
    const r = await simulate(await load('domain-layer'));
    const sent = r.events.filter((e) => e.type === 'report.sent');
    const days = (r.endedAt - r.startedAt) / D;
    expect(sent.filter((e) => /daily/.test(e.msg))).toHaveLength(Math.floor(days));
    expect(sent.filter((e) => /weekly/.test(e.msg))).toHaveLength(Math.floor(days / 7));
  });
});

describe('seed 004: state persistence', () => {
  it('core progression with the production timeline holds; 50% held 6 hours', async () => {
    const p = await load('state-persistence');
    expect(percents(p, 'core')).toEqual([0, 1, 5, 10, 25, 50, 75, 100]);
    expect(holds(p, 'core').slice(0, 7)).toEqual([0.5 * H, 1.5 * H, 2 * H, 2 * H, 2 * H, 6 * H, 2 * H]);
  });
  it('rings internal → beta → ga and requires: in dependency order', async () => {
    const p = await load('state-persistence');
    expect(Object.keys(p.rings)).toEqual(['internal', 'beta', 'ga']);
    const snap = p.phases.find((x) => x.name === 'snapshots')!;
    expect(snap.steps[0]!.rings).toEqual({ internal: 100, beta: 0, ga: 0 });
    expect(snap.requires).toEqual(['use_state_persistence']);
    expect(p.phases.find((x) => x.name === 'recovery')!.requires).toEqual(['enable_state_snapshots']);
    expect(p.phases.find((x) => x.name === 'use-case-startgame')!.steps[0]!.rings).toEqual({ internal: 100, beta: 50, ga: 0 });
  });
  it('follows the timeline: steps only on weekdays 09:00-17:00 UTC, 50% on day 2 at 09:00', async () => {
    const r = await simulate(await load('state-persistence'));
    const applied = r.events.filter((e) => e.type === 'step.applied');
    for (const e of applied) {
      const d = new Date(e.at);
      expect(d.getUTCDay(), d.toISOString()).toBeGreaterThanOrEqual(1);
      expect(d.getUTCDay(), d.toISOString()).toBeLessThanOrEqual(5);
      expect(d.getUTCHours(), d.toISOString()).toBeGreaterThanOrEqual(9);
      expect(d.getUTCHours(), d.toISOString()).toBeLessThan(17);
    }
    const at50 = applied.find((e) => /core: 50%/.test(e.msg))!;
    expect(new Date(at50.at).toISOString()).toMatch(/^2025-03-04T09:0/);
  });
  it('has the announcement, progress and completion templates', async () => {
    const p = await load('state-persistence');
    // The Pre-Rollout Announcement goes out ahead of a scheduled start (run.announced), not with it.
    expect(p.notify.templates['run.announced']).toContain('State Persistence Rollout Starting {{date}}');
    expect(p.notify.templates['run.announced']).toContain('We will begin rolling out state persistence on {{date}} at {{time}}.');
    expect(p.notify.announce).toEqual({ beforeMs: 7 * 86_400_000 });
    expect(p.notify.templates['step.applied']).toContain('State Persistence Rollout Update');
    expect(p.notify.templates['run.completed']).toContain('State Persistence Rollout Complete ✅');
  });
  it('pauses and freezes the live flag when the error rate passes 5%', async () => {
    const r = await simulate(await load('state-persistence'), { checks: { 'error-rate': [{ after: '1d', value: 0.07 }] } });
    expect(r.state.status).toBe('paused');
    expect(r.state.frozen).toEqual(['use_state_persistence']);
    expect(r.events.map((e) => e.type)).toContain('flags.frozen');
  });
  it('a human resumes the frozen run: the flag is unfrozen before the next step and the plan completes', async () => {
    const r = await simulate(await load('state-persistence'), {
      checks: { 'error-rate': [{ after: '25h', value: 0.07 }, { after: '27h', value: 0.01 }] },
      controls: [{ after: '28h', kind: 'resume' }],
    });
    const types = r.events.map((e) => e.type);
    expect(types.indexOf('flags.unfrozen')).toBeGreaterThan(types.indexOf('flags.frozen'));
    expect(types).not.toContain('step.failed'); // the simulated API refuses changes to a frozen flag
    expect(r.state.status).toBe('completed');
    expect(r.state.frozen).toBeUndefined();
  });
  it('recovery failures above 1% roll back the recovery feature only; the other flags stay on', async () => {
    // recovery starts in week 2; failures from day 12 on
    const r = await simulate(await load('state-persistence'), { checks: { 'recovery-failures': [{ after: '10d', value: 0.05 }] } });
    expect(r.state.status).toBe('completed'); // afterRollback: continue — the use cases still roll out
    expect(r.events.find((e) => e.type === 'rollback.started')!.msg).toMatch(/of enable_state_recovery only/);
    expect(r.state.flags.enable_state_recovery!.enabled).toBe(false);
    expect(r.state.flags.use_state_persistence).toMatchObject({ enabled: true, percentage: 100 });
    expect(r.state.flags.enable_state_snapshots!.enabled).toBe(true);
  });
});

describe('plan scripts treat the rollback reason as data', () => {
  const evil = 'x"; touch PWNED; $(touch PWNED2) `touch PWNED3`';
  const inTmp = async (fn: (dir: string) => Promise<void>) => {
    const dir = mkdtempSync(join(tmpdir(), 'plan-scripts-'));
    try {
      await fn(dir);
      for (const f of ['PWNED', 'PWNED2', 'PWNED3']) expect(existsSync(join(dir, f))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  it('rollback-production.sh', () =>
    inTmp(async (cwd) => {
      const r = await run(join(PLANS, 'scripts/rollback-production.sh'), ['--phase', 'open-beta'], { cwd, env: { ...process.env, ROLLOUT_REASON: evil } });
      expect(r.stdout).toContain(`reason: ${evil}`);
      expect(r.stdout).toContain('phase: open-beta');
      await expect(run(join(PLANS, 'scripts/rollback-production.sh'), ['--phase', 'a;b'], { cwd })).rejects.toThrow();
    }));
  it('domain-migration-rollback.sh', () =>
    inTmp(async (cwd) => {
      const r = await run(join(PLANS, 'scripts/domain-migration-rollback.sh'), [], { cwd, env: { ...process.env, ROLLOUT_REASON: evil } });
      expect(r.stdout).toContain(`reason: ${evil}`);
    }));
  it('rollback_state_persistence.py', () =>
    inTmp(async (cwd) => {
      const r = await run('python3', [join(PLANS, 'scripts/rollback_state_persistence.py')], { cwd, env: { ...process.env, ROLLOUT_REASON: evil } });
      expect(r.stdout).toContain(JSON.stringify(evil));
    }));
  it('remote-config.mjs keeps the MigrationConfig document and reads it back', () =>
    inTmp(async (cwd) => {
      const env = { ...process.env, REMOTE_CONFIG_FILE: join(cwd, 'rc.json') };
      const script = join(PLANS, 'scripts/remote-config.mjs');
      await run(script, ['set', 'enableMigration', 'true', '25'], { cwd, env });
      await run(script, ['set', 'useDomainEntities', 'true', '100'], { cwd, env });
      expect(JSON.parse((await run(script, ['get', 'enableMigration'], { cwd, env })).stdout)).toEqual({ exists: true, enabled: true, percentage: 25 });
      expect(JSON.parse((await run(script, ['get', 'nope'], { cwd, env })).stdout)).toEqual({ exists: false });
      const doc = JSON.parse(readFileSync(join(cwd, 'rc.json'), 'utf8'));
      expect(doc.published).toEqual({
        enableDomainMigration: true,
        fallbackToLegacy: false,
        migrationConfig: { enableMigration: true, useDomainEntities: true, enableDualProviders: false, rolloutPercentage: 25 },
      });
      await expect(run(script, ['set', '--evil', 'true', '5'], { cwd, env })).rejects.toThrow();
    }));
});
