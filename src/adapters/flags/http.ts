/**
 * `http`: a configurable REST flag backend, for in-house flag services.
 *
 *   backend:
 *     type: http
 *     baseUrl: https://api.prod
 *     auth: { tokenEnv: FLAG_API_TOKEN }          # → Authorization: Bearer $FLAG_API_TOKEN
 *     headers: { X-Team: checkout }               # more headers; ${VARS} are interpolated by the plan
 *     apply:
 *       method: PUT                               # default PUT
 *       path: /feature-flags/{{flag}}
 *       body: { enabled: "{{enabled}}", percentage: "{{percentage}}" }
 *     read:
 *       path: /feature-flags/{{flag}}             # method default GET
 *       enabledPath: $.enabled                    # JSONPath (jsonpath-plus, scripts disabled)
 *       percentagePath: $.percentage
 *
 * or simply `preset: feature-flags-api` for the API of seed 004's guide (`PUT
 * /feature-flags/{flag}` with {"enabled", "percentage"} and, for ring rollouts, {"strategy":
 * "ring", "rings"}; `GET /feature-flags/{flag}` to read). Options given next to a preset override
 * its fields one by one (e.g. only `read.percentagePath`).
 *
 * Templates
 *   - Paths: {{flag}} is URL-encoded into the path.
 *   - Bodies are JSON values (objects in the plan; a string body is parsed as JSON first). A
 *     string that is exactly one placeholder becomes that variable's JSON value: "{{percentage}}"
 *     → 25, "{{enabled}}" → true, "{{users}}" → ["a","b"]. A variable without a value drops its
 *     object key (or array element): disabling sends {"enabled": false} with no percentage.
 *     Placeholders inside a longer string are spliced in as text ("rollout to {{percentage}}%").
 *   - Variables: flag, enabled, percentage (the change's, 100 when enabled without one; absent
 *     when disabling without one), fraction (percentage / 100), users, segments, rings,
 *     stickiness, strategy ("ring" when the change has rings, else absent: seed 004 sends
 *     {"enabled", "percentage"} for percentage rollouts and adds {"strategy": "ring", "rings"}
 *     for ring ones). An unknown placeholder is an options error.
 *   - `disable` (optional) is a separate request used when a change disables the flag, for APIs
 *     with a toggle endpoint; without it `apply` is used for both.
 *   - `bulkDisable` (optional) turns many flags off in one call during a rollback: its body is a
 *     JSON array with one `item` per flag ({{flag}}, {{enabled}} = false). If it fails, every
 *     flag is written one by one.
 *   - `freeze` / `unfreeze` (optional, both or neither): called for checks with `freeze: true`
 *     when their breach pauses the run, and when the run resumes or rolls back.
 *   The `feature-flags-api` preset sets all four (seed 004's toggle, bulk-update and freeze).
 *
 * Retries: requests marked `idempotent` (default: PUT/DELETE/GET yes, POST/PATCH no) retry
 * 429/5xx/timeouts with backoff under `retryBudgetMs`, honouring Retry-After (src/util/http.ts).
 * Set `idempotent: true` on a POST only when repeating it is harmless (e.g. a toggle that states
 * the end value). 4xx other than 429 fail at once with the server's message.
 *
 * Reading: a status in `read.notFoundStatuses` (default [404]) means the flag does not exist;
 * so does an `existsPath` that finds nothing (for APIs that list all flags). JSONPaths may use
 * {{flag}} (e.g. `$.flags[?(@.name=="{{flag}}")].enabled`, jsonpath-plus's safe evaluator).
 * `enabledPath` must find a boolean (or "true"/"false"/1/0); `percentagePath` a number (or
 * numeric string), multiplied by `percentageScale` (set 100 when the API speaks fractions).
 * A disabled flag without a percentage reads as 0.
 *
 * `insecureTls: true` turns TLS certificate verification off for this backend (a warning is
 * logged); it exists for self-signed staging servers, never use it in production.
 */
