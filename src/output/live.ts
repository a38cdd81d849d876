/**
 * The live view of a run (`rollout start` on a terminal, `rollout status [--watch]`), after
 * `kubectl argo rollouts get rollout --watch`: a header (plan, status with an icon, phase,
 * step n/N, each flag's percentage), the step ladder (done / current / next, with gates and
 * holds, countdowns instead of timestamps), every check's last value against its threshold
 * with a verdict mark, and what the run waits for, in words.
 *
 * Pure: (plan, run, clock, zone, width) → text. Colour comes from style (off without a TTY or
 * with NO_COLOR), so tests compare exact strings.
 */
import { describeThreshold } from '../analysis/judge.js';
import { stepLabel } from '../engine/steps.js';
import type { RunState } from '../engine/types.js';
import type { Phase, Plan } from '../plan/model.js';
import { formatDuration } from '../util/duration.js';
import { redact } from '../util/redact.js';
import { safeText } from '../util/terminal.js';
import { driverText, retryCommand, undriven, UNDRIVEN, type DriverView } from './run.js';
import { statusColor, style } from './style.js';
import { clock, humanizeTimes, relative, when, type TimeOptions } from './time.js';

export interface LiveOptions extends TimeOptions {
  /** Terminal columns; every line is cut to fit. */
  width: number;
  /** Who drives the run (status shows it); null: nothing does. */
  driver?: DriverView | null;
  /** Lines of the step ladder for the current phase at most (the rest summarized). */
  maxSteps?: number;
}

export const STATUS_ICON: Record<string, string> = {
  scheduled: '◷',
  running: '◌',
  paused: '॥',
  'awaiting-approval': '?',
  'rolling-back': '⟲',
  completed: '✔',
  'rolled-back': '✖',
  aborted: '⊘',
  'rollback-incomplete': '⚠',
};

const text = (s: string) => safeText(redact(s));
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const visible = (s: string) => [...s.replace(ANSI, '')].length;

/** Cut a line to `width` visible columns (ANSI colour codes kept intact), "…" at the cut. */
export function fit(line: string, width: number): string {
  if (width <= 0 || visible(line) <= width) return line;
  let out = '';
  let n = 0;
  for (let i = 0; i < line.length; ) {
    ANSI.lastIndex = i;
    const m = ANSI.exec(line);
    if (m && m.index === i) {
      out += m[0];
      i += m[0].length;
      continue;
    }
    const ch = String.fromCodePoint(line.codePointAt(i)!);
    if (n === width - 1) return out + '…' + (out.includes('\x1b[') ? '\x1b[0m' : '');
    out += ch;
    n++;
    i += ch.length;
  }
  return out;
}

/** Break text at spaces into lines of at most `width` columns (a longer word stays whole). */
export function wrap(line: string, width: number): string[] {
  if (width <= 0 || visible(line) <= width) return [line];
  const out: string[] = [];
  let cur = '';
  for (const word of line.split(' ')) {
    const next = cur ? `${cur} ${word}` : word;
    if (cur && visible(next) > width) {
      out.push(cur);
      cur = word;
    } else cur = next;
  }
  out.push(cur);
  return out;
}

const pad = (s: string, n: number) => s + ' '.repeat(Math.max(0, n - visible(s)));

function round(n: number): string {
  return String(Math.round(n * 1000) / 1000);
}

function flagsLine(s: RunState): string {
  const flags = Object.entries(s.flags);
  if (!flags.length) return style.dim('none written yet');
  return flags
    .map(([f, r]) => {
      const rings = r.rings ? ` (${Object.entries(r.rings).map(([k, v]) => `${text(k)} ${v}%`).join(', ')})` : '';
      return `${text(f)}: ${r.enabled ? style.bold(`${r.percentage}%`) : style.dim('off')}${rings}${s.frozen?.includes(f) ? style.yellow(' — frozen') : ''}`;
    })
    .join('  ·  ');
}

const stepCount = (plan: Plan) => plan.phases.reduce((n, p) => n + p.steps.length, 0);
const stepsBefore = (plan: Plan, phase: number) => plan.phases.slice(0, phase).reduce((n, p) => n + p.steps.length, 0);

