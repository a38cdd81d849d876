/**
 * FAKE of the feature-flag REST API described in seed 004 ("Feature Flag Rollout Guide") — for
 * tests of the `http` flag backend and its `feature-flags-api` preset. Loopback only.
 *
 * Endpoints, with the shapes the guide's curl examples use:
 *
 *   GET    /feature-flags                          {"flags": [Flag, ...]}
 *   GET    /feature-flags/{flag}                   Flag, or 404 {"error": "flag x not found"}
 *   PUT    /feature-flags/{flag}                   upsert; body: any of {"enabled": bool,
 *                                                  "percentage": 0..100, "strategy": "percentage"
 *                                                  | "ring", "rings": {ring: 0..100}}; absent keys
 *                                                  keep their value (the guide's
 *                                                  `PUT -d '{"percentage": 50}'`); a percentage
 *                                                  without a strategy means strategy "percentage"
 *                                                  (the guide's percentage PUTs send none). → Flag
 *   POST   /feature-flags/rollout/{flag}/increase  {"increase_by": n} (default 10), capped at 100
 *   POST   /feature-flags/freeze/{flag}            freeze the percentage → Flag
 *   DELETE /feature-flags/freeze/{flag}            unfreeze (not in the guide; test extension)
 *   POST   /feature-flags/toggle                   {"flag": name, "enabled": bool} → Flag
 *   POST   /feature-flags/bulk-update              [{"name": ..., "enabled"?, "percentage"?}, ...]
 *                                                  all-or-nothing → {"updated": [Flag, ...]}
 *   POST   /feature-flags/evaluate                 {"context": {"user_id": ...}} → {"flags": {name: bool}}
 *
 * Flag = {"name", "enabled", "percentage", "strategy", "rings", "variants"?, "frozen", "updated_at"} (variants: an A/B split {"control": 50, …} summing to 100).
 *
 * Rules the fake enforces so an adapter cannot pass by accident:
 *   - `Authorization: Bearer <token>` on every request when a token is configured, else 401
 *     {"error": "invalid or missing API token"};
 *   - bodies must be JSON (Content-Type application/json) and well-formed → 400 otherwise;
 *     unknown fields, wrong types and percentages outside 0..100 → 400 with the reason;
 *   - a frozen flag refuses percentage/strategy/rings changes and increases with 409
 *     {"error": "flag x is frozen"}; turning it off is always allowed (emergency disable).
 *
 * Fault injection (failNext): the next n requests (optionally only of one method / whose path
 * contains a string) get an HTTP error status (429 carries Retry-After), a delay longer than the
 * client's timeout ("timeout"), a 200 with a truncated JSON body ("malformed"), or a dropped
 * connection ("reset").
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeFlag {
  name: string;
  enabled: boolean;
  percentage: number;
  strategy: 'percentage' | 'ring';
  rings: Record<string, number>;
  /** An A/B split as seed 004 writes it: {"control": 50, "treatment": 50} (absent: none). */
  variants?: Record<string, number>;
  frozen: boolean;
  updated_at: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export type FaultSpec =
  | { status: number; message?: string; retryAfterSec?: number; method?: string; path?: string }
  | { kind: 'timeout'; delayMs?: number; method?: string; path?: string }
  | { kind: 'malformed'; method?: string; path?: string }
  | { kind: 'reset'; method?: string; path?: string };

export interface FlagApiFake {
  url: string;
  token: string | undefined;
  requests: RecordedRequest[];
  flags: Map<string, FakeFlag>;
  seed(name: string, init?: Partial<Omit<FakeFlag, 'name'>>): FakeFlag;
  failNext(n: number, fault: FaultSpec): void;
  /** Faults still waiting to fire. */
  pendingFaults(): number;
  reset(): void;
  close(): Promise<void>;
}

const DEFAULT_MESSAGES: Record<number, string> = {
  400: 'bad request',
  401: 'invalid or missing API token',
  403: 'forbidden',
  404: 'not found',
  409: 'conflict',
  429: 'rate limit exceeded, slow down',
  500: 'internal server error',
  502: 'bad gateway',
  503: 'service temporarily unavailable',
};

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const PUT_FIELDS = new Set(['enabled', 'percentage', 'strategy', 'rings', 'variants']);

function checkPct(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100) throw new ApiError(400, `${what} must be a number from 0 to 100`);
  return v;
}

