import { resolve } from 'node:path';
import { readRegularFile } from '../util/read-file.js';

const MAX_SCENARIO_BYTES = 1024 * 1024;
import type { RunEvent } from '../engine/types.js';
import { PlanError, UsageError } from '../errors.js';
import { statusColor, style } from '../output/style.js';
import { scenarioSchema, simulatePlan, type Scenario } from '../runner/simulate.js';
import { formatDuration } from '../util/duration.js';
import { safeText } from '../util/terminal.js';
import { parseStart, printJson, type Context } from './context.js';
import { chooseStart } from '../runner/start-time.js';

const SHOWN = new Set(['run.scheduled', 'run.announced', 'run.started', 'phase.started', 'step.applied', 'approval.requested', 'approval.granted', 'approval.timeout', 'breach.detected', 'run.paused', 'flags.frozen', 'freeze.failed', 'run.resumed', 'flags.unfrozen', 'rollback.started', 'rollback.step', 'rollback.flags-off', 'command.finished', 'command.failed', 'health.ok', 'health.failed', 'rollback.escalated', 'run.completed', 'run.rolled-back', 'run.aborted', 'window.closed', 'check.changed', 'incident.recorded', 'step.scheduled', 'approval.signed', 'rollback.stable', 'rollback.unstable', 'page.opened', 'page.escalated', 'page.acknowledged', 'page.closed', 'page.unanswered']);

export async function loadScenario(file: string, cwd = '.'): Promise<Scenario> {
  let text: string;
  try {
    text = await readRegularFile(resolve(cwd, file), MAX_SCENARIO_BYTES);
  } catch (err) {
    throw new UsageError(`cannot read scenario ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const { parseDocument, LineCounter } = await import('yaml');
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new PlanError(file, [{ path: '', message: e.message.split('\n')[0]!, line: e.linePos?.[0].line, col: e.linePos?.[0].col, severity: 'error' }]);
  }
  const r = scenarioSchema.safeParse(doc.toJS() ?? {});
  if (!r.success)
    throw new PlanError(
      file,
      r.error.issues.map((i) => {
        const path = i.path.filter((p): p is string | number => typeof p !== 'symbol');
        const node = doc.getIn(path, true) as { range?: [number] } | undefined;
        const pos = node?.range ? lc.linePos(node.range[0]) : undefined;
        return { path: path.join('.'), message: i.message, line: pos?.line, col: pos?.col, severity: 'error' as const };
      }),
    );
  return r.data;
}

/** A check.changed event worth a line without --events: anything but a plain pass. */
export function checkWorthShowing(e: RunEvent): boolean {
  const d = (e.data ?? {}) as { verdict?: string; breached?: boolean };
  return Boolean(d.breached) || (d.verdict !== undefined && d.verdict !== 'pass');
}

/** "T+2h" after the run's start, "T-7d" before it (a scheduled start's announcement). */
export const offset = (at: number, origin: number): string => (at >= origin ? `T+${at > origin ? formatDuration(at - origin) : '0'}` : `T-${formatDuration(origin - at)}`);

export default async function simulate(c: Context, file: string, o: { scenario?: string; start?: string; at?: string; events?: boolean }): Promise<number> {
  const { loadPlan } = await import('../plan/load.js');
  const { plan } = await loadPlan(file, { adapters: false, env: c.env, cwd: c.cwd });
  const scenario = o.scenario ? await loadScenario(o.scenario, c.cwd) : undefined;
  const start = parseStart(c, o.start);
  // A scheduled start (startAt: / --at) counts from `start`, the moment `rollout start` would run.
  const when = chooseStart(plan, o.at, start, file);
  for (const n of when.notes) c.stderr(`note: ${n}`);
  const origin = when.startAt ?? start;
  const t0 = performance.now();
  const lines: string[] = [];
  const show = (e: RunEvent) => {
    if (!o.events && !SHOWN.has(e.type)) return;
    // Decide on the verdict the event carries, never on its text: a check named
    // "recovery-failures" passing must not print as if it failed (nor hide a real failure).
    if (!o.events && e.type === 'check.changed' && !checkWorthShowing(e)) return;
    lines.push(`${style.dim(offset(e.at, origin).padEnd(9))} ${safeText(e.msg)}`);
  };
  const r = await simulatePlan(plan, { start, startAt: when.startAt, startSource: when.source, scenario, onEvent: c.json ? undefined : show });
  const ms = performance.now() - t0;
  const s = r.state;
  const steps = r.events.filter((e) => e.type === 'step.applied').length;
  const breaches = r.events.filter((e) => e.type === 'breach.detected').map((e) => e.msg);
  if (c.json) {
    printJson(c, {
      plan: plan.name,
      status: s.status,
      reason: s.reason ?? null,
      virtualDurationMs: r.endedAt - r.startedAt,
      startsAt: new Date(r.startedAt).toISOString(),
      ...(r.createdAt !== r.startedAt ? { scheduledAt: new Date(r.createdAt).toISOString() } : {}),
      steps,
      flagWrites: r.writes,
      breaches,
      flags: s.flags,
      assumedOn: r.assumed,
      assumedValues: r.assumedValues,
      stoppedAtLimit: r.stoppedAtLimit,
      wallMs: Math.round(ms * 10) / 10,
      events: r.events.map((e) => ({ ...e, offsetMs: e.at - origin })),
    });
  } else {
    for (const l of lines) c.stdout(l);
    c.stdout('');
    c.stdout(`${style.bold('simulated')} ${safeText(plan.name)}${scenario?.description ? ` (${safeText(scenario.description)})` : o.scenario ? ` (scenario ${safeText(o.scenario)})` : Object.values(plan.metrics).some((m) => m.type === 'simulated') ? " (the plan's scripted metrics; healthy elsewhere)" : ' (healthy metrics)'}: ${statusColor(s.status)(s.status)}${s.reason ? ` — ${safeText(s.reason)}` : ''}`);
    c.stdout(`${steps} step(s) applied over ${formatDuration(r.endedAt - r.startedAt)} of virtual time (${Math.round(ms)} ms real), ${r.writes} flag write(s), ${breaches.length} breach(es)`);
    const assumedChecks = Object.entries(r.assumedValues);
    if (assumedChecks.length) {
      const unit = (n: string) => plan.phases.flatMap((p) => p.checks).find((x) => x.name === n)?.unit ?? '';
      c.stdout(style.dim(`assumed healthy (no scenario for these checks; script them with scenario checks:): ${assumedChecks.map(([n, a]) => `${safeText(n)} = ${Number(a.value.toPrecision(6))}${unit(n)}${a.baseline !== undefined ? ` (baseline ${Number(a.baseline.toPrecision(6))})` : ''}`).join(', ')}`));
    }
    if (r.assumed.length) c.stdout(style.dim(`assumed fully on (outside the plan; set them with scenario flags:): ${r.assumed.join(', ')}`));
    if (r.stoppedAtLimit) c.stdout(style.yellow('stopped at the simulation time limit'));
  }
  // Same codes as a real run: 0 completed, 3 rolled back, 4 paused …
  const { exitCodeFor } = await import('../runner/session.js');
  return exitCodeFor(s);
}
