import { FINAL_STATUSES, type RunState } from '../engine/types.js';
import { driverText, runJson, undriven } from '../output/run.js';
import { statusColor, tableStyle } from '../output/style.js';
import type { Plan } from '../plan/model.js';
import { formatDuration } from '../util/duration.js';
import { safeText } from '../util/terminal.js';
import { planOf, printJson, type Context } from './context.js';
import type { Store } from '../state/index.js';

/**
 * The plan a run was started with, as the run stored it (its snapshot): the same answer on
 * every machine, whether or not the plan file exists there. Older runs without a snapshot
 * fall back to the plan file.
 */
export async function storedPlan(c: Context, store: Store, s: RunState): Promise<Plan | undefined> {
  return (await store.readPlan(s.id).catch(() => undefined)) ?? (await planOf(c, s));
}

export default async function status(c: Context, ref: string | undefined, o: { watch?: boolean; all?: boolean }): Promise<number> {
  const store = await c.openStore();
  if (o.watch && c.json) {
    const { UsageError } = await import('../errors.js');
    throw new UsageError('--watch and --json cannot be used together', { hint: 'For machines, poll `rollout status --json`; --watch is for people.' });
  }
  if (o.all && ref) {
    const { UsageError } = await import('../errors.js');
    throw new UsageError(`--all lists every run; it does not take a run ("${ref}")`, { hint: 'Use `rollout status --all` or `rollout status <run>`.' });
  }
  if (o.all || (!ref && (await store.list()).filter((r) => !FINAL_STATUSES.includes(r.status)).length > 1)) {
    const runs = await store.list();
    // Records that cannot be read are listed too (never silently left out), and make it exit 8.
    const broken = await store.broken();
    if (!runs.length && broken.length) throw broken[0]!.error;
    const drivers = new Map((await store.leases()).map((l) => [l.owner, l]));
    const driverJson = (id: string) => {
      const d = drivers.get(id);
      return d ? { pid: d.pid, host: d.host, worker: d.worker ?? null, leaseUntil: new Date(d.leaseUntil).toISOString() } : null;
    };
    if (c.json) {
      const rows = [];
      for (const r of runs) rows.push(runJson(await storedPlan(c, store, r), r, { driver: driverJson(r.id) }));
      printJson(c, { runs: rows, ...(broken.length ? { unreadable: broken.map((b) => ({ run: b.id, error: b.error.message, hint: b.error.hint ?? null })) } : {}) });
      return broken.length ? broken[0]!.error.exitCode : 0;
    }
    for (const b of broken) c.stderr(`error: ${safeText(b.error.message)}${b.error.hint ? `\nhint: ${safeText(b.error.hint)}` : ''}`);
    if (!runs.length) {
      c.stdout(`no runs yet in ${store.localDir ?? `the shared store ${store.dir} (ROLLOUT_STATE_URL)`}: start one with \`rollout start <plan.yaml>\``);
      return 0;
    }
    const { default: Table } = await import('cli-table3');
    const t = new Table({ head: ['run', 'plan', 'status', 'driven by', 'flags', 'started', 'age'], style: tableStyle() });
    for (const r of runs)
      t.push([
        safeText(r.id),
        safeText(r.plan.name),
        statusColor(r.status)(r.status) + (undriven(r, drivers.get(r.id)) ? ' — nothing drives it' : ''),
        drivers.has(r.id) ? safeText(driverText(drivers.get(r.id)!)) : '-',
        Object.entries(r.flags).map(([f, v]) => `${safeText(f)}=${v.enabled ? `${v.percentage}%` : 'off'}`).join('\n'),
        // A scheduled run's start is ahead: when, and how long until then.
        new Date(r.startedAt).toISOString() + (r.status === 'scheduled' ? ' (scheduled)' : ''),
        r.startedAt > c.clock.now() ? `in ${formatDuration(r.startedAt - c.clock.now())}` : formatDuration(c.clock.now() - r.startedAt),
      ]);
    c.stdout(t.toString());
    return broken.length ? broken[0]!.error.exitCode : 0;
  }
  const id = await store.resolve(ref);
  const { renderRun } = await import('../output/live.js');
  const out = c.streams.stdout as NodeJS.WriteStream;
  const width = () => (out.isTTY ? out.columns || 100 : 0);
  const view = async () => {
    const s = await store.load(id);
    const plan = await storedPlan(c, store, s);
    const driver = await store.driver(id);
    return { s, plan, driver, text: renderRun(plan, s, { now: c.clock.now(), width: width(), driver: driver ?? null }) };
  };
  if (c.json) {
    const s = await store.load(id);
    const driver = await store.driver(id);
    printJson(c, runJson(await storedPlan(c, store, s), s, { driver: driver ? { pid: driver.pid, host: driver.host, worker: driver.worker ?? null, leaseUntil: new Date(driver.leaseUntil).toISOString() } : null }));
    return 0;
  }
  if (!o.watch) {
    c.stdout((await view()).text);
    return 0;
  }
  // --watch: on a terminal the view is redrawn in place when the run changes (checked every
  // 200 ms) and every second for its countdowns; elsewhere it is printed again when it changes.
  const deadline = c.clock.now() + 24 * 3600_000;
  const live = out.isTTY ? ((await import('log-update')).createLogUpdate(out, { showCursor: true }) as ((t: string) => void) & { done(): void }) : undefined;
  let lastState = '';
  let drawnAt = 0;
  try {
    for (;;) {
      const s = await store.load(id);
      const key = `${s.updatedAt}|${s.seq}|${s.status}`;
      const changed = key !== lastState;
      if (changed || (live && c.clock.now() - drawnAt >= 1000)) {
        lastState = key;
        const v = await view();
        drawnAt = c.clock.now();
        if (live) live(v.text);
        else c.stdout(v.text + '\n');
        if (FINAL_STATUSES.includes(v.s.status) || c.clock.now() > deadline) return 0;
      }
      await c.clock.sleep(200);
    }
  } finally {
    live?.done();
  }
}
