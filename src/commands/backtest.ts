/**
 * `rollout backtest <plan> --from 7d [--to <time>] [--json] [--report file.html]`: replay the
 * plan's checks over real history through the engine (src/runner/backtest.ts). Read-only: only
 * the plan's metrics providers are created; no flag backend, no command, no notice.
 */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { style } from '../output/style.js';
import { HISTORY_CAVEAT, planChecks, type BacktestResult } from '../runner/backtest.js';
import { formatDuration, parseDuration } from '../util/duration.js';
import { safeText } from '../util/terminal.js';
import { printJson, type Context } from './context.js';

const iso = (t: number) => new Date(t).toISOString().replace(':00.000Z', 'Z');

/** "7d" (that long before --to) or an ISO time. */
export function parseTime(s: string, what: string, relativeTo: number): number {
  // A date first: the duration parser would read "2026-12-01T10:00Z" as a sum of numbers.
  const t = /^\d{4}-\d{2}-\d{2}/.test(s.trim()) ? Date.parse(s) : NaN;
  if (!Number.isNaN(t)) return t;
  const d = /^(\d+(\.\d+)?\s*[a-z]+\s*)+$/i.test(s.trim()) ? parseDuration(s) : null;
  if (d !== null) return relativeTo - d;
  if (Number.isNaN(t)) throw new UsageError(`${what} "${s}" is neither a duration nor a time`, { hint: 'Use a duration before --to ("7d", "36h") or ISO 8601 ("2026-11-25T00:00:00Z").' });
  return t;
}

function fmtValue(v: number | null, unit: string): string {
  if (v === null) return 'no data';
  return `${Math.round(v * 1000) / 1000}${unit}`;
}

export function renderBacktest(r: BacktestResult, units: Record<string, string>): string {
  const lines: string[] = [];
  const n = r.checks[0]?.judged ?? 0;
  lines.push(`${style.bold(`backtest of ${r.plan}`)}: ${iso(r.from)} → ${iso(r.to)} (${formatDuration(r.to - r.from)}), ${n.toLocaleString('en-US')} judgments per check every ${formatDuration(r.intervalMs)}`);
  lines.push(style.dim(`reproduce with --from ${iso(r.from)} --to ${iso(r.to)} · read-only: no flag was touched, no command ran`));
  lines.push(style.yellow(r.caveat));
  for (const c of r.checks) {
    const unit = units[c.name] ?? '';
    lines.push('');
    lines.push(`${style.bold(safeText(c.name))} (${safeText(c.threshold)}) — ${c.tier} → ${c.action}`);
    if (!c.breaches.length) lines.push(`  ${style.green('no breach')}`);
    for (const b of c.breaches) {
      const verb = b.action === 'rollback' ? 'ROLLBACK' : b.action === 'pause' ? 'PAUSE' : 'NOTIFY';
      lines.push(
        `  ${style.red(verb)} at ${iso(b.actedAt)} (failing from ${iso(b.failingFrom)}, ${b.until ? `recovered ${iso(b.until)}` : 'still failing at the end'}), worst ${fmtValue(b.worst, unit)}`,
      );
    }
    if (c.closest.length) lines.push(`  closest approaches: ${c.closest.map((p) => `${fmtValue(p.value, unit)} at ${iso(p.at)} (${Math.round(p.margin * 1000) / 10} % from the threshold)`).join('; ')}`);
    lines.push(`  no data: ${c.noData.windows ? `${c.noData.windows} of ${c.judged} judgments, ${c.noData.stretches.length} stretch(es)${c.noData.stretches.length ? `: ${c.noData.stretches.slice(0, 3).map((s) => `${iso(s.from)}–${iso(s.to).slice(11)}`).join(', ')}${c.noData.stretches.length > 3 ? ', …' : ''}` : ''}` : 'never'}`);
    if (c.suggested) {
      const s = c.suggested;
      const parts = [s.max !== undefined ? `max ${s.max}${unit}` : '', s.min !== undefined ? `min ${s.min}${unit}` : '', s.maxIncrease !== undefined ? `maxIncrease ${s.maxIncrease}` : '', s.maxDecrease !== undefined ? `maxDecrease ${s.maxDecrease}` : ''].filter(Boolean);
      if (parts.length) lines.push(`  suggested threshold: ${parts.join(', ')} (${s.basis})`);
    }
  }
  lines.push('');
  const rb = r.decisions.filter((d) => d.kind === 'rollback').length;
  const pa = r.decisions.filter((d) => d.kind === 'pause').length;
  lines.push(`${r.decisions.filter((d) => d.kind === 'breach').length} breach(es); the engine would have rolled back ${rb} time(s) and paused ${pa} time(s)${r.decisions.some((d) => d.cause === 'no-data') ? ' (some for missing data)' : ''} — ${r.queries} range queries`);
  for (const d of r.decisions.filter((x) => x.kind !== 'breach')) lines.push(`  ${iso(d.at)} ${d.kind}${d.check ? ` (${safeText(d.check)}${d.cause === 'no-data' ? ': no data' : ''})` : ''}`);
  return lines.join('\n');
}