export async function startFlagApiFake(opts: { token?: string } = {}): Promise<FlagApiFake> {
  const token = opts.token;
  const flags = new Map<string, FakeFlag>();
  const requests: RecordedRequest[] = [];
  let faults: FaultSpec[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const newFlag = (name: string): FakeFlag => ({
    name,
    enabled: false,
    percentage: 0,
    strategy: 'percentage',
    rings: {},
    frozen: false,
    updated_at: new Date().toISOString(),
  });

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  const parseJson = (req: IncomingMessage, body: string): unknown => {
    const type = String(req.headers['content-type'] ?? '');
    if (!type.toLowerCase().startsWith('application/json')) throw new ApiError(400, 'Content-Type must be application/json');
    try {
      return JSON.parse(body);
    } catch {
      throw new ApiError(400, 'request body is not valid JSON');
    }
  };

  /** Validate a PUT-style update against a flag; returns the updated copy. */
  const update = (current: FakeFlag, raw: unknown, allowName = false): FakeFlag => {
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ApiError(400, 'body must be a JSON object');
    const body = raw as Record<string, unknown>;
    for (const k of Object.keys(body)) {
      if (!PUT_FIELDS.has(k) && !(allowName && k === 'name')) throw new ApiError(400, `unknown field "${k}"`);
    }
    const next = structuredClone(current);
    if (body.enabled !== undefined) {
      if (typeof body.enabled !== 'boolean') throw new ApiError(400, 'enabled must be a boolean');
      next.enabled = body.enabled;
    }
    if (body.percentage !== undefined) next.percentage = checkPct(body.percentage, 'percentage');
    if (body.percentage !== undefined && body.strategy === undefined && body.rings === undefined) next.strategy = 'percentage';
    if (body.strategy !== undefined) {
      if (body.strategy !== 'percentage' && body.strategy !== 'ring') throw new ApiError(400, 'strategy must be "percentage" or "ring"');
      next.strategy = body.strategy;
    }
    if (body.rings !== undefined) {
      if (!body.rings || typeof body.rings !== 'object' || Array.isArray(body.rings)) throw new ApiError(400, 'rings must be an object');
      const rings: Record<string, number> = {};
      for (const [k, v] of Object.entries(body.rings as Record<string, unknown>)) rings[k] = checkPct(v, `rings.${k}`);
      next.rings = rings;
    }
    if (body.variants !== undefined) {
      if (!body.variants || typeof body.variants !== 'object' || Array.isArray(body.variants)) throw new ApiError(400, 'variants must be an object');
      const v: Record<string, number> = {};
      for (const [k, x] of Object.entries(body.variants as Record<string, unknown>)) v[k] = checkPct(x, `variants.${k}`);
      const sum = Object.values(v).reduce((a, b) => a + b, 0);
      if (Math.abs(sum - 100) > 0.005) throw new ApiError(400, `variants add up to ${sum}, not 100`);
      next.variants = v;
    }
    if (current.frozen && (next.percentage !== current.percentage || next.strategy !== current.strategy || JSON.stringify(next.rings) !== JSON.stringify(current.rings))) {
      throw new ApiError(409, `flag ${current.name} is frozen`);
    }
    next.updated_at = new Date().toISOString();
    return next;
  };

  const getFlag = (name: string): FakeFlag => {
    const f = flags.get(name);
    if (!f) throw new ApiError(404, `flag ${name} not found`);
    return f;
  };

  const inRollout = (flag: string, user: string, pct: number): boolean => {
    let h = 2166136261;
    for (const ch of `${flag}:${user}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
    return (h % 10000) / 100 < pct;
  };

  const route = async (req: IncomingMessage, url: URL, body: string, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] !== 'feature-flags') throw new ApiError(404, `no route for ${method} ${url.pathname}`);
    const rest = parts.slice(1);

    if (rest.length === 0 && method === 'GET') return send(res, 200, { flags: [...flags.values()] });
    if (rest.length === 1 && rest[0] === 'toggle' && method === 'POST') {
      const b = parseJson(req, body) as Record<string, unknown>;
      if (!b || typeof b.flag !== 'string' || typeof b.enabled !== 'boolean') throw new ApiError(400, 'toggle needs {"flag": string, "enabled": boolean}');
      const f = update(getFlag(b.flag), { enabled: b.enabled });
      flags.set(f.name, f);
      return send(res, 200, f);
    }
    if (rest.length === 1 && rest[0] === 'bulk-update' && method === 'POST') {
      const b = parseJson(req, body);
      if (!Array.isArray(b)) throw new ApiError(400, 'bulk-update needs a JSON array');
      const staged = new Map<string, FakeFlag>();
      for (const item of b as Array<Record<string, unknown>>) {
        if (!item || typeof item.name !== 'string') throw new ApiError(400, 'each bulk-update item needs a "name"');
        const { name, ...fields } = item;
        staged.set(name as string, update(staged.get(name as string) ?? getFlag(name as string), fields));
      }
      for (const [k, v] of staged) flags.set(k, v);
      return send(res, 200, { updated: [...staged.values()] });
    }
    if (rest.length === 1 && rest[0] === 'evaluate' && (method === 'POST' || method === 'GET')) {
      const b = parseJson(req, body) as { context?: Record<string, unknown> };
      const user = String(b?.context?.user_id ?? '');
      const out: Record<string, boolean> = {};
      for (const f of flags.values()) out[f.name] = f.enabled && user !== '' && inRollout(f.name, user, f.percentage);
      return send(res, 200, { flags: out });
    }
    if (rest.length === 2 && rest[0] === 'freeze' && (method === 'POST' || method === 'DELETE')) {
      const f = { ...getFlag(rest[1]!), frozen: method === 'POST', updated_at: new Date().toISOString() };
      flags.set(f.name, f);
      return send(res, 200, f);
    }
    if (rest.length === 3 && rest[0] === 'rollout' && rest[2] === 'increase' && method === 'POST') {
      const cur = getFlag(rest[1]!);
      const b = body.trim() ? (parseJson(req, body) as Record<string, unknown>) : {};
      const by = b.increase_by ?? 10;
      if (typeof by !== 'number' || !Number.isFinite(by) || by < 0) throw new ApiError(400, 'increase_by must be a non-negative number');
      const f = update(cur, { percentage: Math.min(100, cur.percentage + by) });
      flags.set(f.name, f);
      return send(res, 200, f);
    }
    if (rest.length === 1) {
      const name = rest[0]!;
      if (method === 'GET') return send(res, 200, getFlag(name));
      if (method === 'PUT') {
        const b = parseJson(req, body);
        const f = update(flags.get(name) ?? newFlag(name), b);
        flags.set(name, f);
        return send(res, 200, f);
      }
      throw new ApiError(405, `method ${method} not allowed on /feature-flags/${name}`);
    }
    throw new ApiError(404, `no route for ${method} ${url.pathname}`);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://fake');
    requests.push({ method: req.method ?? '', path: url.pathname + url.search, headers: req.headers, body });

    const fi = faults.findIndex((f) => (!f.method || f.method === req.method) && (!f.path || url.pathname.includes(f.path)));
    const fault = fi >= 0 ? faults.splice(fi, 1)[0] : undefined;
    if (fault) {
      if ('status' in fault) {
        const headers: Record<string, string> = {};
        if (fault.status === 429 || fault.retryAfterSec !== undefined) headers['retry-after'] = String(fault.retryAfterSec ?? 1);
        return send(res, fault.status, { error: fault.message ?? DEFAULT_MESSAGES[fault.status] ?? 'error' }, headers);
      }
      if (fault.kind === 'reset') return void req.socket.destroy();
      if (fault.kind === 'malformed') {
        const text = '{"name": "x", "enabled": tru';
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        return void res.end(text);
      }
      // timeout: answer (correctly) only after the delay, long after the client gave up
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          timers.delete(t);
          resolve();
        }, fault.delayMs ?? 5_000);
        timers.add(t);
      });
      if (res.destroyed) return;
    }

    if (token !== undefined && req.headers.authorization !== `Bearer ${token}`) {
      return send(res, 401, { error: DEFAULT_MESSAGES[401] });
    }
    try {
      await route(req, url, body, res);
    } catch (err) {
      if (err instanceof ApiError) return send(res, err.status, { error: err.message });
      throw err;
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) send(res, 500, { error: String(err) });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    requests,
    flags,
    seed(name, init = {}) {
      const f = { ...newFlag(name), ...init };
      flags.set(name, f);
      return f;
    },
    failNext(n, fault) {
      for (let i = 0; i < n; i++) faults.push(fault);
    },
    pendingFaults: () => faults.length,
    reset() {
      flags.clear();
      faults = [];
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