import { JSONPath } from 'jsonpath-plus';
import { z } from 'zod';
import { httpUrl, insecureTls, warnInsecureTls } from '../options.js';
import { BackendError, UsageError } from '../../errors.js';
import { http } from '../../util/http.js';
import { looksSecret, redact, registerSecret, safeUrl } from '../../util/redact.js';
import type { AdapterContext, FlagBackend, FlagBackendFactory, FlagChange, FlagState } from '../types.js';
import { checkChange } from './shared.js';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
type Method = (typeof METHODS)[number];

export const TEMPLATE_VARIABLES = ['flag', 'enabled', 'percentage', 'fraction', 'users', 'segments', 'rings', 'stickiness', 'strategy', 'variants'] as const;
type Vars = Partial<Record<(typeof TEMPLATE_VARIABLES)[number], unknown>>;

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w]*)\s*\}\}/g;
const WHOLE = /^\{\{\s*([A-Za-z_][\w]*)\s*\}\}$/;

const requestSpec = z.strictObject({
  method: z.enum(METHODS).optional(),
  /** Path template appended to baseUrl; {{flag}} is URL-encoded. */
  path: z.string().min(1).optional(),
  /** JSON body template (see the file header); a string is parsed as JSON. */
  body: z.unknown().optional(),
  /** May the request be repeated after a 429/5xx/timeout? Default by method. */
  idempotent: z.boolean().optional(),
  /** Extra statuses that count as success. */
  okStatuses: z.array(z.number().int().min(100).max(599)).optional(),
});

const readSpec = z.strictObject({
  method: z.enum(METHODS).optional(),
  path: z.string().min(1).optional(),
  body: z.unknown().optional(),
  enabledPath: z.string().min(1).optional(),
  percentagePath: z.string().min(1).optional(),
  usersPath: z.string().min(1).optional(),
  ringsPath: z.string().min(1).optional(),
  /** When set, the flag exists only if this JSONPath finds something (for list endpoints). */
  existsPath: z.string().min(1).optional(),
  /** Multiply the read percentage by this (100 when the API reports 0..1). */
  percentageScale: z.number().positive().optional(),
  /** May the read be repeated after a 429/5xx/timeout? Default by method (set true for a POST query). */
  idempotent: z.boolean().optional(),
  /** Statuses meaning "no such flag". */
  notFoundStatuses: z.array(z.number().int().min(100).max(599)).optional(),
});

const bulkSpec = requestSpec.omit({ body: true }).extend({
  /** One array element per flag ({{flag}}, {{enabled}} = false); the body is the array. */
  item: z.unknown(),
});

export const PRESETS = {
  /**
   * Seed 004's feature-flag API. Disabling uses its "Emergency disable" toggle, a rollback of
   * several flags its bulk-update, and a breach pause with `freeze: true` its freeze endpoint.
   * Unfreezing is `DELETE /feature-flags/freeze/{flag}`: the guide has no unfreeze call, so this
   * is an assumption — override `unfreeze:` if your API differs.
   */
  'feature-flags-api': {
    disable: { method: 'POST', path: '/feature-flags/toggle', body: { flag: '{{flag}}', enabled: false }, idempotent: true },
    bulkDisable: { method: 'POST', path: '/feature-flags/bulk-update', item: { name: '{{flag}}', enabled: false }, idempotent: true },
    freeze: { method: 'POST', path: '/feature-flags/freeze/{{flag}}', idempotent: true },
    unfreeze: { method: 'DELETE', path: '/feature-flags/freeze/{{flag}}' },
    apply: {
      method: 'PUT',
      path: '/feature-flags/{{flag}}',
      body: { enabled: '{{enabled}}', percentage: '{{percentage}}', strategy: '{{strategy}}', rings: '{{rings}}', variants: '{{variants}}' },
    },
    read: {
      method: 'GET',
      path: '/feature-flags/{{flag}}',
      enabledPath: '$.enabled',
      percentagePath: '$.percentage',
      ringsPath: '$.rings',
    },
  },
} as const satisfies Record<
  string,
  {
    apply: z.input<typeof requestSpec>;
    read: z.input<typeof readSpec>;
    disable?: z.input<typeof requestSpec>;
    bulkDisable?: z.input<typeof bulkSpec>;
    freeze?: z.input<typeof requestSpec>;
    unfreeze?: z.input<typeof requestSpec>;
  }
