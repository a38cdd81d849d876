import { printJson, type Context } from './context.js';

export default async function log(c: Context, ref: string | undefined, o: { tail?: string; follow?: boolean }): Promise<number> {
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
  const { logLines } = await import('../output/log.js');
  for (const e of events) for (const l of logLines(e)) c.stdout(l);
  if (!o.follow) return 0;
  // --follow: new events as they are recorded (checked every 200 ms) until the run ends.
  const { FINAL_STATUSES } = await import('../engine/types.js');
  let last = events.at(-1)?.seq ?? -1;
  const deadline = Date.now() + 7 * 24 * 3600_000;
  for (;;) {
    // The status first: once it is final, this read of the events has the last of them.
    const done = FINAL_STATUSES.includes((await store.load(id)).status);
    const fresh = (await store.events(id)).filter((e) => e.seq > last);
    for (const e of fresh) for (const l of logLines(e)) c.stdout(l);
    if (fresh.length) last = fresh.at(-1)!.seq;
    if (done || Date.now() > deadline) return 0;
    await new Promise((r) => setTimeout(r, 200));
  }
}
