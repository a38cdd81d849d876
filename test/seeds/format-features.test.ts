/**
 * Format features the seeds needed (issue 10), each on the pure engine with the fake clock:
 * named-approver quorum gates, weekday schedules on steps, `requires` with a threshold, and
 * health-gated gradual-rollback stages. The seed files (000-004) show them on the real plans.
 */
import { describe, expect, it } from 'vitest';
import { control } from '../../src/engine/engine.js';
import { parsePlanText } from '../../src/plan/load.js';
import { D, drive, flagOn, H, M, mkPlan, observer, stepTimes, T0 } from '../unit/helpers.js';

const gatePlan = (quorum = '') => `
defaults: { hold: 1h }
phases:
  - name: prod
    flags: [f]
    approval:
      message: sign-offs
      approvers: [engineering-lead, product-manager, qa-lead, devops-lead]${quorum}
    steps: [5, 100]
`;

describe('approval with named approvers and a quorum (seed 001 "Approval Sign-offs")', () => {
  it('one approval does not open a four-person gate; the fourth distinct sign-off does', async () => {
    const plan = await mkPlan(gatePlan());
    expect(plan.phases[0]!.approval).toMatchObject({ quorum: 4 });
    const t = drive(plan, {
      controls: [
        { at: 1 * M, ctl: { kind: 'approve', by: 'alice', as: 'engineering-lead' } },
        { at: 2 * M, ctl: { kind: 'approve', by: 'alice', as: 'engineering-lead' } }, // twice: counts once
        { at: 3 * M, ctl: { kind: 'approve', by: 'bob', as: 'product-manager' } },
        { at: 4 * M, ctl: { kind: 'approve', by: 'carol', as: 'qa-lead' } },
        { at: 5 * M, ctl: { kind: 'approve', by: 'dave', as: 'devops-lead' } },
      ],
      until: (s) => s.step >= 0,
    });
    const signed = t.of('approval.signed');
    expect(signed.map((e) => [(e.data as { name: string }).name, Boolean((e.data as { duplicate?: boolean }).duplicate)])).toEqual([
      ['engineering-lead', false],
      ['engineering-lead', true],
      ['product-manager', false],
      ['qa-lead', false],
      ['devops-lead', false],
    ]);
    const granted = t.of('approval.granted');
    expect(granted).toHaveLength(1);
    expect(granted[0]!.at - T0).toBe(5 * M); // not at the first, second or third sign-off
    expect(granted[0]!.msg).toMatch(/signed off by engineering-lead, product-manager, qa-lead, devops-lead/);
    expect(stepTimes(t)[0]).toBe(5 * M);
  });

  it('status shows who has and has not signed while the gate waits', async () => {
    const plan = await mkPlan(gatePlan());
    const t = drive(plan, { controls: [{ at: M, ctl: { kind: 'approve', by: 'bob', as: 'qa-lead' } }], limitMs: H });
    expect(t.state.status).toBe('awaiting-approval');
    expect(t.state.approval!.signed!.map((x) => [x.name, x.by])).toEqual([['qa-lead', 'bob']]);
    expect(t.state.waitingFor).toBe('approval for phase prod: 1 of 4 sign-offs (signed: qa-lead; not signed: engineering-lead, product-manager, devops-lead)');
  });

  it('someone who is not a named approver is refused with the names to sign as; without --as the user name is used', async () => {
    const plan = await mkPlan(gatePlan());
    const t = drive(plan, { controls: [{ at: M, ctl: { kind: 'approve', by: 'mallory' } }, { at: 2 * M, ctl: { kind: 'approve', by: 'qa-lead' } }], limitMs: H });
    expect(t.refused[0]).toBe('"mallory" is not an approver of this gate (approvers: engineering-lead, product-manager, qa-lead, devops-lead)');
    expect(t.state.approval!.signed!.map((x) => x.name)).toEqual(['qa-lead']);
    const d = control(plan, t.state, { kind: 'approve', by: 'x', as: 'ceo' }, t.now);
    expect(d.hint).toMatch(/rollout approve run-1 --as <name>/);
  });

  it('quorum: 2 of 3 opens at the second distinct sign-off', async () => {
    const plan = await mkPlan(`
phases:
  - name: p
    flags: [f]
    approval: { approvers: [a, b, c], quorum: 2 }
    steps: [100]
`);
    const t = drive(plan, { controls: [{ at: M, ctl: { kind: 'approve', as: 'c' } }, { at: 2 * M, ctl: { kind: 'approve', as: 'a' } }], until: (s) => s.step >= 0 });
    expect(t.of('approval.granted')[0]!.at - T0).toBe(2 * M);
  });

  it('--yes (all: true) signs for every approver still missing', async () => {
    const plan = await mkPlan(gatePlan());
    const t = drive(plan, { controls: [{ at: M, ctl: { kind: 'approve', by: 'ci (--yes)', all: true } }], until: (s) => s.step >= 0 });
    expect(t.of('approval.signed')).toHaveLength(4);
    expect(t.state.status).toBe('running');
  });

  it('validate refuses a quorum that names nobody or more people than named', async () => {
    const bad = async (approval: string) => {
      const { warnings } = await parsePlanText(`name: t\nbackend: { type: local }\nphases:\n  - name: p\n    flags: [f]\n    approval: ${approval}\n`, '/tmp/t.yaml', 't.yaml', { adapters: false, env: {} }).catch((e: { issues?: unknown[] }) => ({ warnings: e.issues ?? [] }));
      return JSON.stringify(warnings);
    };
    expect(await bad('{ quorum: 2 }')).toMatch(/quorum counts named approvers/);
    expect(await bad('{ approvers: [a, b], quorum: 3 }')).toMatch(/quorum 3 is more than the 2 approver/);
  });
});

