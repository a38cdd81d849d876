/**
 * A webhook receiver for tests: node:http on 127.0.0.1 (random port), recording every request.
 *
 *   const rx = await startReceiver();
 *   rx.url('/services/T0/B0/x')    → "http://127.0.0.1:<port>/services/T0/B0/x"
 *   rx.requests                    → [{ method, path, headers, raw, body }] (body: parsed JSON or undefined)
 *   rx.mode = 'ok' | 'error500' | 'noService' | 'invalidPayload' | 'rateLimited' | 'hang'
 *   rx.script(['error500', 'ok'])  → answer the next requests in that order, then fall back to rx.mode
 *   rx.respond = (req) => ({ status, body, headers })   → full control (overrides mode)
 *   await rx.waitFor(2)            → resolves when 2 requests arrived (bounded, default 2 s)
 *   await rx.close()               → also drops hanging connections
 *
 * Modes: ok → 200 "ok"; error500 → 500 "rollup_error"; noService → 404 "no_service" (what Slack
 * answers for a revoked webhook); invalidPayload → 400 "invalid_payload"; rateLimited → 429
 * "rate_limited" with Retry-After: 1; hang → never answers (the request is recorded first).
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: unknown;
  at: number;
}

export type ReceiverMode = 'ok' | 'error500' | 'noService' | 'invalidPayload' | 'rateLimited' | 'hang';

export interface Reply {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

export interface Receiver {
  readonly port: number;
  readonly base: string;
  url(path?: string): string;
  readonly requests: ReceivedRequest[];
  mode: ReceiverMode;
  respond?: (req: ReceivedRequest) => Reply | 'hang';
  script(modes: ReceiverMode[]): void;
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  reset(): void;
  close(): Promise<void>;
}

const REPLIES: Record<Exclude<ReceiverMode, 'hang'>, Reply> = {
  ok: { status: 200, body: 'ok' },
  error500: { status: 500, body: 'rollup_error' },
  noService: { status: 404, body: 'no_service' },
  invalidPayload: { status: 400, body: 'invalid_payload' },
  rateLimited: { status: 429, body: 'rate_limited', headers: { 'retry-after': '1' } },
};

export async function startReceiver(): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const waiters: Array<() => void> = [];
  let queue: ReceiverMode[] = [];

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = undefined;
      }
      const rec: ReceivedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, raw, body, at: Date.now() };
      requests.push(rec);
      for (const w of waiters.splice(0)) w();
      const reply = rx.respond ? rx.respond(rec) : (queue.shift() ?? rx.mode);
      if (reply === 'hang') return; // keep the socket open; close() destroys it
      const r = typeof reply === 'string' ? REPLIES[reply] : reply;
      res.writeHead(r.status, { 'content-type': 'text/plain; charset=utf-8', ...r.headers });
      res.end(r.body ?? '');
    });
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${port}`;

  const rx: Receiver = {
    port,
    base,
    url: (path = '/') => `${base}${path.startsWith('/') ? path : `/${path}`}`,
    requests,
    mode: 'ok',
    respond: undefined,
    script(modes) {
      queue = [...modes];
    },
    waitFor(n, timeoutMs = 2_000) {
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`receiver: ${requests.length} of ${n} requests after ${timeoutMs} ms`)), timeoutMs);
        const check = () => {
          if (requests.length >= n) {
            clearTimeout(timer);
            resolve();
          } else waiters.push(check);
        };
        check();
      });
    },
    reset() {
      requests.length = 0;
      queue = [];
      rx.mode = 'ok';
      rx.respond = undefined;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
  return rx;
}

/** A 127.0.0.1 URL on which nothing listens (connection refused). */
export async function deadUrl(path = '/'): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}${path}`;
}
