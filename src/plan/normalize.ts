import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { parseDuration } from '../util/duration.js';
import type { ApprovalDoc, CheckDoc, ChecklistDoc, CommandDoc, PlanDoc } from './schema.js';
import type { AdapterSpec, Approval, Check, ChecklistItem, Command, Plan, Step } from './model.js';
import { parseStartAt } from './start-at.js';

const ms = (d: string | undefined, fallback: number): number => (d === undefined ? fallback : (parseDuration(d) ?? fallback));

function adapterSpec(a: { type: string } & Record<string, unknown>): AdapterSpec {
  const { type, ...options } = a;
  return { type, options };
}

/** `dir`: the plan's directory; a command's own `cwd` is relative to it, as the docs say. */
export function normalizeCommand(c: CommandDoc, i: number, what: string, dir?: string): Command {
  if (Array.isArray(c)) return { name: `${what} ${i + 1}`, argv: c, timeoutMs: 300_000, shell: false };
  return {
    name: c.name ?? `${what} ${i + 1}`,
    argv: c.run,
    timeoutMs: ms(c.timeout, 300_000),
    cwd: c.cwd && dir ? resolve(dir, c.cwd) : c.cwd,
    env: c.env,
    shell: c.shell ?? false,
  };
}

function normalizeApproval(a: ApprovalDoc | undefined): Approval | undefined {
  if (a === undefined || a === false) return undefined;
  if (a === true) return { onTimeout: 'pause' };
  if (!a.required) return undefined;
  const approvers = a.approvers?.length ? [...new Set(a.approvers)] : undefined;
  return { message: a.message, approvers, ...(approvers ? { quorum: a.quorum ?? approvers.length } : {}), timeoutMs: a.timeout ? ms(a.timeout, 0) : undefined, onTimeout: a.onTimeout };
}

/** "All tests passing in staging" → "all-tests-passing-in-staging". */
export const checklistId = (text: string): string =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80) || 'item';

function normalizeChecklist(c: ChecklistDoc | undefined): ChecklistItem[] | undefined {
  if (!c?.length) return undefined;
  return c.map((i) => (typeof i === 'string' ? { id: checklistId(i), text: i } : { id: i.id, text: i.text, ...(i.by ? { by: typeof i.by === 'string' ? [i.by] : [...new Set(i.by)] } : {}) }));
}

function normalizeCheck(c: CheckDoc): Check {
  return {
    name: c.name,
    provider: c.provider,
    query: c.query,
    max: c.max,
    min: c.min,
    relative: c.relative,
    forMs: ms(c.for, 0),
    noData: c.noData,
    noDataTimeoutMs: ms(c.noDataTimeout, 15 * 60_000),
    tier: c.tier,
    action: c.action ?? (c.tier === 'critical' ? 'rollback' : 'pause'),
    freeze: c.freeze ?? false,
    ...(c.rollbackFlags ? { rollbackFlags: c.rollbackFlags } : {}),
    ...(c.afterRollback === 'continue' ? { afterRollback: 'continue' as const } : {}),
    ...(c.rollbackSegments ? { rollbackSegments: c.rollbackSegments } : {}),
    ...(c.rollbackRings ? { rollbackRings: c.rollbackRings } : {}),
    unit: c.unit ?? '',
    ...(c.severity ? { severity: c.severity } : {}),
    ...(c.compare
      ? {
          compare: {
            ...(c.compare.control !== undefined ? { control: c.compare.control } : {}),
            ...(c.compare.splitBy !== undefined ? { splitBy: c.compare.splitBy } : {}),
            controlValue: c.compare.controlValue,
            test: c.compare.test,
            confidence: c.compare.confidence,
            tolerance: c.compare.tolerance,
            direction: c.compare.direction,
            minSamples: c.compare.minSamples,
            windowMs: ms(c.compare.window, 30 * 60_000),
            stepMs: ms(c.compare.step, 60_000),
            ...(c.compare.requests ? { requests: c.compare.requests } : {}),
          },
        }
      : {}),
  };
}

