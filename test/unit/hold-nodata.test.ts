/**
 * Holds and no-data spells: a hold is time at this percentage with the checks running and
 * passing. `promote` ends the current hold (the checks must still pass); a no-data spell never
 * restarts a hold, and time already observed healthy is not thrown away.
 */
import { describe, expect, it } from 'vitest';
import { drive, H, M, mkPlan, observer, stepTimes } from './helpers.js';

const plan = () =>
  mkPlan(`defaults: { hold: 1h, interval: 1m, maxJump: 100 }
checks:
  - { name: err, provider: sim, query: e, max: 5 }
phases:
  - { name: a, flags: [f], steps: [10, 50, 100] }
`);

describe('holds and no-data spells', () => {
  it('promote, then no data past noDataTimeout (pause), then resume with data: the next step at once', async () => {
    const p = await plan();
    // No data from 10m to 40m; promote at 10m; resume at 45m (the run paused at 25m).
    const obs = observer(p, { err: (el) => (el >= 10 * M && el < 40 * M ? null : undefined) });
    const t = drive(p, { obs, controls: [{ at: 10 * M, ctl: { kind: 'promote', full: false } }, { at: 45 * M, ctl: { kind: 'resume' } }], limitMs: 3 * H });
    expect(t.of('run.paused')[0]!.at - t.start).toBe(25 * M);
    expect(stepTimes(t).slice(0, 2)).toEqual([0, 45 * M]);
  });

  it('promote, then a short no-data spell (no pause): the next step as soon as the check passes again', async () => {
    const p = await plan();
    const obs = observer(p, { err: (el) => (el >= 10 * M && el < 20 * M ? null : undefined) });
    const t = drive(p, { obs, controls: [{ at: 10 * M, ctl: { kind: 'promote', full: false } }], limitMs: 3 * H });
    expect(stepTimes(t).slice(0, 2)).toEqual([0, 20 * M]);
  });
});

describe('a no-data spell during a hold neither counts nor resets it', () => {
  it('20m healthy, 10m without data (under noDataTimeout), then healthy: 50% after 1h of healthy time (1h10m)', async () => {
    const p = await plan();
    const obs = observer(p, { err: (el) => (el >= 20 * M && el < 30 * M ? null : undefined) });
    const t = drive(p, { obs, limitMs: 3 * H });
    expect(t.of('run.paused')).toEqual([]);
    // Before: 50% at 1h (the no-data spell counted as hold time).
    expect(stepTimes(t).slice(0, 2)).toEqual([0, 1 * H + 10 * M]);
  });

  it('no data long enough to pause, resumed later: the time observed healthy is kept (41m left, not a fresh 1h)', async () => {
    const p = await plan();
    // No data from 20m to 2h; the run pauses at 35m (noDataTimeout 15m); resumed at 2h.
    const obs = observer(p, { err: (el) => (el >= 20 * M && el < 2 * H ? null : undefined) });
    const t = drive(p, { obs, controls: [{ at: 2 * H, ctl: { kind: 'resume' } }], limitMs: 5 * H });
    expect(t.of('run.paused')[0]!.at - t.start).toBe(35 * M);
    // Judged healthy up to 19m; the interval that ends in a judgment without data does not
    // count, so 19m of the hold were observed healthy. Before: 25m left (the spell counted).
    expect(t.of('run.resumed')[0]!.data).toMatchObject({ holdLeftMs: 41 * M });
    expect(stepTimes(t).slice(0, 2)).toEqual([0, 2 * H + 41 * M]);
  });

  it('noData: pass checks do not stop the hold', async () => {
    const p = await mkPlan(`defaults: { hold: 1h, interval: 1m, maxJump: 100 }
checks:
  - { name: err, provider: sim, query: e, max: 5, noData: pass }
phases:
  - { name: a, flags: [f], steps: [10, 50, 100] }
`);
    const obs = observer(p, { err: (el) => (el >= 20 * M && el < 30 * M ? null : undefined) });
    expect(stepTimes(drive(p, { obs, limitMs: 3 * H })).slice(0, 2)).toEqual([0, 1 * H]);
  });
});
