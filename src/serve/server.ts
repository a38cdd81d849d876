/**
 * `rollout serve`: node:http, no framework (a dozen routes). Read-only without
 * ROLLOUT_SERVE_TOKEN; every state change needs `Authorization: Bearer <token>`.
 *   GET  /                         dashboard of every run (live)
 *   GET  /runs/:id                 a run: the report's charts, live, with actions
 *   GET  /api/info                 { readOnly, runs }
 *   GET  /api/runs                 { runs: [status --json of each] }
 *   GET  /api/runs/:id             status --json
 *   GET  /api/runs/:id/events      log --json
 *   GET  /api/runs/:id/report      the report's data; /report.html the report file
 *   GET  /api/flags                flags --json (the local flag store)
 *   GET  /api/stream               server-sent events: `run` with status --json on every change
 *   POST /api/runs/:id/:action     approve | reject | pause | resume | promote | rollback | confirm | ack
 *   GET  /metrics                  Prometheus exposition
 *   POST /ofrep/v1/evaluate/flags[/:key]   OpenFeature OFREP
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Store } from '../state/index.js';
import { redact, redactDeep } from '../util/redact.js';
import { page } from '../report/html.js';
import { reportModel } from '../report/model.js';
import { renderReport } from '../report/html.js';
import { ACTIONS, bearer, runAction, tokenMatches, type ActionName, type ServeContext } from './actions.js';
import { dashboardBody } from './dashboard.js';
import { CONTENT_TYPE, metricsText } from './metrics.js';
import { evaluateAll, evaluateFlag, FlagSource } from './ofrep.js';
import { RunCache, type CachedRun } from './runs.js';

export interface ServeOptions {
  store: Store;
  /** For actions: the same context a CLI command gets. */
  context: ServeContext;
  flagStore: string;
  token?: string;
  host?: string;
  port?: number;
}

export interface Serving {
  url: string;
  server: Server;
  cache: RunCache;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(Object.assign(new Error('body too large'), { status: 413 }));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

function html(res: ServerResponse, text: string): void {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' });
  res.end(text);
}

export async function serve(o: ServeOptions): Promise<Serving> {
  const cache = new RunCache(o.store);
  await cache.start();
  metricsText(cache.list()); // render every run's lines now, not on the first scrape
  const flags = new FlagSource(o.flagStore);
  const readOnly = !o.token;
  const clients = new Set<ServerResponse>();

  cache.onChange((r) => {
    const msg = `event: run\ndata: ${JSON.stringify(r.json)}\n\n`;
    for (const c of clients) c.write(msg);
  });
  const heartbeat = setInterval(() => {
    for (const c of clients) c.write(': keep-alive\n\n');
  }, 15_000);
  heartbeat.unref();

  const find = async (ref: string): Promise<CachedRun | undefined> => {
    const hit = cache.runs.get(ref);
    if (hit) return hit;
    try {
      const id = await o.store.resolve(ref);
      await cache.reload(id);
      return cache.runs.get(id);
    } catch {
      return undefined;
    }
  };
  const notFound = (res: ServerResponse, ref: string) => send(res, 404, { error: `no run or plan named "${ref}"`, hint: 'GET /api/runs lists runs.' });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const parts = path.split('/').filter(Boolean).map(decodeURIComponent);

    // ——— OFREP (read-only, any origin may read flags) ———
    if (parts[0] === 'ofrep') {
      const cors = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'ETag', 'access-control-allow-headers': 'content-type, if-none-match, authorization' };
      if (method === 'OPTIONS') return send(res, 204, undefined, { ...cors, 'access-control-allow-methods': 'POST' });
      if (parts[1] !== 'v1' || parts[2] !== 'evaluate' || parts[3] !== 'flags' || parts.length > 5) return send(res, 404, { errorCode: 'GENERAL', errorDetails: `no OFREP endpoint ${path}` }, cors);
      if (method !== 'POST') return send(res, 405, { errorCode: 'GENERAL', errorDetails: 'OFREP evaluations are POST requests' }, { ...cors, allow: 'POST' });
      const raw = await readBody(req);
      const a = parts.length === 5 ? await evaluateFlag(flags, parts[4]!, raw) : await evaluateAll(flags, raw, req.headers['if-none-match']);
      return send(res, a.status, a.body, { ...cors, ...(a.headers ?? {}) });
    }

    if (path === '/metrics' && method === 'GET') {
      const text = metricsText(cache.list());
      res.writeHead(200, { 'content-type': CONTENT_TYPE, 'cache-control': 'no-store' });
      res.end(text);
      return;
    }