describe('weekday schedule on a step (seed 000 "Monday: 50%, Wednesday: 75%, Friday: 90%")', () => {
  const plan = () =>
    mkPlan(`
defaults: { hold: 1h, interval: 1h }
phases:
  - name: p
    flags: [f]
    steps:
      - 10
      - { percent: 50, day: mon }
      - { percent: 75, day: wed, at: "09:00" }
`);
  it('each step lands on its weekday whatever day the run starts', async () => {
    const thursday = Date.parse('2025-03-06T10:00:00Z');
    const t = drive(await plan(), { start: thursday });
    const at = stepTimes(t).map((ms) => new Date(thursday + ms).toISOString());
    expect(at).toEqual(['2025-03-06T10:00:00.000Z', '2025-03-10T00:00:00.000Z', '2025-03-12T09:00:00.000Z']);
    expect(t.of('step.scheduled').map((e) => e.msg)[0]).toMatch(/p 50% is scheduled for mon; waiting until 2025-03-10T00:00:00.000Z/);
    expect(t.state.status).toBe('completed');
  });
  it('the day is read in windows.timezone', async () => {
    const p = await mkPlan(`
windows: { timezone: America/New_York }
defaults: { interval: 1h }
phases:
  - name: p
    flags: [f]
    steps: [10, { percent: 50, day: mon, at: "09:00" }]
`);
    const t = drive(p, { start: Date.parse('2025-03-06T10:00:00Z') });
    expect(new Date(t.start + stepTimes(t)[1]!).toISOString()).toBe('2025-03-10T13:00:00.000Z'); // 09:00 EDT
  });
});

describe('requires with a threshold (seed 004 recovery after snapshots "stable", not 100%)', () => {
  const plan = () =>
    mkPlan(`
defaults: { hold: 1h }
phases:
  - name: p
    flags: [g]
    requires: [{ flag: outside, atLeast: 25 }]
    steps: [100]
`);
  it('a required flag at or above the threshold lets the phase start', async () => {
    const p = await plan();
    expect(p.phases[0]!.requires).toEqual(['outside']);
    const t = drive(p, { obs: observer(p, {}, { outside: flagOn('outside', 30) }) });
    expect(t.state.status).toBe('completed');
  });
  it('below the threshold the run pauses and says what it needs', async () => {
    const p = await plan();
    const t = drive(p, { obs: observer(p, {}, { outside: flagOn('outside', 20) }) });
    expect(t.state.status).toBe('paused');
    expect(t.state.reason).toMatch(/requires outside on at 25% or more, but it is 20%/);
  });
  it('atLeast: 0 means enabled at all (a ring-only flag is 0% for everybody else)', async () => {
    const p = await mkPlan(`
phases:
  - name: p
    flags: [g]
    requires: [{ flag: outside, atLeast: 0 }]
    steps: [100]
`);
    expect(drive(p, { obs: observer(p, {}, { outside: flagOn('outside', 0) }) }).state.status).toBe('completed');
    expect(drive(p, { obs: observer(p, {}, { outside: flagOn('outside', 0, false) }) }).state.status).toBe('paused');
  });
});

