/**
 * Seed 001 "Production Rollout Plan - Domain Model Migration" → plans/domain-migration.yaml.
 * Day 4 of the seed (stage 1) is the first step after the four sign-offs; the run starts on
 * Thursday 2025-03-06 08:00 UTC, "day 4" of a rollout whose phases 1-2 began on Monday.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Action } from '../../src/engine/types.js';
import { cli, quickPlan, tempDir, write } from '../cli/helpers.js';
import { drive, observer } from '../unit/helpers.js';
import { D, H, flagStates, iso, load, M, sim, stepDates } from './helpers.js';

const DAY4 = Date.parse('2025-03-06T08:00:00Z');
const SIGNERS = ['engineering-lead', 'product-manager', 'qa-lead', 'devops-lead'] as const;

/** The phases 1-2 checklist, every item confirmed at once 30 minutes in (tests about what comes after it). */
const CHECKED = { at: 30 * M, ctl: { kind: 'confirm' as const, items: [], all: true, by: 'lead-developer' } };

describe('seed 001: domain migration', () => {
  it('"Phase 1: Pre-Production Validation": "- [ ] Review all migration code with team" … "Phase 2: Staging Deployment": "- [ ] Validate UI components" — each item confirmed (who, when) before the sign-offs are asked', async () => {
    const plan = await load('domain-migration');
    const items = plan.phases[0]!.checklist!;
    expect(items.map((i) => i.text)).toEqual([
      'Review all migration code with team',
      'Validate mapper implementations',
      'Check repository patterns',
      'Verify service adapters',
      'Run full test suite',
      'Manual testing of critical paths',
      'Performance benchmarking',
      'Memory leak detection',
      'iOS build and archive',
      'Android build and bundle',
      'Web build (if applicable)',
      'Merge to staging branch',
      'Deploy to TestFlight (iOS)',
      'Deploy to Internal Testing (Android)',
      'Monitor for 48 hours',
      'Test data migration',
      'Verify sync functionality',
      'Check notification services',
      'Validate UI components',
    ]);
    const obs = observer(plan, {}, {}, DAY4);
    // "Lead Developer: Code review", "QA Engineer: Testing, validation, monitoring", "DevOps: Deployment".
    const who = (id: string) => (['review-code', 'mappers', 'repositories', 'service-adapters'].includes(id) ? 'lead-developer' : ['ios-build', 'android-build', 'web-build', 'staging-branch', 'testflight', 'android-internal'].includes(id) ? 'devops' : 'qa-engineer');
    const ticks = items.map((it, i) => ({ at: (i + 1) * 10 * M, ctl: { kind: 'confirm' as const, items: [it.id], by: who(it.id) } }));
    // An approver signing before the checklist is complete is refused: the sign-offs come after it.
    const early = { at: 25 * M, ctl: { kind: 'approve' as const, by: 'x', as: 'qa-lead' } };
    const t = drive(plan, { start: DAY4, obs, controls: [...ticks, early], limitMs: 5 * H });
    expect(t.refused).toEqual([expect.stringMatching(/waits at a checklist, not a go\/no-go: 17 item\(s\) still to confirm/)]);
    expect(t.of('checklist.confirmed')).toHaveLength(19);
    expect(t.of('checklist.confirmed')[0]!.msg).toBe('☑ review-code: Review all migration code with team — confirmed by lead-developer — 1 of 19');
    // 18 of 19 confirmed: still waiting; the 19th opens it and the four sign-offs are asked.
    expect(t.of('checklist.completed')[0]!.at).toBe(DAY4 + 190 * M);
    expect(t.of('approval.requested')[0]!.at).toBe(DAY4 + 190 * M);
    expect(t.state.waitingFor).toMatch(/0 of 4 sign-offs/);
    expect(t.of('step.applied')).toEqual([]);
  });

  it('"Approval Sign-offs: Engineering Lead, Product Manager, QA Lead, DevOps Lead" — one sign-off does not open the gate, the fourth does', async () => {
    const plan = await load('domain-migration');
    const obs = observer(plan, {}, {}, DAY4);
    const signs = [CHECKED, ...SIGNERS.map((as, i) => ({ at: (i + 1) * H, ctl: { kind: 'approve' as const, by: `person-${i}`, as } }))];
    const t = drive(plan, { start: DAY4, obs, controls: [...signs, { at: 90 * M, ctl: { kind: 'approve', by: 'person-0', as: 'engineering-lead' } }], until: (s) => s.step >= 0 });
    expect(t.of('approval.signed').filter((e) => !(e.data as { duplicate?: boolean }).duplicate)).toHaveLength(4);
    expect(t.of('approval.signed').filter((e) => (e.data as { duplicate?: boolean }).duplicate)).toHaveLength(1); // signing twice counts once
    expect((t.of('approval.granted')[0]!.at - DAY4) / H).toBe(4); // not at 1, 2 or 3 sign-offs
    // Before the last sign-off, the run said who was missing.
    const t3 = drive(plan, { start: DAY4, obs, controls: signs.slice(0, 4), limitMs: 5 * H });
    expect(t3.state.status).toBe('awaiting-approval');
    expect(t3.state.waitingFor).toMatch(/3 of 4 sign-offs \(signed: engineering-lead, product-manager, qa-lead; not signed: devops-lead\)/);
  });

  it('"Stage 1: 5% Rollout (Day 4) … Stage 2: 25% (Day 5) … Stage 3: 50% (Day 6) … Stage 4: 100% Rollout (Day 7)"', async () => {
    const r = await sim(await load('domain-migration'), {}, DAY4);
    expect(stepDates(r.events)).toEqual([
      ['gradual-production: 5%', '2025-03-06T08:00:00.000Z'],
      ['gradual-production: 25%', '2025-03-07T08:00:00.000Z'],
      ['gradual-production: 50%', '2025-03-08T08:00:00.000Z'],
      ['gradual-production: 100%', '2025-03-09T08:00:00.000Z'],
    ]);
  });

  it('"MigrationConfig(enableMigration: true, useDomainEntities: false, enableDualProviders: true, rolloutPercentage: 5)" … through "enableDualProviders: false, // Disable old providers"', async () => {
    const plan = await load('domain-migration');
    const t = drive(plan, { start: DAY4, obs: observer(plan, {}, {}, DAY4), controls: [CHECKED, { at: (s) => s.status === 'awaiting-approval' && !s.approval?.checklist, ctl: { kind: 'approve', by: 'ci (--yes)', all: true } }] });
    const writes = t.performed
      .filter((p) => p.action.kind === 'apply-flags')
      .map((p) => Object.fromEntries((p.action as Extract<Action, { kind: 'apply-flags' }>).changes.map((c) => [c.flag, c.enabled ? (c.percentage ?? 100) : false])));
    expect(writes).toEqual([
      { enableMigration: 5, useDomainEntities: false, enableDualProviders: 100 },
      { enableMigration: 25, useDomainEntities: 100 },
      { enableMigration: 50 },
      { enableMigration: 100, enableDualProviders: false },
    ]);
    expect(t.state.status).toBe('completed');
    // The seed's final MigrationConfig: enableMigration, useDomainEntities on; dual providers off; 100%.
    expect(flagStates(t.state)).toEqual({ enableMigration: '100%', useDomainEntities: '100%', enableDualProviders: 'off' });
  });

  for (const [line, check, value] of [
    ['Crash rate increases by >2%', 'crash-rate-increase', 2.5],
    ['Sync failures >5% of operations', 'sync-failure-rate', 0.06],
    ['Data corruption reports', 'data-corruption-reports', 1],
  ] as const)
    it(`"Immediate Rollback Trigger Conditions: ${line}" → "Remote Config Update (Immediate)" and the hot-fix/revert instructions`, async () => {
      const r = await sim(await load('domain-migration'), { checks: { [check]: [{ after: '1d2h', value }] } }, DAY4);
      expect(r.state.status).toBe('rolled-back');
      expect(r.state.rollback).toMatchObject({ trigger: 'check', mode: 'immediate' });
      const off = r.events.find((e) => e.type === 'rollback.flags-off')!;
      expect(iso(off.at)).toBe('2025-03-07T10:00:00.000Z'); // the tick that saw it: no waiting
      expect(r.state.flags.enableMigration).toMatchObject({ enabled: false }); // enableDomainMigration: false
      expect(r.events.some((e) => e.type === 'command.finished' && /hot-fix and revert instructions/.test(e.msg))).toBe(true);
    });

  it('"Error rate remains below baseline" — a success criterion: above baseline the next stage waits, nothing rolls back', async () => {
    const r = await sim(await load('domain-migration'), { checks: { 'error-rate-vs-baseline': [{ after: '0s', value: 0.9 }, { after: '1d12h', value: 1.2 }, { after: '2d12h', value: 0.9 }] }, baselines: { 'error-rate-vs-baseline': 1 } }, DAY4);
    const at50 = stepDates(r.events).find(([s]) => s.endsWith('50%'))!;
    expect(at50[1]).toBe('2025-03-08T20:00:00.000Z'); // day 6 08:00 held until the error rate fell below baseline at 20:00
    expect(r.state.status).toBe('completed');
  });
});

