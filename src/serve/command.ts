/** The serve command (registered by cli.ts; here, above commands/, because the server uses the CLI's control handlers): `rollout serve [--port 7420] [--host 127.0.0.1]`: dashboard, JSON API, /metrics, OFREP. */
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { Context } from '../commands/context.js';

export default async function serveCommand(c: Context, o: { port?: string; host?: string; store?: string; worker?: boolean; concurrency?: string }): Promise<number> {
  const port = Number(o.port ?? 7420);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port takes a port number (0-65535), not "${o.port}"`);
  const host = o.host ?? '127.0.0.1';
  const token = c.env.ROLLOUT_SERVE_TOKEN?.trim() || undefined;
  if (token) {
    const { registerSecret } = await import('../util/redact.js');
    registerSecret(token);
    if (token.length < 16) c.stderr('warning: ROLLOUT_SERVE_TOKEN is shorter than 16 characters; use a long random value (e.g. `openssl rand -hex 24`)');
  }
  const concurrency = Number(o.concurrency ?? 100);
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency takes a positive whole number, not "${o.concurrency}"`);
  const store = await c.openStore();
  const { serve } = await import('./server.js');
  let s: Awaited<ReturnType<typeof serve>>;
  try {
    s = await serve({ store, context: { ...c, interactive: false }, flagStore: o.store ? resolve(c.cwd, o.store) : resolve(c.cwd, c.stateDir, 'flags.json'), token, host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new UsageError(`port ${port} on ${host} is in use`, { hint: 'Pick another with --port, or stop the other server.' });
    if (code === 'EACCES' || code === 'EADDRNOTAVAIL') throw new UsageError(`cannot listen on ${host}:${port} (${code})`, { hint: 'Use --host 127.0.0.1 and a port above 1024.' });
    throw err;
  }
  const lines = [
    `rollout serve: ${s.url}  (${s.cache.runs.size} run(s); ${token ? 'actions need the token' : 'read-only: set ROLLOUT_SERVE_TOKEN to allow actions'})`,
    `  dashboard ${s.url}/   API ${s.url}/api/runs   metrics ${s.url}/metrics   OFREP ${s.url}/ofrep/v1/evaluate/flags`,
  ];
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) lines.push(`warning: listening on ${host}: anyone who can reach it can read every run${token ? '' : ''}`);
  // --worker: the same process also drives every active run (`rollout worker`'s loop).
  const ac = new AbortController();
  let working: Promise<unknown> | undefined;
  if (o.worker) {
    const { runWorker } = await import('../runner/worker.js');
    const { loadPlan } = await import('../plan/load.js');
    working = runWorker({ store, concurrency, cwd: c.cwd, loadPlan: async (st) => (await loadPlan(st.plan.file, { env: c.env, cwd: c.cwd })).plan, log: (m) => c.stderr(`${new Date().toISOString()} ${m}`), signal: ac.signal }).catch((err: unknown) => {
      c.stderr(`rollout serve: the worker stopped: ${(err as Error)?.message ?? String(err)}`);
    });
    lines.push('  --worker: this process also drives every active run');
  }
  if (c.json) c.stdout(JSON.stringify({ url: s.url, readOnly: !token, runs: s.cache.runs.size, worker: Boolean(o.worker) }));
  else for (const l of lines) c.stdout(l);
  await new Promise<void>((done) => {
    const stop = () => {
      off();
      // The worker finishes the actions in flight and releases its runs before the server closes.
      ac.abort('serve stopping');
      void Promise.resolve(working)
        .then(() => s.close())
        .finally(done);
    };
    const off = c.signals(stop);
  });
  await store.close?.();
  return 0;
}