describe('health-gated gradual rollback stage (seed 000 "0% after stable")', () => {
  const plan = () =>
    mkPlan(`
defaults: { hold: 1d, interval: 1m }
checks:
  - { name: errors, provider: sim, query: e, max: 0.01, tier: warning, action: notify }
phases:
  - name: p
    flags: [f]
    steps: [100]
rollback:
  mode: gradual
  steps:
    - { percent: 50, wait: 1h }
    - { percent: 10, stableFor: 30m, maxWait: 2h }
    - { percent: 0 }
`);
  const rollbackAt = 2 * H;
  const stageTimes = (t: ReturnType<typeof drive>) => t.of('rollback.step').concat(t.of('rollback.flags-off')).map((e) => [(e.data as { percent?: number })?.percent ?? 0, (e.at - T0 - rollbackAt) / M]);
  it('moves to 0% once the checks have passed for stableFor', async () => {
    const p = await plan();
    // Errors stay high until 40 minutes after the 10% stage (1 h after the rollback), then heal.
    const t = drive(p, { obs: observer(p, { errors: (el) => (el >= rollbackAt && el < rollbackAt + H + 40 * M ? 0.05 : 0.001) }), controls: [{ at: rollbackAt, ctl: { kind: 'rollback', reason: 'errors' } }] });
    expect(t.state.status).toBe('rolled-back');
    expect(stageTimes(t)).toEqual([
      [50, 0],
      [10, 60],
      [0, 60 + 40 + 30],
    ]);
    expect(t.of('rollback.stable')).toHaveLength(1);
  });
  it('after maxWait it moves on even if the checks never held, and says so', async () => {
    const p = await plan();
    const t = drive(p, { obs: observer(p, { errors: (el) => (el < rollbackAt ? 0.001 : 0.05) }), controls: [{ at: rollbackAt, ctl: { kind: 'rollback', reason: 'errors' } }] });
    expect(t.state.status).toBe('rolled-back');
    expect(stageTimes(t)).toEqual([
      [50, 0],
      [10, 60],
      [0, 60 + 120],
    ]);
    expect(t.of('rollback.unstable')[0]!.msg).toMatch(/not stable within the stage's maximum wait \(errors: /);
  });
  it('validate: maxWait needs stableFor, and stableFor excludes a fixed wait', async () => {
    const bad = async (steps: string) => {
      try {
        await parsePlanText(`name: t\nbackend: { type: local }\nmetrics: { sim: { type: fake } }\nchecks: [{ name: e, provider: sim, query: e, max: 1 }]\nphases: [{ name: p, flags: [f] }]\nrollback: { mode: gradual, steps: ${steps} }\n`, '/tmp/t.yaml', 't.yaml', { adapters: false, env: {} });
        return '';
      } catch (e) {
        return JSON.stringify((e as { issues?: unknown }).issues ?? String(e));
      }
    };
    expect(await bad('[{ percent: 10, maxWait: 1h }, { percent: 0 }]')).toMatch(/maxWait bounds a health-gated wait/);
    expect(await bad('[{ percent: 10, wait: 1h, stableFor: 1h }, { percent: 0 }]')).toMatch(/either wait \(fixed\) or stableFor/);
    expect(await bad('[{ percent: 10, stableFor: 2h, maxWait: 1h }, { percent: 0 }]')).toMatch(/maxWait is shorter than stableFor/);
  });
});
void D;

describe('afterRollback: continue (seed 004 "Rollback recovery feature" — that feature only, the rollout goes on)', () => {
  const plan = (after: string) =>
    mkPlan(`
defaults: { hold: 1h }
checks:
  - { name: b-failures, provider: sim, query: x, max: 0.01, action: rollback, rollbackFlags: [b], ${after} phases: [b, c] }
phases:
  - { name: a, flags: [a], steps: [100] }
  - { name: b, flags: [b], steps: [10, 50] }
  - { name: c, flags: [c], steps: [100] }
`);
  const failing = (p: Awaited<ReturnType<typeof plan>>) => observer(p, { 'b-failures': (el) => (el >= 90 * M ? 0.05 : 0.001) });
  it('end (the default): the run ends rolled back with the other flags left as they are', async () => {
    const p = await plan('');
    const t = drive(p, { obs: failing(p) });
    expect(t.state.status).toBe('rolled-back');
    expect(t.state.flags).toMatchObject({ a: { enabled: true, percentage: 100 }, b: { enabled: false } });
    expect(t.state.flags.c).toBeUndefined();
  });
  it('continue: b goes off, its remaining step is skipped, c still rolls out, the check that guarded b stops gating', async () => {
    const p = await plan('afterRollback: continue,');
    const t = drive(p, { obs: failing(p) });
    expect(t.state.status).toBe('completed');
    expect(t.types()).toContain('rollback.scoped-done');
    expect(t.of('step.skipped').map((e) => e.msg)).toEqual(['b 50% skipped: b rolled back earlier in this run']);
    expect(t.state.flags).toMatchObject({ a: { enabled: true, percentage: 100 }, b: { enabled: false }, c: { enabled: true, percentage: 100 } });
    expect(t.state.dropped).toEqual(['b']);
  });
  it('validate: afterRollback needs rollbackFlags', async () => {
    const r = await parsePlanText(`name: t\nbackend: { type: local }\nmetrics: { sim: { type: fake } }\nchecks: [{ name: e, provider: sim, query: e, max: 1, afterRollback: continue }]\nphases: [{ name: p, flags: [f] }]\n`, '/tmp/t.yaml', 't.yaml', { adapters: false, env: {} }).then(
      () => '',
      (e: unknown) => JSON.stringify((e as { issues?: unknown }).issues ?? String(e)),
    );
    expect(r).toMatch(/afterRollback chooses what happens after a scoped rollback/);
  });
});
