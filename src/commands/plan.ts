/**
 * The timeline as a table: the plan simulated on healthy metrics with approvals granted at
 * once, so holds, gates and rollout windows land where they really would.
 */
import { stepLabel } from '../engine/engine.js';
import { simulatePlan } from '../runner/simulate.js';
import { formatDuration } from '../util/duration.js';
import { style, tableStyle } from '../output/style.js';
import { parseStart, printJson, type Context } from './context.js';
import { chooseStart } from '../runner/start-time.js';

export default async function planCmd(c: Context, file: string, o: { start?: string; at?: string }): Promise<number> {
  const { loadPlan } = await import('../plan/load.js');
  const { plan } = await loadPlan(file, { adapters: false, env: c.env, cwd: c.cwd });
  const created = parseStart(c, o.start);
  // A scheduled start (startAt: / --at) is resolved from `--start`, the moment `rollout start` runs.
  const when = chooseStart(plan, o.at, created, file);
  for (const n of when.notes) c.stderr(`note: ${n}`);
  const start = when.startAt ?? created;
  const r = await simulatePlan(plan, { start: created, startAt: when.startAt, startSource: when.source, scripted: false });
  const announced = r.events.find((e) => e.type === 'run.announced');
  const tz = plan.windows?.timezone ?? 'UTC';
  const fmt = (t: number) => new Intl.DateTimeFormat('en-GB', { timeZone: tz, weekday: 'short', day: '2-digit', month: 'short', hour: '2-digit', minute: '2-digit', hour12: false }).format(new Date(t));
  const rows: Array<{ phase: string; step: string; flags: string; at: number; holdMs: number; gate?: string; waitedForWindow: boolean; checks: string }> = [];
  let windowWaitSince: number | undefined;
  for (const e of r.events) {
    if (e.type === 'window.closed') windowWaitSince ??= e.at;
    if (e.type !== 'step.applied') continue;
    const pi = e.data?.phase as number;
    const si = e.data?.step as number;
    const p = plan.phases[pi]!;
    const st = p.steps[si]!;
    const gate = st.approval ?? (si === 0 ? p.approval : undefined);
    const list = st.checklist ?? (si === 0 ? p.checklist : undefined);
    const gates = [list ? `checklist (${list.length} items)` : '', gate ? `go/no-go${gate.timeoutMs ? ` (${formatDuration(gate.timeoutMs)} window)` : ''}` : ''].filter(Boolean).join(' + ');
    rows.push({
      phase: p.name,
      step: stepLabel(plan, pi, si),
      flags: [...p.flags, ...Object.keys(st.set)].join(', '),
      at: e.at,
      holdMs: st.holdMs,
      gate: gates || undefined,
      waitedForWindow: windowWaitSince !== undefined,
      checks: p.checks.map((ch) => ch.name).join(', '),
    });
    windowWaitSince = undefined;
  }
  const total = r.endedAt - r.startedAt;
  if (c.json) {
    printJson(c, {
      plan: plan.name,
      timezone: tz,
      start: new Date(start).toISOString(),
      ...(when.startAt !== undefined ? { scheduledAt: new Date(created).toISOString() } : {}),
      announcement: announced ? { at: new Date(announced.at).toISOString(), offset: `-${formatDuration(start - announced.at)}`, late: Boolean(announced.data?.late) } : null,
      end: new Date(r.endedAt).toISOString(),
      totalMs: total,
      total: formatDuration(total),
      outcome: r.state.status,
      steps: rows.map((x) => ({ ...x, at: new Date(x.at).toISOString(), offset: formatDuration(x.at - start), hold: formatDuration(x.holdMs) })),
    });
    return 0;
  }
  const { default: Table } = await import('cli-table3');
  const head = ['#', 'phase', 'step', 'flags', 'at', `when (${tz})`, 'hold', 'gate', 'checks'];
  const cells = rows.map((x, i) => [String(i + 1), x.phase, x.step, x.flags, `T+${x.at > start ? formatDuration(x.at - start) : '0'}`, fmt(x.at) + (x.waitedForWindow ? style.yellow('\n(waited for window)') : ''), x.holdMs ? formatDuration(x.holdMs) : '-', x.gate ?? '', x.checks]);
  // On a terminal the table fits its width (seed 004's is ~220 columns wide): long cells wrap.
  const { fitColumns } = await import('../output/table.js');
  const colWidths = fitColumns(head, cells, process.stdout.isTTY ? process.stdout.columns || 0 : 0);
  const t = new Table({ head, style: tableStyle(), ...(colWidths ? { colWidths, wordWrap: true, wrapOnWordBoundary: true } : {}) });
  for (const r of cells) t.push(r);
  c.stdout(t.toString());
  const windows = plan.windows
    ? `windows (${tz}): allow ${plan.windows.allow.map((w) => [w.days?.join(','), w.from && `${w.from}-${w.to}`, w.start && `${w.start}..${w.end}`].filter(Boolean).join(' ')).join('; ') || 'any time'}${plan.windows.blackout.length ? `; blackout ${plan.windows.blackout.map((w) => w.name ?? [w.days?.join(','), w.from && `${w.from}-${w.to}`, w.start && `${w.start}..${w.end}`].filter(Boolean).join(' ')).join('; ')}` : ''}`
    : 'no rollout windows: steps go as soon as holds and checks allow';
  if (announced) c.stdout(`${style.bold('announcement')}: ${fmt(announced.at)}, ${start > announced.at ? `${formatDuration(start - announced.at)} before the start` : 'with the start'}${announced.data?.late ? style.yellow(' (later than notify.announce.before asks)') : ''}`);
  if (when.startAt !== undefined) c.stdout(`${style.bold('scheduled start')}: ${fmt(start)} (${when.source === 'command' ? '--at' : "the plan's startAt"})`);
  c.stdout(`${style.bold('total')}: ${formatDuration(total)} from ${fmt(start)} to ${fmt(r.endedAt)} (${rows.length} steps, healthy metrics, approvals granted at once)`);
  c.stdout(windows);
  return 0;
}