describe('seed 001 sign-offs through the CLI: `rollout approve --as <name>`, `rollout status` shows who signed', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => ({ dir, cleanup } = await tempDir()));
  afterAll(() => cleanup());
  it('"Approval Sign-offs" — three of four signed: still waiting, status lists them; the fourth opens the gate', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ steps: `[{ percent: 100, approval: { approvers: [${SIGNERS.join(', ')}] } }]`, hold: '0s' }));
    expect((await cli(['advance', f], { cwd: dir })).code).toBe(4);
    expect((await cli(['approve', '--as', 'engineering-lead', '--by', 'alice'], { cwd: dir })).code).toBe(0);
    expect((await cli(['approve', '--as', 'engineering-lead', '--by', 'alice'], { cwd: dir })).code).toBe(0); // counts once
    const refused = await cli(['approve', '--by', 'mallory'], { cwd: dir });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/"mallory" is not an approver of this gate/);
    expect(refused.stderr).toMatch(/--as <name>/);
    await cli(['approve', '--as', 'product-manager', '--by', 'bob'], { cwd: dir });
    await cli(['approve', '--as', 'qa-lead', '--by', 'carol'], { cwd: dir });
    const st = JSON.parse((await cli(['status', '--json'], { cwd: dir })).stdout);
    expect(st.status).toBe('awaiting-approval');
    expect(st.approval.signed.map((x: { name: string; by: string }) => [x.name, x.by])).toEqual([
      ['engineering-lead', 'alice'],
      ['product-manager', 'bob'],
      ['qa-lead', 'carol'],
    ]);
    const human = (await cli(['status'], { cwd: dir })).stdout;
    expect(human).toMatch(/3 of 4 signed: engineering-lead, product-manager, qa-lead; not signed: devops-lead/);
    expect((await cli(['approve', '--as', 'devops-lead', '--by', 'dave'], { cwd: dir })).code).toBe(0);
    expect((await cli(['advance'], { cwd: dir })).code).toBe(0);
    const log = JSON.parse((await cli(['log', '--json'], { cwd: dir })).stdout);
    expect(log.events.find((e: { type: string }) => e.type === 'approval.granted').msg).toMatch(/signed off by engineering-lead, product-manager, qa-lead, devops-lead/);
  }, 120_000); // eleven CLI processes: 6-25 s on a loaded machine
});
void D;
