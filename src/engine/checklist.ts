/**
 * Checklist gates (seed 004 "Pre-Rollout Checklist", 001's readiness items, 003's
 * pre-deployment checklists): the run waits before a phase or step until every item has been
 * confirmed by a person, one by one (`rollout confirm`), who and when recorded. The gate rides
 * in the run's approval slot (`approval.checklist`, key `checklist:<gate>`), so pausing,
 * resuming, rejecting (a No-Go) and rolling back treat it as they treat any gate; `approve`
 * does not open it, and neither does `--yes` (a checklist is a human's word on each item).
 */
import type { ChecklistItem, Plan } from '../plan/model.js';
import { suggest } from '../util/suggest.js';
import { iso, type Draft } from './draft.js';
import { notify } from './notice.js';
import { stepLabel } from './steps.js';
import type { ChecklistItemState, Control, RunState } from './types.js';

type Gate = NonNullable<RunState['approval']>;

export function checklistFor(plan: Plan, phase: number, step: number): ChecklistItem[] | undefined {
  const p = plan.phases[phase];
  return p?.steps[step]?.checklist ?? (step === 0 ? p?.checklist : undefined);
}

/** `checklist:p0` (a phase's, before its first step) or `checklist:p1s2` (a step's). */
export function checklistKey(plan: Plan, phase: number, step: number): string | undefined {
  const p = plan.phases[phase];
  if (p?.steps[step]?.checklist) return `checklist:p${phase}s${step}`;
  if (step === 0 && p?.checklist) return `checklist:p${phase}`;
  return undefined;
}

export const isChecklist = (a: RunState['approval']): a is Gate & { checklist: ChecklistItemState[] } => Boolean(a?.checklist);

/** "pre-rollout checklist for phase core" / "checklist before step 50%". */
export function checklistTitle(plan: Plan, a: Pick<Gate, 'key' | 'phase' | 'step'>): string {
  const first = a.phase === 0 && a.step === 0;
  return a.key === `checklist:p${a.phase}` ? `${first ? 'pre-rollout ' : ''}checklist for phase ${plan.phases[a.phase]?.name ?? a.phase}` : `checklist before step ${stepLabel(plan, a.phase, a.step)}`;
}

export const openItems = (a: { checklist?: ChecklistItemState[] }) => (a.checklist ?? []).filter((i) => !i.confirmed);

/** waitingFor: "checklist for phase core: 2 of 6 confirmed (open: rollback-script, …)". */
export function checklistWaiting(plan: Plan, a: Gate): string {
  const items = a.checklist ?? [];
  const open = openItems(a);
  return `${checklistTitle(plan, a)}: ${items.length - open.length} of ${items.length} confirmed (open: ${open.map((i) => i.id).join(', ') || 'none'}; \`rollout confirm\`)`;
}

function setWaiting(d: Draft) {
  const a = d.s.approval!;
  if (d.s.status !== 'awaiting-approval') return;
  d.s.waitingFor = checklistWaiting(d.plan, a);
  d.s.waiting = { kind: 'checklist', gate: a.key };
}

/** Stop the run at the checklist before (phase, step): the items, a notice listing them. */
export function requestChecklist(d: Draft, phase: number, step: number, key: string, items: ChecklistItem[]) {
  const s = d.s;
  s.status = 'awaiting-approval';
  s.approval = { key, phase, step, requestedAt: d.now, checklist: items.map((i) => ({ id: i.id, text: i.text, ...(i.by ? { by: i.by } : {}) })) };
  setWaiting(d);
  const title = checklistTitle(d.plan, s.approval);
  const list = items.map((i) => `☐ ${i.id}: ${i.text}${i.by ? ` (by ${i.by.join(' or ')})` : ''}`);
  d.emit('checklist.requested', `${title}: ${items.length} item(s) to confirm, one by one (\`rollout confirm ${s.id} <item>\`): ${list.join('; ')}`, {
    key,
    items: items.map((i) => ({ id: i.id, text: i.text, ...(i.by ? { by: i.by } : {}) })),
  });
  notify(d, 'approval.requested', 'warning', {
    nextAt: 'after the checklist',
    // One line each: notice values have their newlines shown as "\n" (a value cannot forge lines).
    checklist: list.join('; '),
    command: `confirm each item: rollout confirm ${s.id} <item> [--as <name>] — ${title}: ${list.join('; ')}`,
  });
}

/** Resolve what the user typed to item ids: an id, else the item's text (any case). */
function resolveItem(items: ChecklistItemState[], typed: string): ChecklistItemState | undefined {
  return items.find((i) => i.id === typed) ?? items.find((i) => i.id.toLowerCase() === typed.toLowerCase() || i.text.toLowerCase() === typed.trim().toLowerCase());
}

/**
 * `rollout confirm`: tick (or untick) items of the checklist the run waits at. The gate opens
 * when the last one is ticked: its key joins `approved` and the run goes on (an approval gate
 * at the same point is asked next). Returns an error (nothing changed) or undefined.
 */
