/**
 * Seed 004's "A/B Testing Configuration" in plans/state-persistence.yaml: two experiment
 * phases with the guide's variants, statistical checks against control, the split written to
 * the guide's API (the fake of it) as {"variants": {...}}, and what a regression does.
 */
import { describe, expect, it } from 'vitest';
import { create } from '../../src/adapters/flags/http.js';
import { stepChanges } from '../../src/engine/engine.js';
import { startFlagApiFake } from '../fakes/flag-api.js';
import { load, sim } from './helpers.js';

describe('seed 004: the A/B experiments', () => {
  it('two experiment phases with the guide\'s variants; every check compares with control', async () => {
    const p = await load('state-persistence');
    const perf = p.phases.find((x) => x.name === 'experiment-performance')!;
    const rec = p.phases.find((x) => x.name === 'experiment-recovery-value')!;
    expect(perf.variants).toEqual([{ name: 'control', percent: 50 }, { name: 'treatment', percent: 50 }]);
    expect(rec.variants).toEqual([{ name: 'no_recovery', percent: 33.33 }, { name: 'auto_recovery', percent: 33.33 }, { name: 'manual_recovery', percent: 33.34 }]);
    const ab = perf.checks.filter((c) => c.compare);
    expect(ab.map((c) => [c.name, c.compare!.direction])).toEqual([
      ['ab-game-latency-p99', 'higher-is-bad'],
      ['ab-error-rate', 'higher-is-bad'],
      ['ab-user-satisfaction', 'lower-is-bad'],
    ]);
    for (const c of ab) expect(c.compare!.requests?.min).toBe(10_000); // min_sample_size
    expect(rec.checks.filter((c) => c.compare).map((c) => [c.name, c.compare!.controlValue])).toEqual([
      ['ab-games-recovered', 'no_recovery'],
      ['ab-user-retention', 'no_recovery'],
      ['ab-support-tickets', 'no_recovery'],
    ]);
    expect(stepChanges(p, p.phases.indexOf(perf), 0)[0]).toMatchObject({ flag: 'state_persistence_performance', enabled: true, percentage: 100, variants: perf.variants });
  });

  it('healthy: both experiments run to the end of the plan', async () => {
    const r = await sim(await load('state-persistence'));
    expect(r.state.status).toBe('completed');
    expect(r.state.flags.state_persistence_performance).toMatchObject({ enabled: true, percentage: 100 });
  });

  it('a 30 % p99 regression in the treatment rolls back the experiment flag only', async () => {
    const r = await sim(await load('state-persistence'), { checks: { 'ab-game-latency-p99': 30 } });
    expect(r.state.status).toBe('rolled-back');
    expect(r.state.rollback!.flags).toEqual(['state_persistence_performance']);
    expect(r.state.flags.use_state_persistence).toMatchObject({ enabled: true, percentage: 100 });
    const breach = r.events.find((e) => e.type === 'breach.detected')!;
    expect(breach.msg).toMatch(/ab-game-latency-p99 \+30 % .* vs control .*: regression/);
  });

  it('the guide\'s API receives the split as {"variants": {...}}', async () => {
    const api = await startFlagApiFake({ token: 't' });
    try {
      const b = create({ preset: 'feature-flags-api', baseUrl: api.url, auth: { tokenEnv: 'TOKEN' } }, { baseDir: '.', cwd: '.', log: () => undefined, env: { TOKEN: 't' } });
      expect(b.variants).toBe(true);
      await b.apply({ flag: 'recovery_feature_value', enabled: true, percentage: 100, variants: [{ name: 'no_recovery', percent: 33.33 }, { name: 'auto_recovery', percent: 33.33 }, { name: 'manual_recovery', percent: 33.34 }] });
      expect(api.flags.get('recovery_feature_value')!.variants).toEqual({ no_recovery: 33.33, auto_recovery: 33.33, manual_recovery: 33.34 });
      // Without variants the body carries none (the key is dropped).
      await b.apply({ flag: 'other', enabled: true, percentage: 5 });
      expect(JSON.parse(api.requests.at(-1)!.body)).toEqual({ enabled: true, percentage: 5 });
    } finally {
      await api.close();
    }
  });
});