export default async function backtestCommand(c: Context, file: string, o: { from?: string; to?: string; report?: string; events?: boolean }): Promise<number> {
  const { loadPlan } = await import('../plan/load.js');
  const { plan } = await loadPlan(file, { env: c.env, cwd: c.cwd });
  if (!o.from) throw new UsageError('backtest needs --from', { hint: 'e.g. `rollout backtest plan.yaml --from 7d` (the last 7 days), with --to to pin the end.' });
  // --to pinned: given, or now rounded down to the check interval (printed, so the same command reproduces it).
  const to = o.to ? parseTime(o.to, '--to', Date.now()) : Math.floor(Date.now() / plan.intervalMs) * plan.intervalMs;
  const from = parseTime(o.from, '--from', to);
  if (!(from < to)) throw new UsageError(`--from (${iso(from)}) is not before --to (${iso(to)})`);
  const checks = planChecks(plan);
  if (!checks.length) throw new UsageError(`plan ${plan.name} has no checks: there is nothing to backtest`);
  const { createProviders } = await import('../runner/services.js');
  const providers = await createProviders(plan, c.cwd, (m) => c.stderr(m), [...new Set(checks.map((x) => x.provider))]);
  const { backtest } = await import('../runner/backtest.js');
  let r: BacktestResult;
  try {
    r = await backtest(plan, providers, { from, to });
  } catch (err) {
    if (err instanceof RangeError) throw new UsageError(err.message.replace(/^backtest: /, ''));
    throw err;
  } finally {
    await Promise.all(Object.values(providers).map((p) => p.close?.()));
  }
  let reportFile: string | undefined;
  if (o.report) {
    const { renderReport } = await import('../report/html.js');
    // The report charts each check from check.changed events: give it the replayed values.
    const points = r.checks.flatMap((ch) => ch.points.map(([at, value, baseline]) => ({ seq: 0, at, type: 'check.changed', msg: '', data: { check: ch.name, value, baseline, backtest: true } })));
    const events = [...r.events, ...points].sort((a, b) => a.at - b.at).map((e, i) => ({ ...e, seq: i + 1 }));
    const html = renderReport({ state: { ...r.state, id: `backtest-${plan.name}`, status: 'completed', reason: `backtest ${iso(r.from)} → ${iso(r.to)}. ${HISTORY_CAVEAT}`, startedAt: r.from, finishedAt: r.to, updatedAt: r.to }, events, plan, now: r.to });
    reportFile = resolve(c.cwd, o.report);
    await writeFile(reportFile, html, { mode: 0o644 });
  }
  if (c.json) {
    const { events: _e, state: _s, ...rest } = r;
    printJson(c, { ...rest, from: iso(r.from), to: iso(r.to), ...(reportFile ? { report: reportFile } : {}) });
  } else {
    if (o.events) for (const e of r.events) if (e.type !== 'run.started') c.stdout(`${iso(e.at)} ${safeText(e.msg)}`);
    c.stdout(renderBacktest(r, Object.fromEntries(checks.map((x) => [x.name, x.unit]))));
    if (reportFile) c.stdout(`report written to ${reportFile}`);
  }
  return 0;
}
