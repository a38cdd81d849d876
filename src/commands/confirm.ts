/**
 * `rollout confirm [run] <item…>`: tick checklist items of the gate a run waits at (who, when,
 * a note), `--undo` to untick one ticked by mistake, `--list` to see every item. With no item
 * on a terminal it asks item by item; off a terminal it says which items are open. The run is
 * the first argument when it names a run (id or plan name); otherwise every argument is an item
 * and the run is the active one.
 */
import type { ChecklistItemState, RunState } from '../engine/types.js';
import { UsageError } from '../errors.js';
import { checklistKey } from '../engine/checklist.js';
import { checklistJson } from '../output/run.js';
import { style } from '../output/style.js';
import type { Plan } from '../plan/model.js';
import { safeText } from '../util/terminal.js';
import { planOf, printJson, type Context } from './context.js';
import { confirmControl, steer, walkChecklist } from './steer.js';

interface Opts {
  by?: string;
  as?: string;
  note?: string;
  undo?: boolean;
  all?: boolean;
  list?: boolean;
}

const iso = (t: number) => new Date(t).toISOString();

/** The next checklist ahead of a run that is not waiting at one (to show, not to tick). */
function nextChecklist(plan: Plan, s: RunState): { where: string; items: ChecklistItemState[] } | undefined {
  if (['completed', 'rolled-back', 'aborted'].includes(s.status)) return undefined; // nothing is ahead of a run that ended
  for (let pi = Math.max(0, s.phase); pi < plan.phases.length; pi++) {
    const p = plan.phases[pi]!;
    for (let si = pi === s.phase ? s.step + 1 : 0; si < p.steps.length; si++) {
      const list = p.steps[si]!.checklist ?? (si === 0 ? p.checklist : undefined);
      if (list && s.approved.includes(checklistKey(plan, pi, si) ?? '')) continue; // confirmed already: shown as done
      if (list) return { where: si === 0 && p.checklist ? `phase ${p.name}` : `phase ${p.name}, step ${si + 1}`, items: list.map((i) => ({ ...i })) };
    }
  }
  return undefined;
}

function itemLine(i: ChecklistItemState): string {
  const c = i.confirmed;
  const who = c ? ` — ${safeText(c.name)}${c.by ? ` (typed by ${safeText(c.by)})` : ''}, ${iso(c.at)}${c.note ? `: ${safeText(c.note)}` : ''}` : i.by ? ` — by ${i.by.map(safeText).join(' or ')}` : '';
  return `${c ? style.green('☑') : style.yellow('☐')} ${safeText(i.id)}: ${safeText(i.text)}${style.dim(who)}`;
}

export default async function confirm(c: Context, args: string[], o: Opts): Promise<number> {
  const store = await c.openStore();
  const runs = await store.list();
  const first = args[0];
  const named = first !== undefined && runs.some((r) => r.id === first || r.plan.name === first);
  const ref = named ? first : undefined;
  const items = named ? args.slice(1) : args;
  const id = await store.resolve(ref);
  const s = await store.load(id);
  const open = s.approval?.checklist;

  if (o.list) {
    if (items.length) throw new UsageError('--list shows the checklist; it takes no items', { hint: `\`rollout confirm ${id} --list\`` });
    if (open) {
      if (c.json) printJson(c, { run: id, waiting: true, key: s.approval!.key, items: checklistJson(open) });
      else {
        c.stdout(`run ${id} waits at this checklist (${open.filter((i) => i.confirmed).length} of ${open.length} confirmed):`);
        for (const i of open) c.stdout(`  ${itemLine(i)}`);
      }
      return 0;
    }
    const plan = await planOf(c, s);
    const ahead = plan ? nextChecklist(plan, s) : undefined;
    // Checklists the run got past: who confirmed each item and when (from the log).
    const done = (await store.events(id))
      .filter((e) => e.type === 'checklist.completed')
      .map((e) => ({ key: String(e.data?.['key'] ?? ''), title: String(e.data?.['title'] ?? e.data?.['key'] ?? 'checklist'), items: (e.data?.['items'] as Array<{ id: string; name: string; at: number }> | undefined) ?? [] }));
    if (c.json) printJson(c, { run: id, waiting: false, next: ahead ? { where: ahead.where, items: checklistJson(ahead.items) } : null, done: done.map((d) => ({ key: d.key, items: d.items.map((i) => ({ id: i.id, name: i.name, at: iso(i.at) })) })) });
    else {
      for (const d of done) {
        c.stdout(`${safeText(d.title)}: confirmed`);
        for (const i of d.items) c.stdout(`  ${style.green('☑')} ${safeText(i.id)}${style.dim(` — ${safeText(i.name)}, ${iso(i.at)}`)}`);
      }
    }
    if (c.json) return 0;
    if (ahead) {
      c.stdout(`run ${id} is not at a checklist (${s.status}); the next one, before ${safeText(ahead.where)}:`);
      for (const i of ahead.items) c.stdout(`  ${itemLine(i)}`);
    } else c.stdout(`run ${id} is not at a checklist (${s.status}) and none is ahead of it`);
    return 0;
  }

  if (!open) throw new UsageError(`run ${id} is not waiting at a checklist (it is ${s.status}${s.waitingFor ? `: ${safeText(s.waitingFor)}` : ''})`, { hint: `\`rollout confirm ${id} --list\` shows the next checklist; its items are confirmed when the run reaches it.` });

  if (!items.length && !o.all) {
    const todo = open.filter((i) => (o.undo ? i.confirmed : !i.confirmed));
    if (!c.interactive || c.json || o.undo)
      throw new UsageError(o.undo ? 'name the items to untick' : 'name the items to confirm', {
        hint: `${o.undo ? 'Ticked' : 'Open'}: ${todo.map((i) => i.id).join(', ') || 'none'} — \`rollout confirm ${id} <item…>\`${o.undo ? ' --undo' : ' (or --all for every item you vouch for)'}.`,
      });
    // On a terminal: ask item by item, as the person typing (or --as).
    const me = o.as ?? c.who(o.by);
    const picked = await walkChecklist(c, todo, me);
    if (!picked.length) {
      c.stdout('nothing confirmed');
      return 0;
    }
    items.push(...picked);
  }

  return steer(c, id, confirmControl(c, items, o), { by: o.by, as: o.as, note: o.note }, 'flush');
}
