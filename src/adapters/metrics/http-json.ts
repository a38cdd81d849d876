/**
 * http-json metrics provider: fetch a JSON document over HTTP and pick one number out of it.
 *
 *   GET {url}  →  {"domain_adapter_errors": 3, …}  →  path $.domain_adapter_errors  →  3
 *
 * Which number: the check's `query`, when it is non-empty, is the path (it overrides
 * options.path); otherwise options.path; otherwise `$` (the whole body is the number). A path is
 * a JSONPath (`$.a.b[0]`, `$['a-b']`) or a jq-style path (`.a.b[0]`, `."a-b"`, `.`), which is
 * converted to JSONPath; jq pipes and functions are not supported. So the seed
 * `curl http://api.example.com/metrics | jq '.domain_adapter_errors'` becomes
 * `url: http://api.example.com/metrics` + `query: .domain_adapter_errors`.
 *
 * Numbers and numeric strings ("0.25", "1e3") count. Missing path, null, booleans, other
 * strings, objects, arrays, NaN/Inf → value null with the reason in `note` (no-data is never
 * zero). A path matching several values is a configuration error (BackendError). The server
 * being down, answering 4xx/5xx or not with JSON → BackendError via util/http (provider name,
 * status, the server's message). A redirect is not followed: it is a BackendError naming the
 * new location.
 *
 * Secrets: header values are registered for redaction (use ${VAR} for them in the plan).
 * Credentials in the URL (https://user:pass@host/…) are sent as an Authorization: Basic
 * header (the HTTP client would silently drop them) and, like secret-looking query
 * parameters (?token=…, ?api_key=…), are registered so they never appear in errors or logs.
 */
import { JSONPath } from 'jsonpath-plus';
import { z } from 'zod';
import { httpUrl, insecureTls, warnInsecureTls } from '../options.js';
import { BackendError, UsageError, errorMessage } from '../../errors.js';
import { http } from '../../util/http.js';
import { looksSecret, redact, registerSecret, safeUrl } from '../../util/redact.js';
import type { AdapterContext, MetricQuery, MetricsProvider, MetricsProviderFactory, Reading } from '../types.js';

export const options = z.strictObject({
  url: httpUrl(),
  /** JSONPath or jq-style path to the number; the check's query overrides it when non-empty. */
  path: z.string().min(1).optional(),
  /** GET by default; POST (with `body`) for query endpoints that want one. Both are reads and are retried. */
  method: z.enum(['GET', 'POST']).default('GET'),
  /** Request body for POST: an object is sent as JSON, a string as is. */
  body: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
  /** Extra request headers (e.g. Authorization). Values are treated as secrets. */
  headers: z.record(z.string(), z.string()).optional(),
  timeoutMs: z.number().int().positive().default(10_000),
  /** Total time budget for retrying transient failures, ms (0 = no retries). */
  retryBudgetMs: z.number().int().nonnegative().default(15_000),
  insecureTls,
});
export type HttpJsonOptions = z.infer<typeof options>;

/**
 * Turn a jq-style path into JSONPath; JSONPath (starting with `$`) is returned unchanged.
 *   .a.b[0] → $.a.b[0]    . → $    ."a-b".c → $["a-b"].c    .[2] → $[2]    a.b → $.a.b
 */
