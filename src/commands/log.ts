import { printJson, type Context } from './context.js';
import { style } from '../output/style.js';
import { safeText } from '../util/terminal.js';

export default async function log(c: Context, ref: string | undefined, o: { tail?: string }): Promise<number> {
  const store = await c.openStore();
  const id = await store.resolve(ref);
  let events = await store.events(id);
  const n = o.tail ? Number(o.tail) : undefined;
  if (n !== undefined) {
    if (!Number.isInteger(n) || n < 1) {
      const { UsageError } = await import('../errors.js');
      throw new UsageError(`--tail takes a positive whole number, not "${o.tail}"`);
    }
    events = events.slice(-n);
  }
  if (c.json) {
    printJson(c, { run: id, events: events.map((e) => ({ ...e, time: new Date(e.at).toISOString() })) });
    return 0;
  }
  for (const e of events) c.stdout(`${style.dim(new Date(e.at).toISOString())} ${String(e.seq).padStart(4)} ${style.cyan(safeText(e.type).padEnd(18))} ${safeText(e.msg)}`);
  return 0;
}
