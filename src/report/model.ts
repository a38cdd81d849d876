/**
 * What a report (and a live run page) shows, computed from a run's state and event log — and
 * the plan, when there is one, for thresholds and step labels. Pure: no I/O. Only the fields
 * a page needs are taken from the plan (never adapter options, which may hold secrets), and
 * the whole model is redacted once more on the way out.
 */
import { describeThreshold } from '../analysis/judge.js';
import { FINAL_STATUSES, type RunEvent, type RunState } from '../engine/types.js';
import { runJson } from '../output/run.js';
import type { Check, Plan } from '../plan/model.js';
import { redactDeep } from '../util/redact.js';

export interface ReportInput {
  state: RunState;
  events: RunEvent[];
  plan?: Plan;
  /** The live driver, if any (serve shows it; a report of a finished run has none). */
  driver?: { pid: number; host: string } | null;
  /** "now" for a live run's open end (default: Date.now()). */
  now?: number;
  /** Check name → its values over the run from the provider (report --history). */
  history?: Record<string, Array<[number, number | null, number | null]>>;
}

export interface Marker {
  at: number;
  kind: 'step' | 'pause' | 'resume' | 'gate' | 'approved' | 'promote' | 'breach' | 'rollback' | 'end' | 'window';
  label: string;
}

export interface CheckSeries {
  name: string;
  unit: string;
  tier: string | null;
  threshold: string | null;
  max: number | null;
  min: number | null;
  /** Relative checks: the allowed band as a share of the baseline. */
  maxIncrease: number | null;
  maxDecrease: number | null;
  /** [time ms, value or null (no data), baseline or null]. */
  points: Array<[number, number | null, number | null]>;
  noData: Array<[number, number]>;
  breaches: number[];
  verdict: string | null;
  /** Where the points come from: the run's record (verdict changes) or the provider's history. */
  source: 'recorded' | 'history';
}

export interface ReportModel {
  generatedAt: string;
  /** The same shape as `rollout status --json`. */
  run: ReturnType<typeof runJson>;
  description: string | null;
  from: number;
  to: number;
  live: boolean;
  /** Holds after each step: [from, until] (cut short by whatever came next). */
  holds: Array<[number, number]>;
  /** [time ms, percentage] per flag (0 when off), as a step line. */
  flags: Array<{ flag: string; points: Array<[number, number]> }>;
  checks: CheckSeries[];
  markers: Marker[];
  approvals: Array<{ at: number; key: string | null; kind: 'requested' | 'signed' | 'granted' | 'timeout' | 'checklist'; by: string | null; approvers: string[] | null; msg: string }>;
  /** Every checklist gate the run reached: each item, who confirmed it and when (null: open). */
  checklists: ChecklistView[];
  incidents: unknown[];
  /** Partial rollbacks for some users: each cohort rolled back (who/which check, when, why) and when it came back (null: still out). */
  cohorts: Array<{ kind: string; name: string; at: number; by: string | null; check: string | null; reason: string; restoredAt: number | null; restoredBy: string | null }>;
  log: Array<{ seq: number; at: number; type: string; msg: string; data?: Record<string, unknown> }>;
}

export interface ChecklistView {
  key: string;
  requestedAt: number;
  completedAt: number | null;
  items: Array<{ id: string; text: string; name: string | null; by: string | null; at: number | null; note: string | null }>;
}

type Change = { flag: string; enabled: boolean; percentage?: number };
const pctOf = (c: Change) => (c.enabled ? (c.percentage ?? 100) : 0);

const MARKERS: Record<string, Marker['kind']> = {
  'run.paused': 'pause',
  'run.resumed': 'resume',
  'approval.requested': 'gate',
  'approval.granted': 'approved',
  'approval.signed': 'approved',
  'approval.timeout': 'gate',
  'checklist.requested': 'gate',
  'checklist.completed': 'approved',
  'run.promoted': 'promote',
  'breach.detected': 'breach',
  'rollback.started': 'rollback',
  'rollback.cohort': 'rollback',
  'rollback.cohort-restored': 'resume',
  'run.completed': 'end',
  'run.rolled-back': 'end',
  'run.aborted': 'end',
  'window.closed': 'window',
};

function planCheck(plan: Plan | undefined, name: string): Check | undefined {
  return plan?.phases.flatMap((p) => p.checks).find((c) => c.name === name);
}

