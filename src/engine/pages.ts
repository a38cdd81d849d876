/**
 * Pages (notify.escalation, seed 003's "Severity Levels"): a breach of a check with a
 * `severity:` — or a failed rollback, with `rollback.escalate.severity` — pages the first level
 * of that severity's chain and gives it `ackWithin` to acknowledge. Nobody acknowledging in time
 * pages the next level (the notice says it is an escalation, whom it skipped past and since when
 * the page waits), until the chain ends; then the last level is paged again every `ackWithin`
 * (`repeat: true`, the default) or nothing more is sent (`repeat: false`; the page stays open).
 * `rollout ack` — or a human resuming, rolling back or aborting the run — acknowledges; a run
 * that ends closes its open pages. Pure: deadlines are compared with the decision's `now`.
 */
import { formatDuration } from '../util/duration.js';
import { iso, type Draft } from './draft.js';
import { notify } from './notice.js';
import type { Page, RunState } from './types.js';

export const openPages = (s: RunState): Page[] => (s.pages ?? []).filter((p) => !p.ack && !p.closed);

/** Why `rollout ack` has nothing to do on this run (page `only`, or any), or undefined when it has. */
export function noOpenPage(s: RunState, only?: number): { error: string; hint: string } | undefined {
  const open = openPages(s);
  if (!open.length) {
    const last = (s.pages ?? []).at(-1);
    const was = last?.ack ? `; page #${last.id} (${last.severity}) was acknowledged by ${last.ack.name} at ${new Date(last.ack.at).toISOString()}` : last?.closed ? `; page #${last.id} (${last.severity}) closed: ${last.closed.why}` : '';
    return { error: `run ${s.id} has no open page: nobody is being paged${was}`, hint: `\`rollout status ${s.id}\` shows the run's pages; a page opens when a check with a \`severity:\` breaches (or a rollback with \`escalate.severity\` fails).` };
  }
  if (only !== undefined && !open.some((p) => p.id === only))
    return { error: `run ${s.id} has no open page #${only} (open: ${open.map((p) => `#${p.id} ${p.severity}`).join(', ')})`, hint: `Acknowledge one of them (\`--page ${open[0]!.id}\`), or all of them without --page.` };
  return undefined;
}

/** When the next open page moves on (its deadline), if any. */
export function nextPageAt(s: RunState): number | undefined {
  const at = openPages(s)
    .map((p) => p.deadline)
    .filter((t): t is number => t !== undefined);
  return at.length ? Math.min(...at) : undefined;
}

const replace = (d: Draft, page: Page) => {
  d.s.pages = (d.s.pages ?? []).map((p) => (p.id === page.id ? page : p));
};

/** Who has been paged and not answered, as one list (each target once, in order). */
const pagedSoFar = (p: Page) => [...new Set(p.paged.flatMap((x) => x.targets))];

/**
 * Open a page at `severity` about `reason`. `key` (the check, or "rollback") keeps one open
 * page per cause: a cause that is already paged and unanswered is not paged twice.
 */
export function openPage(d: Draft, severity: string, reason: string, key: string): void {
  const esc = d.plan.notify.escalation?.[severity];
  if (!esc) return;
  const s = d.s;
  const source = key === 'rollback' ? {} : { check: key };
  if (openPages(s).some((p) => p.severity === severity && (p.check ?? 'rollback') === key)) {
    d.emit('page.still-open', `${severity}: ${reason} — already paged and not yet acknowledged; not paged again`, { severity, ...source });
    return;
  }
  const id = (s.pages?.length ?? 0) + 1;
  const targets = esc.chain[0]!;
  const page: Page = { id, severity, reason, ...source, openedAt: d.now, level: 0, paged: [{ level: 0, targets, at: d.now }], deadline: d.now + esc.ackWithinMs };
  s.pages = [...(s.pages ?? []), page];
  const next = esc.chain[1] ?? (esc.repeat ? targets : undefined);
  d.emit('page.opened', `${severity} page #${id}: paging ${targets.join(', ')} — ${reason}; acknowledge within ${formatDuration(esc.ackWithinMs)} (by ${iso(page.deadline!)}: \`rollout ack ${s.id}\`)${next ? `, or it goes to ${next.join(', ')}${esc.chain[1] ? '' : ' again'}` : ''}`, {
    page: id,
    severity,
    targets,
    deadline: page.deadline,
    ...source,
  });
  notify(d, 'page.opened', esc.notice, vars(d, page, { paged: targets.join(', '), next: next?.join(', ') ?? null }), targets);
}

/** Move every open page whose deadline has passed: the next level, a repeat of the last, or the end of the chain. */
export function movePages(d: Draft): void {
  for (const page of openPages(d.s)) {
    if (page.deadline === undefined || d.now < page.deadline) continue;
    const esc = d.plan.notify.escalation?.[page.severity];
    if (!esc) {
      // The plan no longer has this severity: nothing to page; the page stays open for `ack`.
      replace(d, { ...page, deadline: undefined });
      d.emit('page.unanswered', `${page.severity} page #${page.id}: the plan has no severity ${page.severity} any more; nobody else is paged`, { page: page.id, severity: page.severity });
      continue;
    }
    const waited = formatDuration(d.now - page.openedAt);
    const last = page.level + 1 >= esc.chain.length;
    if (last && !esc.repeat) {
      replace(d, { ...page, deadline: undefined });
      d.emit('page.unanswered', `${page.severity} page #${page.id} not acknowledged after ${waited} (since ${iso(page.openedAt)}); the chain has ended (${pagedSoFar(page).join(', ')} paged) and repeat is off: nobody else is paged`, { page: page.id, severity: page.severity, paged: pagedSoFar(page) });
      continue;
    }
    const level = last ? page.level : page.level + 1;
    const targets = esc.chain[level]!;
    const skipped = pagedSoFar(page).filter((t) => !targets.includes(t));
    const moved: Page = { ...page, level, paged: [...page.paged, { level, targets, at: d.now, ...(last ? { repeat: true } : {}) }], deadline: d.now + esc.ackWithinMs };
    replace(d, moved);
    const what = last ? `paging ${targets.join(', ')} again (the chain has no one after ${targets.length > 1 ? 'them' : 'it'})` : `ESCALATING to ${targets.join(', ')}${skipped.length ? `, past ${skipped.join(', ')}` : ''}`;
    d.emit('page.escalated', `${page.severity} page #${page.id} not acknowledged within ${formatDuration(esc.ackWithinMs)} (waiting since ${iso(page.openedAt)}): ${what}; next by ${iso(moved.deadline!)}`, {
      page: page.id,
      severity: page.severity,
      level,
      targets,
      skipped,
      repeat: last,
      since: page.openedAt,
      deadline: moved.deadline,
    });
    notify(d, 'page.escalated', esc.notice, vars(d, moved, { paged: targets.join(', '), skipped: skipped.join(', ') || null, repeat: last ? 'yes' : 'no', next: (esc.chain[level + 1] ?? (esc.repeat ? targets : undefined))?.join(', ') ?? null }), targets);
  }
}

/**
 * Acknowledge open pages (all, or page `only`): escalation stops, and everyone paged so far
 * hears who took it. Returns how many were acknowledged.
 */
export function ackPages(d: Draft, who: { name: string; by?: string; note?: string; via: string }, only?: number): number {
  const open = openPages(d.s).filter((p) => only === undefined || p.id === only);
  for (const page of open) {
    const ack = { name: who.name, ...(who.by && who.by !== who.name ? { by: who.by } : {}), at: d.now, ...(who.note ? { note: who.note } : {}), via: who.via };
    const done: Page = { ...page, ack };
    delete done.deadline;
    replace(d, done);
    const after = formatDuration(d.now - page.openedAt);
    d.emit('page.acknowledged', `${page.severity} page #${page.id} acknowledged by ${who.name}${ack.by ? ` (typed by ${ack.by})` : ''}${who.via === 'ack' ? '' : ` (by \`rollout ${who.via}\`)`} after ${after}${who.note ? `: ${who.note}` : ''}; escalation stopped`, {
      page: page.id,
      severity: page.severity,
      name: who.name,
      ...(ack.by ? { by: ack.by } : {}),
      via: who.via,
      ...(who.note ? { note: who.note } : {}),
    });
    const esc = d.plan.notify.escalation?.[page.severity];
    notify(d, 'page.acknowledged', esc?.notice === 'critical' ? 'warning' : 'info', vars(d, done, { acknowledgedBy: who.name, note: who.note ?? null, waited: after }), pagedSoFar(page));
  }
  return open.length;
}

/** The run ended: its open pages close (nobody is paged about a run that is over). */
export function closePages(d: Draft, why: string): void {
  for (const page of openPages(d.s)) {
    const done: Page = { ...page, closed: { at: d.now, why } };
    delete done.deadline;
    replace(d, done);
    d.emit('page.closed', `${page.severity} page #${page.id} closed without an acknowledgement: ${why}`, { page: page.id, severity: page.severity });
    notify(d, 'page.closed', 'info', vars(d, done, { reason: `${page.reason} — closed: ${why}` }), pagedSoFar(page));
  }
}

function vars(d: Draft, p: Page, extra: Record<string, string | number | null>): Record<string, string | number | null> {
  const esc = d.plan.notify.escalation?.[p.severity];
  return {
    severity: p.severity,
    severityMeans: esc?.description ?? null,
    page: p.id,
    reason: p.reason,
    waitingSince: iso(p.openedAt),
    ackBy: p.deadline !== undefined ? iso(p.deadline) : null,
    ackWithin: esc ? formatDuration(esc.ackWithinMs) : null,
    command: `rollout ack ${d.s.id}`,
    ...extra,
  };
}
