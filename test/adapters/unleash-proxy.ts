/**
 * A loopback proxy in front of the real Unleash, for failures a real server will not produce on
 * demand: a write that lands but whose answer is lost (the connection is cut after Unleash
 * answered), or a 503 the server never saw. Records every request it forwards.
 */
import { createServer, type IncomingMessage } from 'node:http';

export interface ProxyRule {
  method: string;
  /** Matches the request path (with query). */
  path: RegExp;
  /** lose-answer: forward, then cut the connection; status: answer this without forwarding. */
  action: 'lose-answer' | { status: number; body?: string };
  /** How many matching requests this applies to. */
  times: number;
}

export interface UnleashProxy {
  url: string;
  requests: Array<{ method: string; path: string }>;
  rule(r: ProxyRule): void;
  close(): Promise<void>;
}

const readBody = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

export async function startUnleashProxy(target: string): Promise<UnleashProxy> {
  const rules: ProxyRule[] = [];
  const requests: Array<{ method: string; path: string }> = [];
  const server = createServer((req, res) => {
    void (async () => {
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      requests.push({ method, path });
      const body = await readBody(req);
      const rule = rules.find((r) => r.times > 0 && r.method === method && r.path.test(path));
      if (rule) rule.times--;
      if (rule && rule.action !== 'lose-answer') {
        const b = rule.action.body ?? JSON.stringify({ message: `proxy: injected ${rule.action.status}` });
        res.writeHead(rule.action.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(b) });
        res.end(b);
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) {
        if (typeof v === 'string' && !['host', 'connection', 'content-length', 'transfer-encoding'].includes(k)) headers[k] = v;
      }
      const up = await fetch(`${target}${path}`, {
        method,
        headers,
        body: body.length && method !== 'GET' ? body.toString('utf8') : undefined,
        signal: AbortSignal.timeout(10_000),
      });
      const text = await up.text();
      if (rule?.action === 'lose-answer') {
        req.socket.destroy(); // Unleash did it; the caller never hears.
        return;
      }
      const out: Record<string, string> = { 'content-length': String(Buffer.byteLength(text)) };
      const ct = up.headers.get('content-type');
      if (ct) out['content-type'] = ct;
      res.writeHead(up.status, out);
      res.end(text);
    })().catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy error: ${(err as Error).message}`);
    });
  });
  server.keepAliveTimeout = 500;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('proxy: no address');
  return {
    url: `http://127.0.0.1:${addr.port}`,
    requests,
    rule: (r) => void rules.push({ ...r }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
