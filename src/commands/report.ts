/** `rollout report <run> [--out file.html]`: one self-contained HTML file (charts inlined, no network). */
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { printJson, type Context } from './context.js';

export default async function report(c: Context, ref: string | undefined, o: { out?: string; history?: boolean }): Promise<number> {
  const store = await c.openStore();
  try {
    const id = await store.resolve(ref);
    const { loadRunView } = await import('../report/load.js');
    const { renderReport } = await import('../report/html.js');
    const view = await loadRunView(store, id);
    let history: Record<string, Array<[number, number | null, number | null]>> | undefined;
    if (o.history) {
      // The plan file with its adapters (and their ${VAR}s): the snapshot has no provider options.
      const { loadPlan } = await import('../plan/load.js');
      const { plan } = await loadPlan(view.state.plan.file, { env: c.env, cwd: c.cwd });
      const { checkHistory } = await import('../report/history.js');
      history = await checkHistory(plan, view.state, { cwd: c.cwd, now: c.clock.now(), log: (m) => c.stderr(m) });
    }
    const html = renderReport({ state: view.state, events: view.events, plan: view.plan, ...(history ? { history } : {}) });
    if (!o.out) {
      if (c.json) printJson(c, { run: id, html });
      else c.streams.stdout.write(html);
      return 0;
    }
    const file = resolve(c.cwd, o.out);
    await writeFile(file, html, { mode: 0o644 });
    if (c.json) printJson(c, { run: id, file, bytes: Buffer.byteLength(html) });
    else c.stdout(`report of run ${id} (${view.state.status}) written to ${file} (${Math.round(Buffer.byteLength(html) / 1024)} KB, opens offline)`);
    return 0;
  } finally {
    await store.close?.();
  }
}