export function normalizePlan(doc: PlanDoc, file: string): Plan {
  const holdMs = ms(doc.defaults?.hold, 3_600_000);
  const intervalMs = ms(doc.defaults?.interval, 60_000);
  const planChecks = doc.checks ?? [];
  const flags: string[] = [];
  const touch = (f: string) => {
    if (!flags.includes(f)) flags.push(f);
  };
  const phases = doc.phases.map((p) => {
    const phaseHold = ms(p.hold, holdMs);
    const steps: Step[] = (p.steps ?? [100]).map((s) =>
      typeof s === 'number'
        ? { percent: s, set: {}, holdMs: phaseHold }
        : {
            percent: s.percent,
            rings: s.rings,
            set: s.set ?? {},
            holdMs: ms(s.hold, phaseHold),
            approval: normalizeApproval(s.approval),
            ...(s.checklist ? { checklist: normalizeChecklist(s.checklist) } : {}),
            ...(s.day !== undefined ? { days: typeof s.day === 'string' ? [s.day] : s.day } : {}),
            ...(s.at !== undefined ? { at: s.at } : {}),
            note: s.note,
          },
    );
    p.flags.forEach(touch);
    for (const s of steps) Object.keys(s.set).forEach(touch);
    const checks = [
      ...planChecks.filter((c) => !c.phases || c.phases.includes(p.name)),
      ...(p.checks ?? []),
    ].map(normalizeCheck);
    return {
      name: p.name,
      description: p.description,
      flags: p.flags,
      steps,
      requires: (p.requires ?? []).map((r) => (typeof r === 'string' ? r : r.flag)),
      ...((p.requires ?? []).some((r) => typeof r !== 'string')
        ? { requiresAtLeast: Object.fromEntries((p.requires ?? []).flatMap((r) => (typeof r === 'string' ? [] : [[r.flag, r.atLeast]]))) }
        : {}),
      approval: normalizeApproval(p.approval),
      ...(p.checklist ? { checklist: normalizeChecklist(p.checklist) } : {}),
      checks,
      users: p.users,
      segments: p.segments,
      stickiness: p.stickiness ?? doc.defaults?.stickiness,
      ...(p.variants ? { variants: Object.entries(p.variants).map(([name, percent]) => ({ name, percent })) } : {}),
    };
  });
  const rb = doc.rollback;
  const start = doc.startAt === undefined ? undefined : parseStartAt(doc.startAt, doc.windows?.timezone);
  const plan: Omit<Plan, 'hash'> = {
    name: doc.name,
    description: doc.description,
    // An unparseable startAt is reported by lint (with the plan's zone in the hint).
    ...(start && 'spec' in start ? { startAt: start.spec } : {}),
    file,
    dir: dirname(file),
    backend: adapterSpec(doc.backend),
    metrics: Object.fromEntries(Object.entries(doc.metrics ?? {}).map(([k, v]) => [k, adapterSpec(v)])),
    holdMs,
    intervalMs,
    maxJump: doc.defaults?.maxJump ?? 25,
    rings: doc.rings ?? {},
    phases,
    rollback: {
      mode: rb?.mode ?? 'immediate',
      flags: rb?.flags ?? flags,
      steps: (rb?.steps ?? []).map((s) => ({
        percent: s.percent,
        waitMs: ms(s.wait, 0),
        ...(s.stableFor !== undefined ? { stableForMs: ms(s.stableFor, 0), maxWaitMs: ms(s.maxWait, 24 * 3_600_000) } : {}),
      })),
      commands: (rb?.commands ?? []).map((c, i) => normalizeCommand(c, i, 'rollback command', dirname(file))),
      healthCheck: rb?.healthCheck && {
        command: rb.healthCheck.command ? normalizeCommand(rb.healthCheck.command, 0, 'health check', dirname(file)) : undefined,
        http: rb.healthCheck.http,
        retries: rb.healthCheck.retries,
        intervalMs: ms(rb.healthCheck.interval, 10_000),
        timeoutMs: ms(rb.healthCheck.timeout, 30_000),
      },
      escalate: {
        commands: (rb?.escalate?.commands ?? []).map((c, i) => normalizeCommand(c, i, 'escalation command', dirname(file))),
        notify: rb?.escalate?.notify ?? [],
        ...(rb?.escalate?.severity ? { severity: rb.escalate.severity } : {}),
      },
    },
    windows: doc.windows && {
      timezone: doc.windows.timezone,
      allow: doc.windows.allow ?? [],
      blackout: doc.windows.blackout ?? [],
    },
    notify: {
      targets: Object.fromEntries(Object.entries(doc.notify?.targets ?? {}).map(([k, v]) => [k, adapterSpec(v)])),
      events: doc.notify?.events,
      templates: doc.notify?.templates ?? {},
      ...(doc.notify?.reports
        ? { reports: doc.notify.reports.map((r) => ({ ...(r.name ? { name: r.name } : {}), everyMs: ms(r.every, 0), ...(r.phases ? { phases: r.phases } : {}), ...(r.targets ? { targets: r.targets } : {}), ...(r.blocking ? { blocking: true } : {}) })) }
        : {}),
      ...(doc.notify?.escalation
        ? {
            escalation: Object.fromEntries(
              Object.entries(doc.notify.escalation).map(([k, e]) => [
                k,
                { ...(e.description ? { description: e.description } : {}), ackWithinMs: ms(e.ackWithin, 0), chain: e.chain.map((l) => (Array.isArray(l) ? [...l] : [l])), repeat: e.repeat, notice: e.notice },
              ]),
            ),
          }
        : {}),
      ...(doc.notify?.announce ? { announce: { beforeMs: ms(doc.notify.announce.before, 0), ...(doc.notify.announce.targets ? { targets: doc.notify.announce.targets } : {}) } } : {}),
    },
    flags,
  };
  const hash = createHash('sha256').update(JSON.stringify(plan)).digest('hex').slice(0, 16);
  return { ...plan, hash };
}
