/**
 * A notice's words come from output/notice.ts, rendered from the facts the engine recorded
 * when it decided to send it: the engine's queued notice carries numbers and states only.
 */
import { describe, expect, it } from 'vitest';
import { control, createRun, tick } from '../../src/engine/engine.js';
import type { Action } from '../../src/engine/types.js';
import { noticeDuration, noticeVars, noticeVarsOf } from '../../src/output/notice.js';
import { H, mkPlan, T0 } from './helpers.js';

const plan = () =>
  mkPlan(`defaults: { hold: 1h, interval: 1m, maxJump: 100 }
checks:
  - { name: err, provider: sim, query: e, max: 5, unit: '%' }
phases:
  - { name: canary, flags: [f], steps: [10, 50, { percent: 100, approval: { message: ship it } }] }
notify:
  targets: { log: { type: log } }
`);

const notices = (pending: Action[]) => pending.filter((a): a is Extract<Action, { kind: 'notify' }> => a.kind === 'notify');

describe('notice words (output/notice.ts)', () => {
  it('the engine queues facts, not words; output renders status colour, step, checks and the next command', async () => {
    const p = await plan();
    const started = createRun(p, 'r-1', T0);
    const [n] = notices(started.state.pending);
    expect(n!.vars).toBeUndefined();
    expect(n!.facts).toMatchObject({ run: 'r-1', status: 'running', percentage: 0, nextPercentage: 10, targetPercentage: 100 });
    expect(JSON.stringify(n!.facts)).not.toMatch(/green|rollout resume|\d+s"/);

    // Paused after a breach, two hours in: yellow/red words, the resume command, "2h0m".
    const s = { ...started.state, pending: [], phase: 0, step: 0, flags: { f: { enabled: true, percentage: 10 } } };
    const paused = control(p, s, { kind: 'pause', reason: 'looks odd' }, T0 + 2 * H);
    const [pn] = notices(paused.state.pending);
    const v = noticeVarsOf(p, pn!);
    expect(v).toMatchObject({ plan: p.name, run: 'r-1', phase: 'canary', step: '1/3', flags: 'f', percentage: 10, previousPercentage: null, nextPercentage: 50, status: 'yellow', duration: '2h0m', reason: 'looks odd' });
    expect(v.command).toBe('rollout resume r-1 (or rollout rollback r-1 --reason …)');
    expect(v.steps).toBe('10% → 50% → 100%');
  });

  it('renders the checks line with unit and threshold, and a breach turns the status red', async () => {
    const p = await plan();
    const { state } = createRun(p, 'r-2', T0);
    const t = tick(p, { ...state, pending: [] }, { checks: { err: { value: 7.5 } } }, T0 + 60_000);
    expect(t.state.checks.err?.verdict).toBe('fail');
    const v = noticeVars(p, {
      run: 'r-2', status: 'running', phase: 0, step: 0, percentage: 10, previousPercentage: null, nextPercentage: 50, targetPercentage: 100,
      checks: [{ name: 'err', value: 7.5, verdict: 'fail', breached: true }], startedAt: T0, at: T0 + 90_061_000, extra: { report: 'daily' },
    });
    expect(v.checks).toMatch(/^err 7\.5% \(.*5.*\) BREACH$/);
    expect(v).toMatchObject({ status: 'red', duration: '1d1h', report: 'daily', nextAt: null, command: null });
  });

  it('run.started names the configured checks with their thresholds before any is measured (not "no checks configured")', async () => {
    const p = await plan();
    const [n] = notices(createRun(p, 'r-3', T0).state.pending);
    expect(n!.event).toBe('run.started');
    const v = noticeVarsOf(p, n!);
    expect(v.checks).toMatch(/^err \(.*5.*\)$/);
    const none = await mkPlan(`phases:\n  - { name: canary, flags: [f], steps: [10] }\nnotify:\n  targets: { log: { type: log } }\n`);
    expect(noticeVarsOf(none, notices(createRun(none, 'r-4', T0).state.pending)[0]!).checks).toBeNull();
  });

  it('a notice saved with its words (before notices carried facts) is sent with those words', () => {
    const old = { id: 3, kind: 'notify', event: 'step.applied', severity: 'info', vars: { plan: 'p', percentage: 25 } } as Extract<Action, { kind: 'notify' }>;
    expect(noticeVarsOf({ name: 'other' } as never, old)).toEqual({ plan: 'p', percentage: 25 });
  });

  it('duration words', () => {
    expect([noticeDuration(42_400), noticeDuration(65 * 60_000), noticeDuration(50 * H)]).toEqual(['42s', '1h5m', '2d2h']);
  });
});
