import { describe, expect, it } from 'vitest';
import { drive, mkPlan, stepPercents, stepTimes, H, M } from './helpers.js';

describe('smoke', () => {
  it('runs a simple plan to completion', async () => {
    const plan = await mkPlan(`
defaults: { hold: 1h, interval: 1m }
checks:
  - { name: err, provider: sim, query: e, max: 5 }
phases:
  - { name: a, flags: [f], steps: [10, 25, 50] }
`);
    const t = drive(plan);
    expect(t.state.status).toBe('completed');
    expect(stepPercents(t, 'f')).toEqual([10, 25, 50]);
    expect(stepTimes(t)).toEqual([0, H, 2 * H]);
    console.log(t.types().join(' '), t.ticks.length);
  });
});