>;

export const options = z
  .strictObject({
    /** Defaults for a known API; other options override its fields. */
    preset: z.enum(Object.keys(PRESETS) as [keyof typeof PRESETS]).optional(),
    baseUrl: httpUrl(),
    /** Extra request headers. Values of secret-looking headers are redacted everywhere. */
    headers: z.record(z.string(), z.string()).default({}),
    /** Token from an environment variable, sent as `<header>: <scheme> <token>`. */
    auth: z
      .strictObject({
        tokenEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
        header: z.string().min(1).default('authorization'),
        /** "" sends the bare token. */
        scheme: z.string().default('Bearer'),
      })
      .optional(),
    apply: requestSpec.optional(),
    disable: requestSpec.optional(),
    /** Turn many flags off in one call (a rollback); falls back to one write per flag if it fails. */
    bulkDisable: bulkSpec.optional(),
    /** Freeze a flag at its percentage (checks with `freeze: true`), and release it. */
    freeze: requestSpec.optional(),
    unfreeze: requestSpec.optional(),
    read: readSpec.optional(),
    timeoutMs: z.number().int().positive().max(300_000).default(10_000),
    retryBudgetMs: z.number().int().min(0).max(600_000).default(15_000),
    insecureTls,
  })
  .superRefine((o, ctx) => {
    const apply = { ...(o.preset ? PRESETS[o.preset].apply : {}), ...o.apply };
    const read = { ...(o.preset ? PRESETS[o.preset].read : {}), ...o.read };
    if (!apply.path) ctx.addIssue({ code: 'custom', path: ['apply', 'path'], message: 'apply.path is required (or use a preset)' });
    if (!read.path) ctx.addIssue({ code: 'custom', path: ['read', 'path'], message: 'read.path is required (or use a preset)' });
    for (const k of ['disable', 'bulkDisable', 'freeze', 'unfreeze'] as const)
      if (o[k] && !o[k].path && !(o.preset && k in PRESETS[o.preset])) ctx.addIssue({ code: 'custom', path: [k, 'path'], message: `${k}.path is required` });
    if (o.freeze && !o.unfreeze && !o.preset) ctx.addIssue({ code: 'custom', path: ['unfreeze'], message: 'freeze needs an unfreeze request too (a resumed run must be able to move the flag again)' });
    const check = (where: string[], v: unknown) => {
      for (const name of templateNames(v)) {
        if (!(TEMPLATE_VARIABLES as readonly string[]).includes(name)) {
          ctx.addIssue({ code: 'custom', path: where, message: `unknown placeholder {{${name}}} (known: ${TEMPLATE_VARIABLES.join(', ')})` });
        }
      }
    };
    for (const [k, spec] of [['apply', o.apply], ['disable', o.disable], ['read', o.read], ['freeze', o.freeze], ['unfreeze', o.unfreeze]] as const) {
      if (!spec) continue;
      check([k, 'path'], spec.path);
      if (typeof spec.body === 'string') {
        try {
          JSON.parse(spec.body);
        } catch {
          ctx.addIssue({ code: 'custom', path: [k, 'body'], message: 'body is a string but not valid JSON (quote placeholders: "{{percentage}}")' });
        }
      }
      check([k, 'body'], spec.body);
    }
    if (o.bulkDisable) {
      check(['bulkDisable', 'path'], o.bulkDisable.path);
      check(['bulkDisable', 'item'], o.bulkDisable.item);
    }
    for (const k of ['enabledPath', 'percentagePath', 'usersPath', 'ringsPath', 'existsPath'] as const) {
      for (const name of templateNames(o.read?.[k])) {
        if (name !== 'flag') ctx.addIssue({ code: 'custom', path: ['read', k], message: `only {{flag}} may be used in a JSONPath, not {{${name}}}` });
      }
    }
  });
