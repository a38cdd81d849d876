/**
 * FAKE LaunchDarkly REST API (v2) for tests — NOT LaunchDarkly.
 *
 * Built from LaunchDarkly's published API documentation ("Get feature flag",
 * "Update feature flag" with semantic patch, the flag representation and error bodies); no
 * LaunchDarkly server can run here. It implements only what the launchdarkly adapter uses, and
 * is strict about it, so the adapter cannot pass by accident:
 *
 *   GET   /api/v2/flags/{projectKey}/{flagKey}[?env=a,b]   flag representation; `env` filters
 *                                                           the `environments` object
 *   PATCH /api/v2/flags/{projectKey}/{flagKey}             semantic patch only: requires
 *         Content-Type: application/json; domain-model=launchdarkly.semanticpatch
 *         body { environmentKey, comment?, instructions: [{kind, ...}] }
 *         kinds: turnFlagOn, turnFlagOff, updateFallthroughVariationOrRollout (variationId |
 *         rolloutWeights{variationId: thousandths} summing to 100000 + rolloutBucketBy +
 *         rolloutContextKind), updateOffVariation, addTargets, removeTargets, replaceTargets,
 *         clearTargets, addRule (clauses + variationId | rolloutWeights…, description,
 *         beforeRuleId: added before that rule, else last),
 *         removeRule (ruleId), updateRuleVariationOrRollout (ruleId + variationId |
 *         rolloutWeights…), addVariation (value, name?, description? — flag-level: no
 *         environmentKey needed; refused on boolean flags, which have only true and false, and
 *         for a value of another type than the flag's variations, which LaunchDarkly cannot
 *         change). Instructions are applied all-or-nothing.
 *
 * Every request needs `Authorization: <token>` (LaunchDarkly takes the bare access token).
 * Errors use the documented body `{ "code": "...", "message": "..." }`:
 *   400 invalid_request, 401 unauthorized, 404 not_found, 409 optimistic_locking_error (via
 *   failNext), 429 rate_limited (via failNext; sends Retry-After and X-Ratelimit-Reset).
 *
 * Flag representation (per environment): `on`, `targets` (context kind user), `contextTargets`
 * (other kinds), `rules` = [{_id, description, clauses: [{_id, contextKind, attribute, op,
 * values, negate}], variation | rollout, trackEvents}], `fallthrough` = {variation: index} | {rollout: {variations: [{variation:
 * index, weight}], bucketBy, contextKind}}, `offVariation`, `version`, `_summary` omitted.
 * Rollout variations reference variation *indexes*; instructions reference variation `_id`s.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';

export const SEMANTIC_PATCH_TYPE = 'application/json; domain-model=launchdarkly.semanticpatch';

/** Clause operators of LaunchDarkly's flag rules (documented list). */
const CLAUSE_OPS = new Set(['in', 'endsWith', 'startsWith', 'matches', 'contains', 'lessThan', 'lessThanOrEqual', 'greaterThan', 'greaterThanOrEqual', 'before', 'after', 'segmentMatch', 'semVerEqual', 'semVerLessThan', 'semVerGreaterThan']);

