/**
 * `rollout worker`: drive every active run in the store until stopped (SIGTERM/SIGINT: finish
 * the action in flight, record it, release the leases, exit 0). `rollout workers`: who is
 * alive, how fresh its heartbeat is, how many runs it holds.
 */
import { UsageError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { printJson, type Context } from './context.js';

export default async function worker(c: Context, o: { concurrency?: string; id?: string; poll?: string }): Promise<number> {
  const concurrency = o.concurrency === undefined ? 100 : Number(o.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency takes a positive whole number, not "${o.concurrency}"`);
  if (o.id !== undefined && !/^[A-Za-z0-9._-]{1,100}$/.test(o.id)) throw new UsageError(`bad worker id "${o.id}"`, { hint: 'Letters, digits, dot, dash and underscore; up to 100 characters.' });
  const pollMs = o.poll === undefined ? 1000 : Number(o.poll);
  if (!(pollMs >= 50 && pollMs <= 60_000)) throw new UsageError(`--poll takes milliseconds between 50 and 60000, not "${o.poll}"`);
  const store = await c.openStore();
  const ac = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      c.stderr(`second ${sig}: exiting now; runs in flight are taken over when their leases lapse`);
      c.exit(1);
      return;
    }
    c.stderr(`${sig}: finishing the actions in flight, then releasing every run…`);
    ac.abort(sig);
  };
  const offSignals = c.signals(onSignal);
  const { runWorker } = await import('../runner/worker.js');
  const { loadPlan } = await import('../plan/load.js');
  try {
    const r = await runWorker({
      store,
      id: o.id,
      concurrency,
      pollMs,
      cwd: c.cwd,
      loadPlan: async (s) => (await loadPlan(s.plan.file, { env: c.env, cwd: c.cwd })).plan,
      log: (m) => c.stderr(`${new Date().toISOString()} ${m}`),
      signal: ac.signal,
    });
    if (process.env.ROLLOUT_PG_COUNT === '1') c.stderr(`store queries: ${(await import('../state/pg.js')).PgStore.queries}`);
    if (c.json) printJson(c, { worker: r.id, runsDriven: r.drove });
    return 0;
  } finally {
    offSignals();
    await store.close?.();
  }
}

export async function list(c: Context): Promise<number> {
  const store = await c.openStore();
  try {
    const [ws, leases] = await Promise.all([store.workers(), store.leases()]);
    if (c.json) {
      printJson(c, { workers: ws, leases: leases.map((l) => ({ run: l.owner, worker: l.worker ?? null, host: l.host, pid: l.pid, epoch: l.epoch ?? null, leaseUntil: new Date(l.leaseUntil).toISOString() })) });
      return 0;
    }
    if (!ws.length) {
      c.stdout(`no live worker in ${store.dir}: start one with \`rollout worker\``);
      return 0;
    }
    const { default: Table } = await import('cli-table3');
    const { tableStyle } = await import('../output/style.js');
    const t = new Table({ head: ['worker', 'host', 'pid', 'heartbeat', 'runs', 'up'], style: tableStyle() });
    for (const w of ws) t.push([w.id, w.host, w.pid, `${formatDuration(w.heartbeatAgeMs ?? 0)} ago`, `${w.runs ?? 0}/${w.concurrency}`, formatDuration(Date.now() - w.startedAt)]);
    c.stdout(t.toString());
    return 0;
  } finally {
    await store.close?.();
  }
}