/** What the run waits for, in words, with the command that moves it on. */
export function waitingWords(plan: Plan | undefined, s: RunState, o: TimeOptions): string {
  const nextLabel = plan ? nextLabelOf(plan, s) : undefined;
  switch (s.status) {
    case 'completed':
      return `nothing: every phase reached its final step${s.finishedAt ? ` (${clock(s.finishedAt, o)})` : ''}`;
    case 'rolled-back':
      return `nothing: rolled back${s.reason ? ` — ${text(s.reason)}` : ''}`;
    case 'aborted':
      return `nothing: aborted${s.reason ? ` — ${text(s.reason)}` : ''}`;
    case 'paused':
      if (s.waiting?.kind === 'cohort' && s.waitingFor) return humanizeTimes(text(s.waitingFor), o);
      return `a person: \`rollout resume ${s.id}\` (or rollback / abort)${s.reason ? ` — paused: ${text(s.reason)}` : ''}`;
    case 'awaiting-approval': {
      const a = s.approval;
      if (a?.checklist) {
        const open = a.checklist.filter((i) => !i.confirmed);
        return `the checklist: ${a.checklist.length - open.length} of ${a.checklist.length} items confirmed; confirm each with \`rollout confirm ${s.id} <item>\` (open: ${open.map((i) => text(i.id)).join(', ')})`;
      }
      // A named quorum (seed 001's four sign-offs): who has signed and who has not.
      const names = (a?.signed ?? []).map((x) => text(x.name));
      const missing = (a?.approvers ?? []).filter((n) => !a?.signed?.some((x) => x.name === n)).map(text);
      const signed = a?.quorum ? ` (${names.length} of ${a.quorum} signed: ${names.join(', ') || 'nobody yet'}; not signed: ${missing.join(', ') || 'nobody'})` : '';
      return `approval${a?.message ? ` "${text(a.message)}"` : ''}${signed}: \`rollout approve ${s.id}\` or \`rollout reject ${s.id} --reason …\`${a?.deadline ? `; decide by ${when(a.deadline, o)}` : ''}`;
    }
    case 'rollback-incomplete':
      return `a retry: rollback incomplete, the run keeps its flags — failed: ${(s.rollback?.failures ?? []).map(text).join('; ')}; retry with: ${retryCommand(s)} (or rollout resume / rollout advance ${s.id})`;
    case 'rolling-back':
      return humanizeTimes(text(s.waitingFor ?? 'the rollback to finish'), o);
    case 'scheduled':
      return `the scheduled start ${s.schedule ? `${relative(s.schedule.at, o.now)} (${clock(s.schedule.at, o)})` : ''}: nothing is written to its flags until then; \`rollout abort ${s.id}\` cancels it${s.approval?.checklist ? `; meanwhile the checklist is open: ${s.approval.checklist.filter((i) => i.confirmed).length} of ${s.approval.checklist.length} confirmed (\`rollout confirm ${s.id} <item>\`)` : ''}`;
    default:
      if (s.holdUntil && s.holdUntil > o.now && s.waitingFor?.startsWith('hold'))
        return `the hold: ${nextLabel ? `next step ${nextLabel}` : 'the end of the phase'} ${relative(s.holdUntil, o.now)} (${clock(s.holdUntil, o)}), if the checks keep passing`;
      return s.waitingFor ? humanizeTimes(text(s.waitingFor), o) : 'the next tick';
  }
}

function nextLabelOf(plan: Plan, s: RunState): string | undefined {
  const p = plan.phases[s.phase];
  if (!p) return undefined;
  if (s.step + 1 < p.steps.length) return stepLabel(plan, s.phase, s.step + 1);
  const np = plan.phases[s.phase + 1];
  return np ? `${text(np.name)} ${stepLabel(plan, s.phase + 1, 0)}` : undefined;
}

function gateOf(phase: Phase, i: number): string {
  const a = i === 0 && phase.approval ? phase.approval : phase.steps[i]?.approval;
  const list = phase.steps[i]?.checklist ?? (i === 0 ? phase.checklist : undefined);
  const parts = [list ? `checklist (${list.length} items)` : '', a ? `gate${a.message ? ` "${text(a.message)}"` : ''}` : ''].filter(Boolean);
  return parts.length ? style.yellow(parts.join(' + ')) : '';
}

/** The checklist the run waits at: each item ticked (who, when, note) or not. */
export function checklistLines(s: RunState, o: TimeOptions): string[] {
  const items = s.approval?.checklist;
  if (!items) return [];
  const w = Math.max(...items.map((i) => visible(text(i.id))));
  return items.map((i) => {
    const c = i.confirmed;
    const who = c ? style.dim(`  ${text(c.name)}${c.by ? ` (typed by ${text(c.by)})` : ''}, ${clock(c.at, o)}${c.note ? ` — ${text(c.note)}` : ''}`) : i.by ? style.dim(`  by ${i.by.map(text).join(' or ')}`) : '';
    return `${c ? style.green('☑') : style.yellow('☐')} ${pad(text(i.id), w)}  ${text(i.text)}${who}`;
  });
}

function ladder(plan: Plan, s: RunState, o: LiveOptions): string[] {
  const lines: string[] = [];
  const final = ['completed', 'rolled-back', 'aborted'].includes(s.status);
  plan.phases.forEach((p, pi) => {
    const range = p.steps.length > 1 ? `${stepLabel(plan, pi, 0)} → ${stepLabel(plan, pi, p.steps.length - 1)}` : stepLabel(plan, pi, 0);
    if (pi < s.phase || (pi === s.phase && s.status === 'completed')) {
      lines.push(`${style.green('✔')} ${text(p.name)} ${style.dim(`${p.steps.length} step${p.steps.length === 1 ? '' : 's'} done (${range})`)}`);
      return;
    }
    if (pi > s.phase) {
      const gate = p.approval || p.checklist || p.steps[0]?.checklist ? `  ${gateOf(p, 0)}` : '';
      const req = p.requires.length ? style.dim(`  after ${p.requires.map(text).join(', ')}`) : '';
      lines.push(`${style.dim('○')} ${text(p.name)} ${style.dim(`${p.steps.length} step${p.steps.length === 1 ? '' : 's'} (${range})`)}${gate}${req}`);
      return;
    }
    lines.push(`${style.cyan('▸')} ${style.bold(text(p.name))} ${style.dim(`phase ${pi + 1} of ${plan.phases.length}`)}`);
    const max = o.maxSteps ?? 12;
    // Keep the current step in view: a window of `max` steps around it.
    const first = Math.max(0, Math.min(s.step - Math.floor(max / 3), p.steps.length - max));
    const last = Math.min(p.steps.length, first + max);
    if (first > 0) lines.push(style.dim(`    ✔ ${first} earlier step${first === 1 ? '' : 's'}`));
    const labelWidth = Math.max(...p.steps.slice(first, last).map((_, i) => visible(stepLabel(plan, pi, first + i))));
    for (let i = first; i < last; i++) {
      const st = p.steps[i]!;
      const label = pad(stepLabel(plan, pi, i), labelWidth);
      const hold = st.holdMs ? `hold ${formatDuration(st.holdMs)}` : 'no hold';
      const gate = gateOf(p, i);
      const note = st.note ? style.dim(`  ${text(st.note)}`) : '';
      if (i < s.step) lines.push(`    ${style.green('✔')} ${label}  ${style.dim(hold)}${note}`);
      else if (i === s.step) {
        let state: string;
        if (final) state = s.status === 'completed' ? style.green('done') : statusColor(s.status)(s.status);
        else if (s.status === 'paused') state = style.yellow('paused here');
        else if (s.holdUntil && s.holdUntil > o.now) state = `holding, ${formatDuration(Math.max(1000, Math.round((s.holdUntil - o.now) / 1000) * 1000))} left`;
        else state = 'held';
        lines.push(`    ${style.cyan('●')} ${style.bold(label)}  ${state}${note}`);
      } else {
        const waiting = i === s.step + 1 && s.status === 'awaiting-approval' ? style.yellow(s.approval?.checklist ? '  ← awaiting the checklist' : '  ← awaiting approval') : '';
        lines.push(`    ${style.dim('○')} ${label}  ${style.dim(hold)}${gate ? `  ${gate}` : ''}${waiting}${note}`);
      }
    }
    if (last < p.steps.length) lines.push(style.dim(`    ○ ${p.steps.length - last} more step${p.steps.length - last === 1 ? '' : 's'} to ${stepLabel(plan, pi, p.steps.length - 1)}`));
  });
  return lines;
}

function checkLines(plan: Plan | undefined, s: RunState, o: LiveOptions): string[] {
  const entries = Object.entries(s.checks);
  if (!entries.length) return [];
  const defs = plan ? plan.phases.flatMap((p) => p.checks) : [];
  const rows = entries.map(([name, r]) => {
    const c = defs.find((d) => d.name === name);
    const unit = c?.unit ?? '';
    const value = r.value === null ? '—' : `${round(r.value)}${unit}`;
    const base = r.baseline !== undefined && r.baseline !== null ? style.dim(` (baseline ${round(r.baseline)}${unit})`) : '';
    let mark: string;
    let verdict: string;
    if (r.breached) {
      mark = style.red('✖');
      verdict = style.red('BREACH');
    } else if (r.verdict === 'pass') {
      mark = style.green('✔');
      verdict = style.green('ok');
    } else if (r.verdict === 'fail') {
      mark = style.yellow('!');
      const since = r.failingSince !== undefined && o.now - r.failingSince >= 1000 ? ` for ${formatDuration(Math.round((o.now - r.failingSince) / 1000) * 1000)}` : '';
      verdict = style.yellow(`failing${since}`);
    } else {
      mark = style.yellow('?');
      verdict = style.yellow(`no data${r.noDataSince !== undefined ? ` since ${clock(r.noDataSince, o)}` : ''}`);
    }
    return { mark, name: text(name), value: value + base, threshold: c ? describeThreshold(c) : '', verdict };
  });
  const nw = Math.max(...rows.map((r) => visible(r.name)));
  const vw = Math.max(...rows.map((r) => visible(r.value)));
  const dw = Math.max(...rows.map((r) => visible(r.verdict)));
  return rows.map((r) => `${r.mark} ${pad(r.name, nw)}  ${pad(r.value, vw)}  ${pad(r.verdict, dw)}  ${style.dim(r.threshold)}`);
}

/**
 * Pages (notify.escalation): each open one — severity, who is paged now, since when, the
 * acknowledgement deadline and who comes next — then the last few answered or closed ones.
 */
function pageLines(plan: Plan | undefined, s: RunState, o: LiveOptions): string[] {
  const all = s.pages ?? [];
  if (!all.length) return [];
  const out: string[] = [];
  for (const p of all.filter((x) => !x.ack && !x.closed)) {
    const esc = plan?.notify.escalation?.[p.severity];
    const now = p.paged.at(-1)!;
    const before = [...new Set(p.paged.slice(0, -1).flatMap((x) => x.targets))].filter((t) => !now.targets.includes(t));
    const nextLevel = esc ? (esc.chain[p.level + 1] ?? (esc.repeat ? now.targets : undefined)) : undefined;
    const due = p.deadline !== undefined ? `ack by ${clock(p.deadline, o)} (${p.deadline > o.now ? `in ${formatDuration(Math.max(1000, Math.round((p.deadline - o.now) / 1000) * 1000))}` : 'due now'})${nextLevel ? `, then ${nextLevel.map(text).join(', ')}` : ''}` : 'nobody else will be paged';
    out.push(`${style.red('📟')} ${style.bold(`#${p.id} ${text(p.severity)}`)} paging ${style.bold(now.targets.map(text).join(', '))} since ${clock(now.at, o)}${before.length ? style.dim(` (no answer from ${before.map(text).join(', ')})`) : ''}; open since ${clock(p.openedAt, o)}; ${due}`);
    out.push(style.dim(`     ${text(p.reason)} — \`rollout ack ${s.id}\``));
  }
  for (const p of all.filter((x) => x.ack || x.closed).slice(-3)) {
    if (p.ack) out.push(`${style.green('✔')} #${p.id} ${text(p.severity)} acknowledged by ${text(p.ack.name)} at ${clock(p.ack.at, o)}${p.ack.via !== 'ack' ? style.dim(` (${p.ack.via})`) : ''}${p.ack.note ? `: ${text(p.ack.note)}` : ''}`);
    else out.push(style.dim(`· #${p.id} ${text(p.severity)} closed unacknowledged at ${clock(p.closed!.at, o)}: ${text(p.closed!.why)}`));
  }
  return out;
}