export interface FakeLdTarget {
  values: string[];
  variation: number;
  contextKind: string;
}
export interface FakeLdRollout {
  variations: Array<{ variation: number; weight: number }>;
  bucketBy?: string;
  contextKind?: string;
}
export interface FakeLdRule {
  _id: string;
  description?: string;
  clauses: Array<{ _id: string; contextKind: string; attribute: string; op: string; values: unknown[]; negate: boolean }>;
  variation?: number;
  rollout?: FakeLdRollout;
  trackEvents: boolean;
}
export interface FakeLdEnvironment {
  on: boolean;
  archived: boolean;
  salt: string;
  lastModified: number;
  version: number;
  targets: FakeLdTarget[];
  contextTargets: FakeLdTarget[];
  rules: FakeLdRule[];
  fallthrough: { variation?: number; rollout?: { variations: Array<{ variation: number; weight: number }>; bucketBy?: string; contextKind?: string } };
  offVariation: number;
  prerequisites: unknown[];
}
export interface FakeLdFlag {
  key: string;
  name: string;
  kind: 'boolean' | 'multivariate';
  _version: number;
  creationDate: number;
  variations: Array<{ _id: string; value: unknown; name?: string; description?: string }>;
  temporary: boolean;
  tags: string[];
  archived: boolean;
  environments: Record<string, FakeLdEnvironment>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface Fault {
  status: 400 | 401 | 403 | 404 | 409 | 429 | 500 | 503;
  /** For 429: seconds sent in Retry-After (default 1). */
  retryAfterSec?: number;
  /** Only requests with this method trigger (and consume) the fault. */
  method?: 'GET' | 'PATCH';
}

export interface LaunchDarklyFake {
  url: string;
  token: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  /** Create (or reset) a boolean flag in the project, off in every environment, serving false. */
  seedFlag(projectKey: string, flagKey: string, opts?: { variations?: unknown[] }): FakeLdFlag;
  flag(projectKey: string, flagKey: string): FakeLdFlag | undefined;
  /** The next `n` requests (of `fault.method`, if set) fail with this status and a documented error body. */
  failNext(n: number, fault: Fault): void;
  /** Drop all flags, faults and recorded requests. */
  reset(): void;
  close(): Promise<void>;
}

const ERROR_CODES: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'optimistic_locking_error',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  500: 'internal_server_error',
  503: 'service_unavailable',
};
const ERROR_MESSAGES: Record<number, string> = {
  401: 'Invalid access token',
  404: 'Unknown resource',
  409: 'The resource was modified by another request. Reload and try again.',
  429: "You've exceeded the API rate limit. Try again later.",
  500: 'Internal server error',
  503: 'Service unavailable',
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startLaunchDarklyFake(opts: { token?: string; environments?: string[]; projects?: string[] } = {}): Promise<LaunchDarklyFake> {
  const token = opts.token ?? `api-${randomUUID()}`;
  const environments = opts.environments ?? ['production', 'test'];
  const projects = new Set(opts.projects ?? ['default']);
  const flags = new Map<string, FakeLdFlag>(); // `${project}/${key}`
  const requests: RecordedRequest[] = [];
  let faults: Fault[] = [];

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };
  const sendError = (res: ServerResponse, status: number, message?: string, headers: Record<string, string> = {}) =>
    send(res, status, { code: ERROR_CODES[status] ?? 'error', message: message ?? ERROR_MESSAGES[status] ?? 'Error' }, headers);

  const newEnv = (): FakeLdEnvironment => ({
    on: false,
    archived: false,
    salt: randomUUID().replace(/-/g, ''),
    lastModified: Date.now(),
    version: 1,
    targets: [],
    contextTargets: [],
    rules: [],
    fallthrough: { variation: 1 },
    offVariation: 1,
    prerequisites: [],
  });

  const seedFlag = (projectKey: string, flagKey: string, o: { variations?: unknown[] } = {}): FakeLdFlag => {
    projects.add(projectKey);
    const values = o.variations ?? [true, false];
    const flag: FakeLdFlag = {
      key: flagKey,
      name: flagKey,
      kind: values.every((v) => typeof v === 'boolean') ? 'boolean' : 'multivariate',
      _version: 1,
      creationDate: Date.now(),
      variations: values.map((value) => ({ _id: randomUUID(), value })),
      temporary: true,
      tags: [],
      archived: false,
      environments: Object.fromEntries(environments.map((e) => [e, newEnv()])),
    };
    flags.set(`${projectKey}/${flagKey}`, flag);
    return flag;
  };

  const readBody = (req: IncomingMessage) =>
    new Promise<string>((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  /** Apply instructions to a deep copy; throws HttpError(400) on the first bad instruction. */
  const applyInstructions = (flag: FakeLdFlag, envKey: unknown, instructions: unknown): FakeLdFlag => {
    if (!Array.isArray(instructions) || instructions.length === 0) throw new HttpError(400, 'instructions must be a non-empty array');
    const copy = structuredClone(flag);
    const idxOf = (id: unknown): number => {
      const i = copy.variations.findIndex((v) => v._id === id);
      if (i < 0) throw new HttpError(400, `unknown variation id: ${String(id)}`);
      return i;
    };
    for (const raw of instructions as Array<Record<string, unknown>>) {
      if (!raw || typeof raw !== 'object' || typeof raw.kind !== 'string') throw new HttpError(400, 'each instruction needs a string "kind"');
      if (raw.kind === 'addVariation') {
        // "Adds a variation to the flag." Parameters: value; name (optional); description (optional).
        if (!('value' in raw) || raw.value === undefined) throw new HttpError(400, 'addVariation needs a value');
        if (copy.kind === 'boolean') throw new HttpError(400, 'boolean flags have exactly two variations, true and false');
        const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'json' : typeof v === 'object' ? 'json' : typeof v);
        const type = copy.variations.length ? typeOf(copy.variations[0]!.value) : typeOf(raw.value);
        if (typeOf(raw.value) !== type) throw new HttpError(400, `variation values of this flag are ${type}; a flag's variation type cannot change`);
        if (raw.name !== undefined && typeof raw.name !== 'string') throw new HttpError(400, 'name must be a string');
        if (raw.description !== undefined && typeof raw.description !== 'string') throw new HttpError(400, 'description must be a string');
        copy.variations.push({ _id: randomUUID(), value: raw.value, ...(raw.name ? { name: raw.name as string } : {}), ...(raw.description ? { description: raw.description as string } : {}) });
        continue;
      }
      if (typeof envKey !== 'string' || envKey === '') throw new HttpError(400, `instruction ${raw.kind} requires environmentKey`);
      const env = copy.environments[envKey];
      if (!env) throw new HttpError(400, `environment "${envKey}" not found`);
      const kindOf = (v: unknown) => (v === undefined ? 'user' : typeof v === 'string' && v ? v : (() => { throw new HttpError(400, 'contextKind must be a string'); })());
      const valuesOf = (v: unknown): string[] => {
        if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && x)) throw new HttpError(400, `${raw.kind}: values must be a non-empty array of strings`);
        return v as string[];
      };
      const listFor = (kind: string) => (kind === 'user' ? env.targets : env.contextTargets);
      /** `variationId`, or `rolloutWeights` {variationId: thousandths} summing to 100000 (+ bucketBy, contextKind). */
      const variationOrRollout = (): { variation: number } | { rollout: FakeLdRollout } => {
        if (raw.variationId !== undefined) {
          if (raw.rolloutWeights !== undefined) throw new HttpError(400, 'set either variationId or rolloutWeights, not both');
          return { variation: idxOf(raw.variationId) };
        }
        const w = raw.rolloutWeights;
        if (!w || typeof w !== 'object' || Array.isArray(w)) throw new HttpError(400, `${raw.kind} needs variationId or rolloutWeights`);
        let sum = 0;
        const variations: Array<{ variation: number; weight: number }> = [];
        for (const [id, weight] of Object.entries(w as Record<string, unknown>)) {
          if (typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > 100_000) {
            throw new HttpError(400, `rollout weight for ${id} must be an integer from 0 to 100000 (thousandths of a percent)`);
          }
          variations.push({ variation: idxOf(id), weight });
          sum += weight;
        }
        if (sum !== 100_000) throw new HttpError(400, `rollout weights must sum to 100000, got ${sum}`);
        if (raw.rolloutBucketBy !== undefined && typeof raw.rolloutBucketBy !== 'string') throw new HttpError(400, 'rolloutBucketBy must be a string');
        variations.sort((a, b) => a.variation - b.variation);
        return { rollout: { variations, ...(raw.rolloutBucketBy ? { bucketBy: raw.rolloutBucketBy as string } : {}), contextKind: kindOf(raw.rolloutContextKind) } };
      };
      switch (raw.kind) {
        case 'turnFlagOn':
          env.on = true;
          break;
        case 'turnFlagOff':
          env.on = false;
          break;
        case 'updateOffVariation':
          env.offVariation = idxOf(raw.variationId);
          break;
        case 'updateFallthroughVariationOrRollout':
          env.fallthrough = variationOrRollout();
          break;
        case 'addRule': {
          if (!Array.isArray(raw.clauses) || raw.clauses.length === 0) throw new HttpError(400, 'addRule needs a non-empty clauses array');
          const clauses = (raw.clauses as Array<Record<string, unknown>>).map((c) => {
            if (!c || typeof c.attribute !== 'string' || !c.attribute) throw new HttpError(400, 'each clause needs an attribute');
            if (typeof c.op !== 'string' || !CLAUSE_OPS.has(c.op)) throw new HttpError(400, `unknown clause op: ${String(c.op)}`);
            if (!Array.isArray(c.values) || c.values.length === 0) throw new HttpError(400, 'each clause needs a non-empty values array');
            if (c.negate !== undefined && typeof c.negate !== 'boolean') throw new HttpError(400, 'negate must be a boolean');
            return { _id: randomUUID(), contextKind: kindOf(c.contextKind), attribute: c.attribute, op: c.op, values: c.values as unknown[], negate: c.negate === true };
          });
          if (raw.description !== undefined && typeof raw.description !== 'string') throw new HttpError(400, 'description must be a string');
          const rule = { _id: randomUUID(), ...(raw.description ? { description: raw.description as string } : {}), clauses, ...variationOrRollout(), trackEvents: false };
          // Documented: "If you set beforeRuleId, this adds the new rule before the indicated rule. Otherwise, adds the new rule to the end of the list."
          if (raw.beforeRuleId !== undefined) {
            const at = env.rules.findIndex((r) => r._id === raw.beforeRuleId);
            if (at < 0) throw new HttpError(400, `rule not found: ${String(raw.beforeRuleId)}`);
            env.rules.splice(at, 0, rule);
          } else env.rules.push(rule);
          break;
        }
        case 'removeRule': {
          const i = env.rules.findIndex((r) => r._id === raw.ruleId);
          if (i < 0) throw new HttpError(400, `rule not found: ${String(raw.ruleId)}`);
          env.rules.splice(i, 1);
          break;
        }
        case 'updateRuleVariationOrRollout': {
          const rule = env.rules.find((r) => r._id === raw.ruleId);
          if (!rule) throw new HttpError(400, `rule not found: ${String(raw.ruleId)}`);
          delete rule.variation;
          delete rule.rollout;
          Object.assign(rule, variationOrRollout());
          break;
        }
        case 'addTargets': {
          const kind = kindOf(raw.contextKind);
          const variation = idxOf(raw.variationId);
          const values = valuesOf(raw.values);
          const list = listFor(kind);
          for (const v of values) {
            const elsewhere = list.find((t) => t.contextKind === kind && t.variation !== variation && t.values.includes(v));
            if (elsewhere) throw new HttpError(400, `context key ${v} is already targeted by variation ${elsewhere.variation}`);
          }
          let t = list.find((x) => x.contextKind === kind && x.variation === variation);
          if (!t) list.push((t = { values: [], variation, contextKind: kind }));
          for (const v of values) if (!t.values.includes(v)) t.values.push(v);
          break;
        }
        case 'removeTargets': {
          const kind = kindOf(raw.contextKind);
          const variation = idxOf(raw.variationId);
          const values = valuesOf(raw.values);
          const list = listFor(kind);
          const t = list.find((x) => x.contextKind === kind && x.variation === variation);
          if (t) t.values = t.values.filter((v) => !values.includes(v));
          if (t && t.values.length === 0) list.splice(list.indexOf(t), 1);
          break;
        }
        case 'clearTargets': {
          const variation = idxOf(raw.variationId);
          env.targets = env.targets.filter((t) => t.variation !== variation);
          env.contextTargets = env.contextTargets.filter((t) => t.variation !== variation);
          break;
        }
        case 'replaceTargets': {
          if (!Array.isArray(raw.targets)) throw new HttpError(400, 'replaceTargets needs targets');
          env.targets = [];
          env.contextTargets = [];
          for (const t of raw.targets as Array<Record<string, unknown>>) {
            const kind = kindOf(t.contextKind);
            listFor(kind).push({ values: valuesOf(t.values), variation: idxOf(t.variationId), contextKind: kind });
          }
          break;
        }
        default:
          throw new HttpError(400, `unsupported instruction kind: ${raw.kind}`);
      }
      env.version += 1;
      env.lastModified = Date.now();
    }
    copy._version += 1;
    return copy;
  };

  const represent = (flag: FakeLdFlag, envFilter: string | null) => {
    if (!envFilter) return flag;
    const keep = envFilter.split(',').map((s) => s.trim());
    return { ...flag, environments: Object.fromEntries(Object.entries(flag.environments).filter(([k]) => keep.includes(k))) };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://fake');
    requests.push({ method: req.method ?? '', path: url.pathname + url.search, headers: req.headers, body });

    const fi = faults.findIndex((f) => !f.method || f.method === req.method);
    const fault = fi >= 0 ? faults.splice(fi, 1)[0] : undefined;
    if (fault) {
      const headers: Record<string, string> = {};
      if (fault.status === 429) {
        const secs = fault.retryAfterSec ?? 1;
        headers['retry-after'] = String(secs);
        headers['x-ratelimit-reset'] = String(Date.now() + secs * 1000);
      }
      return sendError(res, fault.status, undefined, headers);
    }

    if (req.headers.authorization !== token) return sendError(res, 401);

    const m = /^\/api\/v2\/flags\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (!m) return sendError(res, 404);
    const project = decodeURIComponent(m[1]!);
    const key = decodeURIComponent(m[2]!);
    if (!projects.has(project)) return sendError(res, 404);
    const flag = flags.get(`${project}/${key}`);

    if (req.method === 'GET') {
      if (!flag) return sendError(res, 404);
      return send(res, 200, represent(flag, url.searchParams.get('env')));
    }
    if (req.method === 'PATCH') {
      const type = String(req.headers['content-type'] ?? '').toLowerCase().replace(/\s+/g, '');
      if (!type.startsWith('application/json') || !type.includes('domain-model=launchdarkly.semanticpatch')) {
        return sendError(res, 400, 'this fake implements semantic patch only: Content-Type must be "application/json; domain-model=launchdarkly.semanticpatch"');
      }
      if (!flag) return sendError(res, 404);
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(body) as Record<string, unknown>;
      } catch {
        return sendError(res, 400, 'request body is not valid JSON');
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return sendError(res, 400, 'request body must be a JSON object');
      try {
        const updated = applyInstructions(flag, parsed.environmentKey, parsed.instructions);
        flags.set(`${project}/${key}`, updated);
        return send(res, 200, updated);
      } catch (err) {
        if (err instanceof HttpError) return sendError(res, err.status, err.message);
        throw err;
      }
    }
    return sendError(res, 405, `method ${req.method} not allowed`);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, String(err));
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    requests,
    seedFlag,
    flag: (p, k) => flags.get(`${p}/${k}`),
    failNext(n, fault) {
      for (let i = 0; i < n; i++) faults.push(fault);
    },
    reset() {
      flags.clear();
      faults = [];
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