export function confirmItems(d: Draft, ctl: Extract<Control, { kind: 'confirm' }>): { error: string; hint?: string } | undefined {
  const s = d.s;
  const a = s.approval;
  // A scheduled run's checklist before its first step is open during the wait (engine/start.ts).
  if (!isChecklist(a) || (s.status !== 'awaiting-approval' && s.status !== 'paused' && s.status !== 'scheduled'))
    return { error: `run ${s.id} is not waiting at a checklist (it is ${s.status}${s.waitingFor ? `: ${s.waitingFor}` : ''})`, hint: '`rollout confirm --list` shows the next checklist of the plan; its items can be confirmed when the run reaches it.' };
  const name = ctl.as ?? ctl.by ?? '';
  const items = a.checklist.map((i) => ({ ...i }));
  const may = (i: ChecklistItemState) => ctl.auto || !i.by?.length || i.by.includes(name);
  let targets: ChecklistItemState[];
  if (ctl.all) {
    targets = items.filter((i) => (ctl.undo ? i.confirmed : !i.confirmed) && may(i));
    if (!targets.length && !ctl.undo) {
      const open = items.filter((i) => !i.confirmed);
      if (open.length) return { error: `"${name}" may confirm none of the open items (${open.map((i) => `${i.id}: by ${i.by?.join(' or ')}`).join('; ')})`, hint: 'Confirm as one of the names listed: `--as <name>`.' };
    }
  } else {
    if (!ctl.items.length) return { error: 'name the items to confirm', hint: `Open items: ${openItems(a).map((i) => i.id).join(', ') || 'none'}. Or \`--all\` for every item you can vouch for.` };
    targets = [];
    for (const typed of ctl.items) {
      const it = resolveItem(items, typed);
      if (!it) {
        const near = suggest(typed, items.map((i) => i.id));
        return { error: `"${typed}" is not an item of the ${checklistTitle(d.plan, a)}${near ? ` — did you mean "${near}"?` : ''}`, hint: `Items: ${items.map((i) => i.id).join(', ')} (\`rollout confirm ${s.id} --list\`).` };
      }
      if (!may(it)) return { error: `item "${it.id}" is confirmed by ${it.by!.join(' or ')}, not "${name}"`, hint: `Confirm it as one of them: \`rollout confirm ${s.id} ${it.id} --as ${it.by![0]}\`.` };
      if (!targets.includes(it)) targets.push(it);
    }
  }
  for (const it of targets) {
    if (ctl.undo) {
      if (!it.confirmed) {
        d.emit('checklist.unconfirmed', `${it.id} was not confirmed; nothing to undo`, { key: a.key, item: it.id, by: ctl.by, noop: true });
        continue;
      }
      const was = it.confirmed;
      delete it.confirmed;
      d.emit('checklist.unconfirmed', `☐ ${it.id}: ${it.text} — unticked${ctl.by ? ` by ${ctl.by}` : ''} (was confirmed by ${was.name} at ${iso(was.at)})${ctl.note ? ` (${ctl.note})` : ''}`, { key: a.key, item: it.id, by: ctl.by, was: was.name });
      continue;
    }
    if (it.confirmed) {
      d.emit('checklist.confirmed', `${it.id} was already confirmed by ${it.confirmed.name}; confirming again changes nothing`, { key: a.key, item: it.id, name, by: ctl.by, duplicate: true });
      continue;
    }
    it.confirmed = { name, ...(ctl.by && ctl.by !== name ? { by: ctl.by } : {}), at: d.now, ...(ctl.note ? { note: ctl.note } : {}) };
    const done = items.filter((i) => i.confirmed).length;
    d.emit('checklist.confirmed', `☑ ${it.id}: ${it.text} — confirmed by ${name}${ctl.by && ctl.by !== name ? ` (typed by ${ctl.by})` : ''}${ctl.note ? ` (${ctl.note})` : ''} — ${done} of ${items.length}`, {
      key: a.key,
      item: it.id,
      name,
      ...(ctl.by ? { by: ctl.by } : {}),
      ...(ctl.note ? { note: ctl.note } : {}),
    });
  }
  s.approval = { ...a, checklist: items };
  if (items.some((i) => !i.confirmed)) {
    setWaiting(d);
    return undefined;
  }
  // Every item ticked: the gate opens. A paused run stays paused (resume goes on from here), a
  // scheduled one scheduled.
  s.approved.push(a.key);
  s.approval = undefined;
  const title = checklistTitle(d.plan, a);
  d.emit('checklist.completed', `${title} complete: ${items.map((i) => `${i.id} (${i.confirmed!.name})`).join(', ')}`, {
    key: a.key,
    title,
    items: items.map((i) => ({ id: i.id, name: i.confirmed!.name, at: i.confirmed!.at })),
  });
  if (s.status === 'awaiting-approval') {
    s.status = 'running';
    s.lastTickAt = undefined; // due at once
    s.reason = undefined;
    s.waitingFor = undefined;
    s.waiting = undefined;
  }
  return undefined;
}
