/**
 * A small JSON metrics server for tests (the seed's `curl …/metrics | jq '.domain_adapter_errors'`),
 * on 127.0.0.1, with fault injection.
 *
 *   const m = await startMetricsServer();
 *   m.set({ domain_adapter_errors: 3 });             // GET /metrics answers this JSON
 *   m.requireHeader('authorization', 'Bearer s3cr3t-token');  // else 401 {"error":"unauthorized"}
 *   m.fail({ status: 503, body: { error: 'overloaded' } });   // next request only (queue)
 *   m.fail({ hang: true });                                    // next request never answers
 *   m.fail({ raw: 'not json' }); m.fail({ destroy: true }); m.fail({ redirect: '/elsewhere' });
 *   m.url → "http://127.0.0.1:PORT/metrics"; m.requests → [{ method, path, query, headers, body }]
 *   await m.close();   // also ends hung requests
 *
 * Any path other than `path` (default /metrics) answers 404 {"error":"not found"}.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Fault {
  /** Answer with this status (and `body`, default {"error": "injected <status>"}). */
  status?: number;
  body?: unknown;
  /** Answer 200 with this exact text (not JSON-encoded). */
  raw?: string;
  /** Never answer (until close()). */
  hang?: boolean;
  /** Drop the connection without an answer. */
  destroy?: boolean;
  /** Answer 302 with this Location. */
  redirect?: string;
  /** Extra response headers (e.g. retry-after). */
  headers?: Record<string, string>;
}

export interface SeenRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface MetricsServer {
  url: string;
  base: string;
  requests: SeenRequest[];
  /** The document GET /metrics answers with (JSON-encoded). */
  set(doc: unknown): void;
  /** Require this header value; other requests get 401. No arguments: require nothing. */
  requireHeader(name?: string, value?: string): void;
  /** Queue a fault for the next request (faults are used once each, in order). */
  fail(f: Fault): void;
  close(): Promise<void>;
}

export async function startMetricsServer(opts: { path?: string } = {}): Promise<MetricsServer> {
  const path = opts.path ?? '/metrics';
  let doc: unknown = {};
  let required: [string, string] | undefined;
  const faults: Fault[] = [];
  const requests: SeenRequest[] = [];
  const hung = new Set<ServerResponse>();

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://fake');
      requests.push({ method: req.method ?? '', path: u.pathname, query: Object.fromEntries(u.searchParams), headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const send = (status: number, text: string, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)), ...headers });
        res.end(text);
      };
      const f = faults.shift();
      if (f) {
        if (f.hang) return void hung.add(res);
        if (f.destroy) return void req.socket.destroy();
        if (f.redirect) return send(302, '', { location: f.redirect, ...f.headers });
        if (f.raw !== undefined) return send(f.status ?? 200, f.raw, f.headers);
        if (f.status) return send(f.status, JSON.stringify(f.body ?? { error: `injected ${f.status}` }), f.headers);
      }
      if (u.pathname !== path) return send(404, JSON.stringify({ error: 'not found' }));
      if (required && req.headers[required[0]] !== required[1]) return send(401, JSON.stringify({ error: 'unauthorized' }));
      send(200, JSON.stringify(doc));
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${base}${path}`,
    base,
    requests,
    set: (d) => void (doc = d),
    requireHeader: (name, value) => void (required = name === undefined ? undefined : [name.toLowerCase(), value ?? '']),
    fail: (f) => void faults.push(f),
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of hung) r.destroy();
        hung.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