export type HttpBackendOptions = z.infer<typeof options>;

interface ResolvedRequest {
  method: Method;
  path: string;
  body?: unknown;
  idempotent?: boolean;
  okStatuses?: number[];
}

/** Every placeholder name used in a template value (strings, arrays, objects, keys excluded). */
export function templateNames(v: unknown): string[] {
  const out = new Set<string>();
  const walk = (x: unknown) => {
    if (typeof x === 'string') for (const m of x.matchAll(PLACEHOLDER)) out.add(m[1]!);
    else if (Array.isArray(x)) x.forEach(walk);
    else if (x && typeof x === 'object') Object.values(x).forEach(walk);
  };
  walk(v);
  return [...out];
}

const asText = (v: unknown): string =>
  v === undefined || v === null ? '' : Array.isArray(v) ? v.join(',') : typeof v === 'object' ? JSON.stringify(v) : String(v);

/** Render a JSON body template (rules in the file header). undefined = nothing to send. */
export function renderBody(template: unknown, vars: Vars): unknown {
  if (typeof template === 'string') {
    const whole = WHOLE.exec(template);
    if (whole) return vars[whole[1] as keyof Vars];
    return template.replace(PLACEHOLDER, (_m, name: string) => asText(vars[name as keyof Vars]));
  }
  if (Array.isArray(template)) return template.map((t) => renderBody(t, vars)).filter((v) => v !== undefined);
  if (template && typeof template === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, t] of Object.entries(template)) {
      const v = renderBody(t, vars);
      if (v !== undefined) out[k] = v;
    }
    return out;
  }
  return template;
}

export function renderPath(template: string, vars: Vars): string {
  return template.replace(PLACEHOLDER, (_m, name: string) => encodeURIComponent(asText(vars[name as keyof Vars])));
}

function varsFor(change: FlagChange, pct: number): Vars {
  const percentage = change.enabled ? pct : change.percentage;
  return {
    flag: change.flag,
    enabled: change.enabled,
    percentage,
    fraction: percentage === undefined ? undefined : percentage / 100,
    users: change.users,
    segments: change.segments,
    rings: change.rings,
    stickiness: change.stickiness,
    strategy: change.rings ? 'ring' : undefined,
    // An experiment's split as the seed's A/B configuration writes it: {"control": 50, "treatment": 50}.
    variants: change.variants ? Object.fromEntries(change.variants.map((v) => [v.name, v.percent])) : undefined,
  };
}

class HttpFlagBackend implements FlagBackend {
  readonly name: string;
  /** Variant experiments: only when the write request sends {{variants}}. */
  readonly variants: boolean;
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly applyReq: ResolvedRequest;
  private readonly disableReq?: ResolvedRequest;
  private readonly bulkReq?: ResolvedRequest & { item: unknown };
  private readonly freezeReq?: ResolvedRequest;
  private readonly unfreezeReq?: ResolvedRequest;
  private readonly readReq: ResolvedRequest & z.infer<typeof readSpec>;