export function toJsonPath(path: string): string {
  const p = path.trim();
  if (p.startsWith('$')) return p;
  if (/\|/.test(p) || /^\.?\s*[a-z_]+\s*\(/i.test(p)) {
    throw new UsageError(`http-json: path ${JSON.stringify(p)} uses jq pipes or functions, which are not supported`, {
      hint: 'Use a plain path such as .a.b[0] or a JSONPath such as $.a.b[0].',
    });
  }
  if (p === '.' || p === '') return '$';
  let rest = p.startsWith('.') ? p : `.${p}`;
  // jq's optional marker `?` and quoted keys: ."a-b" → ["a-b"]
  rest = rest.replace(/\?(?=\.|\[|$)/g, '').replace(/\.("(?:[^"\\]|\\.)*")/g, (_m, q: string) => `[${q}]`);
  // `.[0]` / `.["k"]` → `[0]` / `["k"]`
  rest = rest.replace(/\.\[/g, '[');
  return `$${rest}`;
}

const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/i;

/** A JSON value → a number, or the reason it is no data. */
export function toNumber(v: unknown): { value: number } | { reason: string } {
  if (typeof v === 'number') return Number.isFinite(v) ? { value: v } : { reason: `value is ${v}` };
  if (typeof v === 'string') {
    const s = v.trim();
    if (NUMERIC.test(s)) return { value: Number(s) };
    if (/^[+-]?(nan|inf|infinity)$/i.test(s)) return { reason: `value is ${s}` };
    return { reason: `value is a string that is not a number: ${JSON.stringify(s.slice(0, 60))}` };
  }
  if (v === null) return { reason: 'value is null' };
  if (Array.isArray(v)) return { reason: `value is an array (${v.length} items), not a number` };
  return { reason: `value is ${typeof v === 'object' ? 'an object' : `a ${typeof v}`}, not a number` };
}

/** Every value a JSONPath selects in a parsed JSON document (`$` is the document itself). */
export function pickPath(doc: unknown, jsonPath: string): unknown[] {
  // jsonpath-plus answers nothing for a falsy root (a body of 0, false or null).
  if (jsonPath === '$') return [doc];
  const found = JSONPath({ path: jsonPath, json: doc as object, wrap: true, eval: 'safe' }) as unknown[] | undefined;
  return Array.isArray(found) ? found : [];
}

/** Query parameter names whose values are secrets even when the name does not say "token". */
const SECRET_PARAMS = /^(?:key|sig|signature|code|access_token|apikey|api_key)$/i;

/**
 * Split credentials out of a URL: userinfo becomes a Basic Authorization header; secret-looking
 * query parameter values are registered for redaction. Returns the URL to request.
 */
export function prepareUrl(raw: string, headers: Record<string, string>): string {
  const u = new URL(raw);
  for (const [k, v] of u.searchParams) if (looksSecret(k) || SECRET_PARAMS.test(k)) registerSecret(v);
  if (!u.username && !u.password) return raw;
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  registerSecret(pass);
  if (user.length >= 6) registerSecret(user);
  u.username = '';
  u.password = '';
  if (!Object.keys(headers).some((h) => h.toLowerCase() === 'authorization')) {
    const basic = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    registerSecret(basic);
    headers.Authorization = basic;
  }
  return u.toString();
}

class HttpJson implements MetricsProvider {
  readonly name: string;
  private readonly headers: Record<string, string>;
  private readonly url: string;

  constructor(
    private readonly opts: HttpJsonOptions,
    ctx: AdapterContext,
  ) {
    this.name = `http-json (${safeUrl(opts.url)})`;
    this.headers = { ...opts.headers };
    for (const v of Object.values(this.headers)) registerSecret(v);
    this.url = prepareUrl(opts.url, this.headers);
    warnInsecureTls(ctx, this.name, opts.insecureTls);
    // Validate the configured path early so a bad plan fails at load, not mid-rollout.
    if (opts.path) toJsonPath(opts.path);
  }

  async query(q: MetricQuery): Promise<Reading> {
    const given = q.query.trim() || this.opts.path || '$';
    const path = toJsonPath(given);
    const res = await http({
      backend: this.name,
      method: this.opts.method,
      url: this.url,
      headers: this.headers,
      body: this.opts.method === 'POST' ? this.opts.body : undefined,
      idempotent: true, // a metrics read, even as POST
      timeoutMs: this.opts.timeoutMs,
      retryBudgetMs: this.opts.retryBudgetMs,
      insecure: this.opts.insecureTls,
    });
    if (res.status >= 300 && res.status < 400) {
      const loc = res.headers.location;
      const to = Array.isArray(loc) ? loc[0] : loc;
      throw new BackendError(this.name, `redirected${to ? ` to ${redact(to)}` : ''}; redirects are not followed`, {
        status: res.status,
        hint: 'Set url to the final address of the metrics endpoint.',
      });
    }
    const doc = res.json<unknown>();
    let found: unknown[];
    try {
      found = pickPath(doc, path);
    } catch (err) {
      throw new UsageError(`${this.name}: bad path ${JSON.stringify(given)} (${path}): ${errorMessage(err)}`);
    }
    if (found.length === 0) return { value: null, at: q.now, note: `path ${path} not found in the response` };
    if (found.length > 1) {
      throw new BackendError(this.name, `path ${path} matched ${found.length} values; it must select exactly one`, {
        hint: 'Narrow the path (e.g. add an index [0] or a more specific key).',
      });
    }
    const n = toNumber(found[0]);
    return 'value' in n ? { value: n.value, at: q.now } : { value: null, at: q.now, note: `${path}: ${n.reason}` };
  }
}

export const create: MetricsProviderFactory = (raw, ctx) => new HttpJson(options.parse(raw), ctx);
