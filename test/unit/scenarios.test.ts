/**
 * The example scenarios shipped in plans/scenarios/ do what their descriptions say, through
 * the same loader and simulation `rollout simulate --scenario` uses; and simulate labels the
 * values it assumed for checks no scenario scripts.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../../src/commands/simulate.js';
import { loadPlan } from '../../src/plan/load.js';
import { simulatePlan } from '../../src/runner/simulate.js';
import { cli } from '../cli/helpers.js';

const ROOT = join(import.meta.dirname, '../..');
const START = Date.parse('2026-12-01T08:00:00Z');
const run = async (scenario: string) => {
  const { plan } = await loadPlan(join(ROOT, 'plans/dojopool.yaml'), { adapters: false, env: {} });
  const sc = await loadScenario(join(ROOT, 'plans/scenarios', scenario));
  const r = await simulatePlan(plan, { start: START, scenario: sc });
  return { ...r, of: (type: string) => r.events.filter((e) => e.type === type) };
};

describe('plans/scenarios', () => {
  it('dojopool-breach: the error rate breaches in phase 2 two hours after it climbs, the run pauses, the on-call rollback turns every flag off', async () => {
    const r = await run('dojopool-breach.yaml');
    const breach = r.of('breach.detected');
    expect(breach).toHaveLength(1);
    expect(breach[0]!.msg).toMatch(/error-rate-critical-p2/);
    expect(breach[0]!.at - START).toBe(4 * 86400_000 + 2 * 3600_000);
    expect(r.of('run.paused')[0]!.at).toBe(breach[0]!.at);
    expect(r.state.status).toBe('rolled-back');
    expect(r.state.reason).toMatch(/on-call rolled back/);
    expect(Object.values(r.state.flags).every((f) => !f.enabled)).toBe(true);
    expect(r.of('incident.recorded')).toHaveLength(1);
  });

  it('dojopool-no-data: a 6-hour gap holds the run, pauses it after 15 minutes without data, and the resume at 30h lets it complete', async () => {
    const r = await run('dojopool-no-data.yaml');
    const paused = r.of('run.paused');
    expect(paused).toHaveLength(1);
    expect(paused[0]!.msg).toMatch(/avg-response-critical-p1.*no data.*for 15m/);
    expect(paused[0]!.at - START).toBe(24 * 3600_000 + 15 * 60_000);
    expect(r.of('run.resumed')[0]!.at - START).toBe(30 * 3600_000);
    expect(r.of('breach.detected')).toHaveLength(0);
    expect(r.state.status).toBe('completed');
  });

  it('dojopool-gate-rejected: the first gate (the pre-deployment checklist) is answered no-go, the run is aborted and no flag is written', async () => {
    const r = await run('dojopool-gate-rejected.yaml');
    expect(r.of('checklist.requested')).toHaveLength(1); // phase 1's pre-deployment checklist: a no-go there
    expect(r.of('approval.requested')).toHaveLength(0);
    expect(r.state.status).toBe('aborted');
    expect(r.of('step.applied')).toHaveLength(0);
    expect(r.writes).toBe(0);
  });

  it('simulate exits as a real run would, and names the values it assumed for checks without a scenario', async () => {
    const codes = { 'dojopool-breach.yaml': 3, 'dojopool-no-data.yaml': 0, 'dojopool-gate-rejected.yaml': 9 } as const;
    for (const [file, code] of Object.entries(codes)) {
      const r = await cli(['simulate', 'plans/dojopool.yaml', '--scenario', `plans/scenarios/${file}`], { cwd: ROOT });
      expect(r.code, `${file}\n${r.stdout}${r.stderr}`).toBe(code);
    }
    const r = await cli(['simulate', 'plans/dojopool.yaml', '--scenario', 'plans/scenarios/dojopool-breach.yaml'], { cwd: ROOT });
    const line = r.stdout.split('\n').find((l) => l.startsWith('assumed healthy'))!;
    expect(line).toContain('avg-response-critical-p1 = 250ms');
    expect(line).not.toContain('error-rate-critical-p2'); // scripted by the scenario
    const j = JSON.parse((await cli(['simulate', 'plans/dojopool.yaml', '--scenario', 'plans/scenarios/dojopool-breach.yaml', '--json'], { cwd: ROOT })).stdout) as { assumedValues: Record<string, { value: number }> };
    expect(j.assumedValues['avg-response-critical-p1']).toEqual({ value: 250 });
    expect(j.assumedValues['error-rate-critical-p2']).toBeUndefined();
  });
});