  constructor(
    private readonly o: HttpBackendOptions,
    private readonly ctx: AdapterContext,
  ) {
    this.base = o.baseUrl.replace(/\/+$/, '');
    this.name = `http${o.preset ? ` ${o.preset}` : ''} (${safeUrl(this.base)})`;
    const preset = o.preset ? PRESETS[o.preset] : undefined;
    const parseBody = (b: unknown) => (typeof b === 'string' ? (JSON.parse(b) as unknown) : b);
    const a = { ...preset?.apply, ...o.apply };
    this.applyReq = { ...a, method: a.method ?? 'PUT', path: a.path!, body: parseBody(a.body) };
    this.variants = JSON.stringify(this.applyReq.body ?? null).includes('{{variants}}');
    const spec = (k: 'disable' | 'freeze' | 'unfreeze', method: Method): ResolvedRequest | undefined => {
      const m = { ...(preset && k in preset ? (preset as Record<string, object>)[k] : {}), ...o[k] } as z.input<typeof requestSpec>;
      return m.path ? { ...m, method: m.method ?? method, path: m.path, body: parseBody(m.body) } : undefined;
    };
    this.disableReq = spec('disable', 'PUT');
    this.freezeReq = spec('freeze', 'POST');
    this.unfreezeReq = spec('unfreeze', 'DELETE');
    const bulk = { ...preset?.bulkDisable, ...o.bulkDisable } as z.input<typeof bulkSpec>;
    if (bulk.path) this.bulkReq = { ...bulk, method: bulk.method ?? 'POST', path: bulk.path, item: parseBody(bulk.item) };
    if (!this.bulkReq) this.disableMany = undefined;
    if (!this.freezeReq || !this.unfreezeReq) this.freeze = undefined;
    const r = { ...preset?.read, ...o.read };
    this.readReq = { ...r, method: r.method ?? 'GET', path: r.path!, body: parseBody(r.body) };

    this.headers = {};
    for (const [k, v] of Object.entries(o.headers)) {
      if (looksSecret(k) || /^(cookie|x-api-key|api-key|private-token)$/i.test(k)) registerSecret(v);
      this.headers[k.toLowerCase()] = v;
    }
    if (o.auth) {
      const token = ctx.env[o.auth.tokenEnv];
      if (!token) {
        throw new UsageError(`${this.name}: environment variable ${o.auth.tokenEnv} (auth.tokenEnv) is not set`, {
          hint: `Export ${o.auth.tokenEnv} with the API token before running rollout.`,
        });
      }
      registerSecret(token);
      const value = o.auth.scheme ? `${o.auth.scheme} ${token}` : token;
      registerSecret(value);
      this.headers[o.auth.header.toLowerCase()] = value;
    }
    warnInsecureTls(ctx, this.name, o.insecureTls);
  }

  private async send(req: ResolvedRequest, vars: Vars, extraOk: number[] = [], rendered?: unknown) {
    const body = rendered ?? (req.body === undefined ? undefined : renderBody(req.body, vars));
    return http({
      backend: this.name,
      method: req.method,
      url: `${this.base}${renderPath(req.path, vars)}`,
      headers: this.headers,
      body,
      timeoutMs: this.o.timeoutMs,
      retryBudgetMs: this.o.retryBudgetMs,
      ...(req.idempotent !== undefined ? { idempotent: req.idempotent } : {}),
      okStatuses: [...(req.okStatuses ?? []), ...extraOk],
      insecure: this.o.insecureTls,
    });
  }

  async apply(change: FlagChange): Promise<void> {
    const pct = checkChange(change, this.name);
    const req = !change.enabled && this.disableReq ? this.disableReq : this.applyReq;
    const used = new Set(templateNames(req.body));
    const ignored = (['users', 'segments', 'rings'] as const).filter((k) => change[k] !== undefined && !used.has(k));
    if (ignored.length) this.ctx.log(`${this.name}: ${change.flag}: ${ignored.join('/')} not sent (the request template has no {{${ignored[0]}}})`);
    const res = await this.send(req, varsFor(change, pct));
    // A 2xx whose body claims to be JSON but does not parse (cut off by a proxy, a crashed
    // server): the write's outcome is unknown. Fail, so the runner reads the flag back and
    // pauses instead of believing it.
    const type = String(res.headers['content-type'] ?? '');
    if (/json/i.test(type) && res.text.trim()) {
      try {
        JSON.parse(res.text);
      } catch {
        throw new BackendError(this.name, `${change.flag}: the write answered HTTP ${res.status} with malformed JSON (${redact(res.text.slice(0, 60))}…); its outcome is unknown`, {
          status: res.status,
          retryable: false,
          hint: 'A proxy or the flag API cut the response short. rollout reads the flag back before going on.',
        });
      }
    }
  }

