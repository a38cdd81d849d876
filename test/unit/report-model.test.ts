/** The report's data from a real (simulated) run: flag steps, check series, marks, holds, redaction. */
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPlan } from '../../src/plan/load.js';
import { scenarioSchema, simulatePlan } from '../../src/runner/simulate.js';
import { reportModel } from '../../src/report/model.js';
import { renderReport } from '../../src/report/html.js';
import { registerSecret } from '../../src/util/redact.js';

const demo = resolve(import.meta.dirname, '../../plans/demo.yaml');

describe('reportModel', () => {
  it('draws the demo run: 1→5→10→25 %, the breach and the rollback to 0', async () => {
    const { plan } = await loadPlan(demo, { adapters: false });
    const sim = await simulatePlan(plan, { start: Date.parse('2026-12-01T08:00:00Z') });
    expect(sim.state.status).toBe('rolled-back');
    const m = reportModel({ state: sim.state, events: sim.events, plan, now: sim.endedAt });
    const flag = m.flags.find((f) => f.flag === 'new-checkout')!;
    const values = flag.points.map((p) => p[1]);
    // Starts at 0 (unless the first step lands in the start's millisecond, as on a virtual clock).
    expect(values.slice(values[0] === 0 ? 1 : 0)).toEqual([1, 5, 10, 25, 0]);
    expect(flag.points.map((p) => p[0])).toEqual([...flag.points.map((p) => p[0])].sort((a, b) => a - b));
    const err = m.checks.find((c) => c.name === 'error-rate')!;
    expect(err).toMatchObject({ max: 5, unit: '%', tier: 'critical', verdict: 'breach' });
    expect(err.points.map((p) => p[1])).toContain(7.2);
    expect(err.breaches).toHaveLength(1);
    const p95 = m.checks.find((c) => c.name === 'p95-latency')!;
    expect(p95).toMatchObject({ maxIncrease: 0.1 });
    expect(p95.points.every((p) => p[2] === 170)).toBe(true);
    expect(m.markers.map((x) => x.kind)).toEqual(expect.arrayContaining(['step', 'breach', 'rollback', 'end']));
    expect(m.holds).toHaveLength(4);
    for (const [a, b] of m.holds) expect(b).toBeGreaterThan(a);
    expect(m.incidents).toHaveLength(1);
    expect(m.log.length).toBe(sim.events.length);
    expect(m.run).toMatchObject({ status: 'rolled-back', plan: 'demo' });
  });

  it('redacts registered secrets from every part, and keeps </script> out of the inlined data', async () => {
    const { plan } = await loadPlan(demo, { adapters: false });
    const sim = await simulatePlan(plan, { start: Date.parse('2026-12-01T08:00:00Z') });
    const secret = 'sk_live_report_9f8e7d6c';
    registerSecret(secret);
    sim.events.push({ seq: 999, at: sim.endedAt, type: 'note', msg: `token ${secret} </script><script>alert(1)</script>`, data: { header: `Bearer ${secret}` } });
    const html = renderReport({ state: { ...sim.state, reason: `why ${secret}` }, events: sim.events, plan });
    expect(html).not.toContain(secret);
    expect(html).not.toContain('<script>alert(1)');
    expect(html).toContain('\\u003c/script\\u003e');
  });

  it('shows a partial rollback for some users: the cohort, who, why, when it came back; marks on the charts', async () => {
    const { plan } = await loadPlan(resolve(import.meta.dirname, '../../plans/chat-architecture.yaml'), { adapters: false, env: {} });
    const scenario = scenarioSchema.parse({ controls: [{ after: '30d', kind: 'rollback', segment: 'android-legacy', reason: 'drops messages' }, { after: '40d', kind: 'rollback', segment: 'android-legacy', undo: true }] });
    const sim = await simulatePlan(plan, { start: Date.parse('2025-03-03T08:00:00Z'), scenario });
    const m = reportModel({ state: sim.state, events: sim.events, plan, now: sim.endedAt });
    expect(m.cohorts).toEqual([{ kind: 'segment', name: 'android-legacy', at: Date.parse('2025-04-02T08:00:00Z'), by: 'scenario', check: null, reason: 'drops messages', restoredAt: Date.parse('2025-04-12T08:00:00Z'), restoredBy: 'scenario' }]);
    expect(m.markers.filter((x) => /segment android-legacy/.test(x.label)).map((x) => x.kind)).toEqual(['rollback', 'resume']);
    expect(m.run.excluded).toEqual([]);
  });
});