    if (parts[0] === 'api') {
      if (method === 'POST' && parts[1] === 'runs' && parts.length === 4) {
        const action = parts[3] as ActionName;
        if (!ACTIONS.includes(action)) return send(res, 404, { error: `no action "${parts[3]}"`, hint: `One of: ${ACTIONS.join(', ')}.` });
        if (readOnly) return send(res, 403, { error: 'this server is read-only: it was started without ROLLOUT_SERVE_TOKEN', hint: 'Restart `rollout serve` with ROLLOUT_SERVE_TOKEN set, or use the CLI.' });
        if (!tokenMatches(o.token!, bearer(req.headers.authorization))) return send(res, 401, { error: 'missing or wrong token', hint: 'Send `Authorization: Bearer <ROLLOUT_SERVE_TOKEN>`.' }, { 'www-authenticate': 'Bearer realm="rollout"' });
        const run = await find(parts[2]!);
        if (!run) return notFound(res, parts[2]!);
        let body: Record<string, unknown> = {};
        const raw = await readBody(req);
        if (raw.trim()) {
          try {
            body = JSON.parse(raw) as Record<string, unknown>;
          } catch {
            return send(res, 400, { error: 'the body is not valid JSON' });
          }
          if (!body || typeof body !== 'object' || Array.isArray(body)) return send(res, 400, { error: 'the body must be a JSON object' });
        }
        const r = await runAction(o.context, action, run.state.id, body);
        await cache.reload(run.state.id);
        return send(res, r.status, redactDeep(r.body));
      }
      if (method !== 'GET') return send(res, 405, { error: `${method} ${path} is not supported` });
      if (parts[1] === 'info') return send(res, 200, { readOnly, runs: cache.runs.size });
      if (parts[1] === 'flags' && parts.length === 2) return send(res, 200, redactDeep({ store: flags.path, flags: (await flags.get()).flags }));
      if (parts[1] === 'stream' && parts.length === 2) {
        res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
        res.write('retry: 1000\n\n');
        clients.add(res);
        req.on('close', () => clients.delete(res));
        return;
      }
      if (parts[1] === 'runs' && parts.length === 2) return send(res, 200, { runs: cache.list().map((r) => r.json) });
      if (parts[1] === 'runs' && parts.length >= 3) {
        const run = await find(parts[2]!);
        if (!run) return notFound(res, parts[2]!);
        const id = run.state.id;
        if (parts.length === 3) return send(res, 200, run.json);
        if (parts[3] === 'events' && parts.length === 4) {
          const events = await o.store.events(id);
          return send(res, 200, redactDeep({ run: id, events: events.map((e) => ({ ...e, time: new Date(e.at).toISOString() })) }));
        }
        if (parts[3] === 'report' && parts.length === 4) {
          const state = await o.store.load(id);
          return send(res, 200, reportModel({ state, events: await o.store.events(id), plan: run.plan, driver: run.driver }));
        }
        if (parts[3] === 'report.html' && parts.length === 4) {
          const state = await o.store.load(id);
          const text = renderReport({ state, events: await o.store.events(id), plan: run.plan });
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-disposition': `attachment; filename="rollout-${id.replace(/[^A-Za-z0-9._-]/g, '_')}.html"` });
          res.end(text);
          return;
        }
      }
      return send(res, 404, { error: `no API route ${path}`, hint: 'See /api/runs, /api/runs/<id>, /api/runs/<id>/events, /api/runs/<id>/report, /api/flags, /api/stream.' });
    }

    if (method !== 'GET') return send(res, 405, { error: `${method} ${path} is not supported` });
    if (path === '/' || path === '/index.html') {
      const runs = cache.list();
      return html(res, page('rollout: all runs', { page: 'dashboard', count: runs.length, live: { readOnly } }, { live: true, charts: false, body: dashboardBody(runs) }));
    }
    if (parts[0] === 'runs' && parts.length === 2) {
      const run = await find(parts[1]!);
      if (!run) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`no run or plan named "${parts[1]}"`);
        return;
      }
      const state = await o.store.load(run.state.id);
      const model = reportModel({ state, events: await o.store.events(run.state.id), plan: run.plan, driver: run.driver });
      return html(res, page(`rollout: ${model.run.plan} (${model.run.run})`, { page: 'run', model, live: { readOnly } }, { nav: true, live: true }));
    }
    if (path === '/favicon.ico') {
      res.writeHead(204);
      res.end();
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('not found: try / (dashboard), /api/runs, /metrics or /ofrep/v1/evaluate/flags');
  }

  const server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const status = (err as { status?: number }).status ?? 500;
      if (!res.headersSent) send(res, status, { error: status === 413 ? 'request body too large' : 'internal error', hint: status === 500 ? 'See the server log.' : undefined });
      else res.end();
      if (status === 500) process.stderr.write(redact(`rollout serve: ${req.method} ${req.url}: ${(err as Error)?.stack ?? String(err)}`) + '\n');
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 7420, o.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`,
    server,
    cache,
    async close() {
      clearInterval(heartbeat);
      cache.close();
      flags.close();
      for (const c of clients) c.end();
      clients.clear();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