  /** Set to undefined in the constructor when the options have no bulkDisable request. */
  disableMany?: (flags: string[]) => Promise<void> = async (flags) => {
    const req = this.bulkReq!;
    const items = flags.map((flag) => renderBody(req.item, { flag, enabled: false }));
    await this.send(req, {}, [], items);
  };

  /** Set to undefined in the constructor when the options have no freeze/unfreeze requests. */
  freeze?: (flag: string, frozen: boolean) => Promise<void> = async (flag, frozen) => {
    await this.send((frozen ? this.freezeReq : this.unfreezeReq)!, { flag });
  };

  async read(flag: string): Promise<FlagState> {
    const notFound = this.readReq.notFoundStatuses ?? [404];
    const res = await this.send(this.readReq, { flag }, notFound);
    if (notFound.includes(res.status)) return { flag, exists: false, enabled: false, percentage: 0 };
    const doc = res.json<unknown>();
    const all = (template: string): unknown[] => {
      if (/\{\{/.test(template) && /['"\\[\]]/.test(flag)) {
        throw new UsageError(`${this.name}: flag name ${JSON.stringify(flag)} cannot be placed in the JSONPath ${template}`);
      }
      const path = template.replace(PLACEHOLDER, () => flag);
      try {
        return JSONPath({ path, json: doc as object, wrap: true, eval: 'safe' }) as unknown[];
      } catch (err) {
        throw new BackendError(this.name, `read ${flag}: bad JSONPath ${path}: ${(err as Error).message}`);
      }
    };
    const at = (template: string | undefined): unknown => (template ? all(template)[0] : undefined);
    if (this.readReq.existsPath && all(this.readReq.existsPath).length === 0) return { flag, exists: false, enabled: false, percentage: 0 };
    const shown = (v: unknown) => redact(JSON.stringify(v) ?? 'nothing').slice(0, 80);
    const enabledPath = this.readReq.enabledPath ?? '$.enabled';
    const rawEnabled = at(enabledPath);
    const enabled = toBool(rawEnabled);
    if (enabled === undefined) {
      throw new BackendError(this.name, `read ${flag}: expected a boolean at ${enabledPath}, got ${shown(rawEnabled)}`, { status: res.status, hint: 'Check read.enabledPath against the API response.' });
    }
    const pctPath = this.readReq.percentagePath ?? '$.percentage';
    const rawPct = at(pctPath);
    let percentage = toNumber(rawPct);
    if (percentage === undefined) {
      if (enabled || (rawPct !== undefined && rawPct !== null)) {
        throw new BackendError(this.name, `read ${flag}: expected a number at ${pctPath}, got ${shown(rawPct)}`, { status: res.status, hint: 'Check read.percentagePath against the API response.' });
      }
      percentage = 0;
    }
    percentage = Number((percentage * (this.readReq.percentageScale ?? 1)).toFixed(6));
    const users = at(this.readReq.usersPath);
    const rings = at(this.readReq.ringsPath);
    return {
      flag,
      exists: true,
      enabled,
      percentage,
      ...(Array.isArray(users) && users.length ? { users: users.map(String) } : {}),
      ...(rings && typeof rings === 'object' && !Array.isArray(rings) && Object.keys(rings).length ? { rings: rings as Record<string, number> } : {}),
    };
  }
}

function toBool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 1 || v === 0) return v === 1;
  if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
  return undefined;
}

function toNumber(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}


export const create: FlagBackendFactory = (raw, ctx: AdapterContext) => new HttpFlagBackend(options.parse(raw), ctx);
