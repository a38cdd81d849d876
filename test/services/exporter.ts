/**
 * A tiny Prometheus exporter for tests: GET /metrics serves gauges in the text format; the
 * test sets them with set(), and tests in other processes (vitest workers, CLI children) with
 * `POST /set {"name","value","labels"?}` (see setExporterGauge). One exporter is shared by the
 * whole run: give each test its own metric names. Values may be NaN / ±Inf.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface Exporter {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT (a Prometheus scrape target) */
  hostPort: string;
  set(name: string, value: number, labels?: Record<string, string>): void;
  /** Forget one metric (all its series), or every metric. */
  reset(name?: string): void;
  stop(): Promise<void>;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
const escapeLabel = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

function validate(name: unknown, value: unknown, labels: unknown): string | undefined {
  if (typeof name !== 'string' || !METRIC_NAME.test(name)) return `bad metric name ${JSON.stringify(name)}`;
  if (typeof value !== 'number' && !(typeof value === 'string' && /^(NaN|[+-]?Inf)$/.test(value))) return 'value must be a number (or "NaN", "+Inf", "-Inf")';
  if (labels !== undefined) {
    if (!labels || typeof labels !== 'object' || Array.isArray(labels)) return 'labels must be an object';
    for (const [k, v] of Object.entries(labels)) {
      if (!LABEL_NAME.test(k) || k.startsWith('__')) return `bad label name ${JSON.stringify(k)}`;
      if (typeof v !== 'string') return `label ${k} must be a string`;
    }
  }
  return undefined;
}

function toNumber(v: number | string): number {
  if (typeof v === 'number') return v;
  return v === 'NaN' ? NaN : v.startsWith('-') ? -Infinity : Infinity;
}

export async function startExporter(): Promise<Exporter> {
  // name → (sorted label string → {labels, value})
  const metrics = new Map<string, Map<string, { labels: Record<string, string>; value: number }>>();

  const set = (name: string, value: number, labels: Record<string, string> = {}) => {
    const err = validate(name, value, labels);
    if (err) throw new Error(`exporter: ${err}`);
    const key = Object.keys(labels)
      .sort()
      .map((k) => `${k}="${escapeLabel(labels[k]!)}"`)
      .join(',');
    let series = metrics.get(name);
    if (!series) metrics.set(name, (series = new Map()));
    series.set(key, { labels, value });
  };
  const reset = (name?: string) => (name === undefined ? metrics.clear() : void metrics.delete(name));

  const render = () => {
    const lines: string[] = [];
    for (const [name, series] of [...metrics].sort(([a], [b]) => a.localeCompare(b))) {
      lines.push(`# TYPE ${name} gauge`);
      for (const [key, { value }] of series) lines.push(`${name}${key ? `{${key}}` : ''} ${formatValue(value)}`);
    }
    return lines.join('\n') + '\n';
  };

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      let s = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => {
        s += c;
        if (s.length > 1_000_000) req.destroy(new Error('body too large'));
      });
      req.on('end', () => resolve(s));
      req.on('error', reject);
    });

  const reply = (res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8') => {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };

  const server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'GET' && path === '/metrics') return reply(res, 200, render(), 'text/plain; version=0.0.4; charset=utf-8');
      if (req.method === 'GET' && path === '/health') return reply(res, 200, 'ok\n');
      if (req.method === 'POST' && (path === '/set' || path === '/reset')) {
        let body: Record<string, unknown> = {};
        try {
          const text = await readBody(req);
          body = text.trim() ? (JSON.parse(text) as Record<string, unknown>) : {};
        } catch (e) {
          return reply(res, 400, `bad JSON: ${(e as Error).message}\n`);
        }
        if (path === '/reset') {
          reset(typeof body.name === 'string' ? body.name : undefined);
          return reply(res, 200, 'ok\n');
        }
        const err = validate(body.name, body.value, body.labels);
        if (err) return reply(res, 400, `${err}\n`);
        set(body.name as string, toNumber(body.value as number | string), body.labels as Record<string, string> | undefined);
        return reply(res, 200, 'ok\n');
      }
      return reply(res, 404, 'not found\n');
    })().catch((e: unknown) => reply(res, 500, `${(e as Error).message}\n`));
  });
  server.keepAliveTimeout = 1000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (!addr || typeof addr !== 'object') throw new Error('exporter: no address');
  const hostPort = `127.0.0.1:${addr.port}`;
  return {
    url: `http://${hostPort}`,
    hostPort,
    set,
    reset,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Set a gauge on a running exporter over HTTP (from any process). */
export async function setExporterGauge(exporterUrl: string, name: string, value: number, labels?: Record<string, string>): Promise<void> {
  const v: number | string = Number.isFinite(value) ? value : Number.isNaN(value) ? 'NaN' : value > 0 ? '+Inf' : '-Inf';
  const res = await fetch(`${exporterUrl}/set`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, value: v, labels }),
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok) throw new Error(`exporter /set: HTTP ${res.status}: ${(await res.text()).trim()}`);
}