export function reportModel(input: ReportInput): ReportModel {
  const { state: s, events, plan } = input;
  const now = input.now ?? Date.now();
  const live = !FINAL_STATUSES.includes(s.status);
  const to = Math.max(s.finishedAt ?? (live ? now : s.updatedAt), s.startedAt + 1000);

  // ——— flags: a step line from every confirmed change ———
  const flagPts = new Map<string, Array<[number, number]>>();
  const put = (flag: string, at: number, pct: number) => {
    let pts = flagPts.get(flag);
    if (!pts) flagPts.set(flag, (pts = [[s.startedAt, 0]]));
    const last = pts[pts.length - 1]!;
    if (last[0] === at) last[1] = pct;
    else pts.push([at, pct]);
  };
  let intent: Change[] = [];
  let rollbackFlags: string[] = [];
  // ——— checks ———
  const checkPts = new Map<string, CheckSeries>();
  const series = (name: string): CheckSeries => {
    let c = checkPts.get(name);
    if (!c) {
      const pc = planCheck(plan, name);
      c = {
        name,
        unit: pc?.unit ?? '',
        tier: pc?.tier ?? null,
        threshold: pc ? describeThreshold(pc) : null,
        max: pc?.max ?? null,
        min: pc?.min ?? null,
        maxIncrease: pc?.relative?.maxIncrease ?? null,
        maxDecrease: pc?.relative?.maxDecrease ?? null,
        points: [],
        noData: [],
        breaches: [],
        verdict: null,
        source: 'recorded',
      };
      checkPts.set(name, c);
    }
    return c;
  };
  const noDataOpen = new Map<string, number>();
  const markers: Marker[] = [];
  const approvals: ReportModel['approvals'] = [];
  const checklists: ChecklistView[] = [];
  const listOf = (key: unknown): ChecklistView | undefined => [...checklists].reverse().find((c) => c.key === key);
  const incidents: unknown[] = [];
  const cohorts: ReportModel['cohorts'] = [];
  const holds: Array<[number, number]> = [];
  const endHold = (at: number) => {
    const h = holds.at(-1);
    if (h && h[1] > at) h[1] = at;
  };

  for (const e of events) {
    const d = (e.data ?? {}) as Record<string, unknown>;
    if (Array.isArray(d.changes)) intent = d.changes as Change[];
    switch (e.type) {
      case 'step.applied':
        endHold(e.at);
        for (const c of (d.changes as Change[] | undefined) ?? intent) put(c.flag, e.at, pctOf(c));
        if (typeof d.holdUntil === 'number' && d.holdUntil > e.at) holds.push([e.at, d.holdUntil]);
        markers.push({ at: e.at, kind: 'step', label: e.msg.split(';')[0]! });
        break;
      case 'rollback.started':
        endHold(e.at);
        rollbackFlags = Array.isArray(d.flags) ? (d.flags as string[]) : plan?.rollback.flags ?? [];
        break;
      case 'rollback.step':
        if (!d.skipped) for (const c of intent) put(c.flag, e.at, pctOf(c));
        break;
      case 'rollback.partial-done':
        for (const c of intent) put(c.flag, e.at, typeof d.to === 'number' ? d.to : pctOf(c));
        break;
      case 'rollback.flags-off': {
        const back = d.readBack as Array<{ flag: string; enabled: boolean; percentage: number }> | undefined;
        if (Array.isArray(back) && back.length) for (const f of back) put(f.flag, e.at, f.enabled ? f.percentage : 0);
        else for (const f of intent.length ? intent.map((c) => c.flag) : rollbackFlags) put(f, e.at, 0);
        break;
      }
      case 'check.changed': {
        const name = String(d.check ?? '');
        if (!name) break;
        const c = series(name);
        const v = typeof d.value === 'number' ? d.value : null;
        const b = typeof d.baseline === 'number' ? d.baseline : null;
        c.points.push([e.at, v, b]);
        if (d.verdict === 'no-data') {
          if (!noDataOpen.has(name)) noDataOpen.set(name, e.at);
        } else if (noDataOpen.has(name)) {
          c.noData.push([noDataOpen.get(name)!, e.at]);
          noDataOpen.delete(name);
        }
        if (d.breached === true) c.breaches.push(e.at);
        break;
      }
      case 'approval.requested':
      case 'approval.signed':
      case 'approval.granted':
      case 'approval.timeout':
        approvals.push({
          at: e.at,
          key: typeof d.key === 'string' ? d.key : null,
          kind: e.type === 'approval.requested' ? 'requested' : e.type === 'approval.signed' ? 'signed' : e.type === 'approval.granted' ? 'granted' : 'timeout',
          by: typeof d.name === 'string' ? `${d.name}${typeof d.by === 'string' && d.by !== d.name ? ` (by ${d.by})` : ''}` : typeof d.by === 'string' ? d.by : null,
          approvers: Array.isArray(d.approvers) ? (d.approvers as string[]) : null,
          msg: e.msg,
        });
        break;
      case 'checklist.requested':
        if (typeof d.key === 'string' && Array.isArray(d.items))
          checklists.push({ key: d.key, requestedAt: e.at, completedAt: null, items: (d.items as Array<{ id: string; text: string }>).map((i) => ({ id: i.id, text: i.text, name: null, by: null, at: null, note: null })) });
        approvals.push({ at: e.at, key: typeof d.key === 'string' ? d.key : null, kind: 'checklist', by: null, approvers: null, msg: e.msg });
        break;
      case 'checklist.confirmed':
      case 'checklist.unconfirmed': {
        const item = listOf(d.key)?.items.find((i) => i.id === d.item);
        if (item && !d.duplicate && !d.noop) {
          const on = e.type === 'checklist.confirmed';
          item.name = on && typeof d.name === 'string' ? d.name : null;
          item.by = on && typeof d.by === 'string' && d.by !== d.name ? d.by : null;
          item.at = on ? e.at : null;
          item.note = on && typeof d.note === 'string' ? d.note : null;
        }
        approvals.push({ at: e.at, key: typeof d.key === 'string' ? d.key : null, kind: 'checklist', by: typeof d.name === 'string' ? `${d.name}${typeof d.by === 'string' && d.by !== d.name ? ` (by ${d.by})` : ''}` : typeof d.by === 'string' ? d.by : null, approvers: null, msg: e.msg });
        break;
      }
      case 'checklist.completed': {
        const l = listOf(d.key);
        if (l) l.completedAt = e.at;
        approvals.push({ at: e.at, key: typeof d.key === 'string' ? d.key : null, kind: 'checklist', by: null, approvers: null, msg: e.msg });
        break;
      }
      case 'incident.recorded':
        if (d.incident) incidents.push(d.incident);
        break;
      case 'rollback.cohort':
        for (const c of (Array.isArray(d.cohorts) ? d.cohorts : []) as Array<Record<string, unknown>>)
          cohorts.push({ kind: String(c.kind), name: String(c.name), at: e.at, by: typeof c.by === 'string' ? c.by : null, check: typeof c.check === 'string' ? c.check : null, reason: String(c.reason ?? ''), restoredAt: null, restoredBy: null });
        break;
      case 'rollback.cohort-restored':
        for (const c of (Array.isArray(d.cohorts) ? d.cohorts : []) as Array<Record<string, unknown>>) {
          const open = [...cohorts].reverse().find((x) => x.kind === c.kind && x.name === c.name && x.restoredAt === null);
          if (open) {
            open.restoredAt = e.at;
            open.restoredBy = typeof d.by === 'string' ? d.by : null;
          }
        }
        break;
    }
    const kind = MARKERS[e.type];
    if (kind) markers.push({ at: e.at, kind, label: e.msg.length > 80 ? e.msg.slice(0, 77) + '…' : e.msg });
  }

  // The open end: every flag and check as the state has it now.
  for (const [flag, r] of Object.entries(s.flags)) put(flag, Math.max(to, flagPts.get(flag)?.at(-1)?.[0] ?? 0), r.enabled ? r.percentage : 0);
  for (const [name, r] of Object.entries(s.checks)) {
    const c = series(name);
    c.verdict = r.breached ? 'breach' : r.verdict;
    const last = c.points.at(-1);
    if (!last || last[0] < r.at) c.points.push([r.at, r.value, r.baseline ?? null]);
  }
  for (const [name, from] of noDataOpen) series(name).noData.push([from, to]);
  if (!live) endHold(to);
  for (const [name, pts] of Object.entries(input.history ?? {})) {
    if (!pts.length) continue;
    const c = series(name);
    c.points = [...pts].sort((a, b) => a[0] - b[0]);
    c.source = 'history';
  }
  // Checks of the plan that were never judged still get an (empty) chart with their threshold.
  for (const p of plan?.phases ?? []) for (const c of p.checks) series(c.name);

  return redactDeep({
    generatedAt: new Date(now).toISOString(),
    run: runJson(plan, s, input.driver !== undefined ? { driver: input.driver } : {}),
    description: plan?.description ?? null,
    from: s.startedAt,
    to,
    live,
    flags: [...flagPts].map(([flag, points]) => ({ flag, points })),
    checks: [...checkPts.values()],
    markers,
    holds,
    approvals,
    checklists,
    incidents,
    cohorts,
    log: events.map((e) => ({ seq: e.seq, at: e.at, type: e.type, msg: e.msg, ...(e.data ? { data: e.data } : {}) })),
  });
}
