/** The /metrics text: grouped by family, labels escaped, one render per run change. */
import { describe, expect, it } from 'vitest';
import { metricsText } from '../../src/serve/metrics.js';
import type { CachedRun } from '../../src/serve/runs.js';
import type { RunState } from '../../src/engine/types.js';

const run = (id: string, plan: string, extra: Partial<RunState> = {}): CachedRun =>
  ({
    state: { schema: 1, id, plan: { name: plan, file: 'p.yaml', hash: 'h' }, status: 'running', phase: 0, step: 0, approved: [], flags: { f: { enabled: true, percentage: 25 } }, checks: { errors: { verdict: 'pass', breached: false, value: 0.5, reason: 'ok', at: 1 } }, pending: [], startedAt: 1000, updatedAt: 2000, seq: 3, nextActionId: 1, ...extra },
    driver: null,
    json: {} as never,
  }) as CachedRun;

describe('metricsText', () => {
  it('groups each family once and escapes label values', () => {
    const text = metricsText([run('a', 'we"ird\\plan\nx'), run('b', 'plain', { status: 'rolled-back', rollback: { reason: 'r', trigger: 'manual', mode: 'immediate', startedAt: 1, stage: 0, failures: [], escalated: false } })]);
    expect(text).toContain('rollout_flag_percentage{run="a",plan="we\\"ird\\\\plan\\nx",flag="f"} 25\n');
    expect(text.match(/^# TYPE rollout_flag_percentage gauge$/gm)).toHaveLength(1);
    const lines = text.split('\n');
    const first = lines.findIndex((l) => l.startsWith('rollout_flag_percentage{'));
    expect(lines[first + 1]).toMatch(/^rollout_flag_percentage\{run="b"/);
    expect(text).toContain('rollout_rollbacks{plan="plain"} 1\n');
    expect(text).toContain('rollout_runs{status="running"} 1\n');
    expect(text).toContain('rollout_check_verdict{run="a",plan="we\\"ird\\\\plan\\nx",check="errors",verdict="pass"} 1\n');
    for (const l of lines) if (l && !l.startsWith('#')) expect(l).toMatch(/^[a-z_]+\{.*\} -?[\d.e+]+$|^[a-z_]+\{.*\} (NaN|[+-]Inf)$/);
  });

  it('renders a run again only when the cached run was replaced', () => {
    const r = run('a', 'p');
    const t1 = metricsText([r]);
    r.state.flags.f!.percentage = 50; // same object: the rendered lines are kept
    expect(metricsText([r])).toBe(t1);
    expect(metricsText([{ ...r }])).toContain('rollout_flag_percentage{run="a",plan="p",flag="f"} 50');
  });

  it('an open page is a gauge with its severity and level, and its ack deadline; an acknowledged one is gone', () => {
    const page = { id: 1, severity: 'P0', reason: 'r', openedAt: 1000, level: 1, paged: [{ level: 0, targets: ['oncall'], at: 1000 }, { level: 1, targets: ['cto'], at: 901_000 }], deadline: 1_801_000 };
    const text = metricsText([run('a', 'p', { pages: [page, { ...page, id: 2, ack: { name: 'x', at: 5, via: 'ack' } }] })]);
    expect(text).toContain('rollout_page_open{run="a",plan="p",page="1",severity="P0",level="1"} 1\n');
    expect(text).toContain('rollout_page_ack_deadline_timestamp_seconds{run="a",plan="p",page="1",severity="P0"} 1801\n');
    expect(text).not.toContain('page="2"');
  });
});