/** When the announcement went (or goes) out, and to whom. */
export function announceWords(s: RunState, o: TimeOptions): string {
  const sch = s.schedule!;
  if (sch.announcedAt !== undefined) {
    const lead = Math.max(0, sch.at - sch.announcedAt);
    return `sent ${clock(sch.announcedAt, o)} to ${(sch.announcedTo ?? []).map(text).join(', ') || 'nobody'} ${style.dim(`(${formatDuration(lead)} before the start${sch.announcedLate ? ', later than notify.announce.before asks: scheduled closer than that' : ''})`)}`;
  }
  if (s.status === 'aborted') return style.dim('never sent (cancelled before it was due)');
  return `due ${clock(sch.announceAt!, o)} ${style.dim(`(${relative(sch.announceAt!, o.now)})`)}`;
}

/** The whole view, one string, every line within `o.width`. */
export function renderRun(plan: Plan | undefined, s: RunState, o: LiveOptions): string {
  const color = statusColor(s.status);
  const phase = plan?.phases[s.phase];
  const total = plan ? stepCount(plan) : 0;
  const done = plan ? stepsBefore(plan, s.phase) + s.step + 1 : 0;
  const label = (k: string) => style.bold(pad(k, 12));
  const head: string[] = [
    `${label('Plan')} ${text(s.plan.name)} ${style.dim(`(${text(s.plan.file)})`)}`,
    `${label('Run')} ${text(s.id)}`,
    // An active run with no live driver does not move: said on the status line itself.
    `${label('Status')} ${color(`${STATUS_ICON[s.status] ?? '·'} ${s.status}`)}${o.driver === null && undriven(s, undefined) ? style.yellow(' — nothing drives it') : ''}${s.reason && s.status !== 'running' ? ` — ${text(s.reason)}` : ''}`,
  ];
  if (plan && phase) head.push(`${label('Phase')} ${text(phase.name)} ${style.dim(`(${s.phase + 1}/${plan.phases.length})`)}`);
  if (plan) head.push(`${label('Step')} ${Math.max(0, done)}/${total}${s.step >= 0 && phase ? ` ${style.dim(`(${stepLabel(plan, s.phase, s.step)})`)}` : style.dim(' (none applied yet)')}`);
  head.push(`${label('Flags')} ${flagsLine(s)}`);
  const sch = s.schedule;
  const cancelled = sch !== undefined && sch.startedAt === undefined && s.status === 'aborted';
  if (sch && s.status === 'scheduled')
    head.push(`${label('Starts')} ${clock(sch.at, o)} ${style.dim(`(${relative(sch.at, o.now)}, ${sch.source === 'command' ? '--at' : "the plan's startAt"})`)}${s.startedBy ? ` · scheduled by ${text(s.startedBy)}` : ''} ${style.dim(`at ${clock(sch.scheduledAt, o)}`)}`);
  else if (cancelled) head.push(`${label('Cancelled')} ${style.dim(`was to start ${clock(sch.at, o)}; scheduled ${clock(sch.scheduledAt, o)}`)}${s.startedBy ? ` by ${text(s.startedBy)}` : ''}`);
  else head.push(`${label('Started')} ${clock(s.startedAt, o)} ${style.dim(`(${relative(s.startedAt, o.now)}${s.finishedAt ? `, took ${formatDuration(s.finishedAt - s.startedAt)}` : ''})`)}${s.startedBy ? ` by ${text(s.startedBy)}` : ''}`);
  if (sch && !cancelled && s.status !== 'scheduled')
    head.push(`${label('Scheduled')} ${style.dim(`for ${clock(sch.at, o)}${sch.startedAt !== undefined && sch.startedAt - sch.at >= 60_000 ? `, started ${formatDuration(sch.startedAt - sch.at)} late` : ''}`)}`);
  if (sch?.announceAt !== undefined) head.push(`${label('Announce')} ${announceWords(s, o)}`);
  if (o.driver !== undefined && (o.driver || undriven(s, undefined)))
    head.push(`${label('Driven by')} ${o.driver ? text(driverText(o.driver)) : style.yellow(`${UNDRIVEN}: \`rollout resume\`, \`rollout advance\` or a \`rollout worker\` picks it up`)}`);
  head.push(...wrap(waitingWords(plan, s, o), o.width - 13).map((l, i) => `${i ? ' '.repeat(12) : label('Waiting for')} ${l}`));
  if (s.rollback) {
    const rb = s.rollback;
    head.push(`${label('Rollback')} ${rb.mode}, ${rb.trigger}: ${text(rb.reason)}${rb.by ? ` (by ${text(rb.by)})` : ''}${rb.retries ? `, retried ${rb.retries}×` : ''}${rb.failures.length ? style.red(` — failures: ${rb.failures.map(text).join('; ')}`) : ''}`);
    if (s.status === 'rollback-incomplete') head.push(`${label('Retry with')} ${style.red(`rollout rollback ${s.id} --reason "…"`)}`);
  }
  // A partial rollback for some users: who is out, since when, who asked and why.
  for (const [i, x] of (s.excluded ?? []).entries())
    head.push(`${i ? ' '.repeat(12) : label('Rolled back')} ${style.yellow(`${x.kind} ${text(x.name)}`)} ${style.dim(`since ${clock(x.at, o)}${x.check ? `, check ${text(x.check)}` : x.by ? `, by ${text(x.by)}` : ''}`)} — ${text(x.reason)}`);
  const lines = [...head];
  const pages = pageLines(plan, s, o);
  if (pages.length) lines.push('', style.bold('Pages'), ...pages.map((l) => `  ${l}`));
  if (plan) lines.push('', style.bold('Steps'), ...ladder(plan, s, o).map((l) => `  ${l}`));
  const list = checklistLines(s, o);
  if (list.length) lines.push('', style.bold('Checklist'), ...list.map((l) => `  ${l}`));
  const checks = checkLines(plan, s, o);
  if (checks.length) lines.push('', style.bold('Checks'), ...checks.map((l) => `  ${l}`));
  return lines.map((l) => fit(l, o.width)).join('\n');
}
