/**
 * `http` flag backend: a configurable REST backend for in-house flag services. Requests are
 * templates (http/templates.ts), merged from a preset and the plan's options
 * (http/options.ts); reads pick the state out of the answer with JSONPaths (jsonpath-plus, safe
 * evaluator). Options, templates and the `feature-flags-api` preset (seed 004's API) are in
 * docs/adapters.md (`http`).
 *
 * Decisions a reader needs here:
 *   - Only requests marked idempotent are retried (default by method: PUT/DELETE/GET yes,
 *     POST/PATCH no); a POST is marked so only when it states the end value.
 *   - A write answered 2xx with JSON that does not parse has an unknown outcome: it fails, so
 *     the runner reads the flag back and pauses instead of believing it.
 */
import { JSONPath } from 'jsonpath-plus';
import { warnInsecureTls } from '../options.js';
import { BackendError, UsageError } from '../../errors.js';
import { http } from '../../util/http.js';
import { looksSecret, redact, registerSecret, safeUrl } from '../../util/redact.js';
import type { AdapterContext, FlagBackend, FlagBackendFactory, FlagChange, FlagState } from '../types.js';
import { checkChange, refuseExclusion } from './shared.js';
import { options, resolveRequests, type HttpBackendOptions, type Requests, type ResolvedRequest } from './http/options.js';
import { jsonPathFor, renderBody, renderPath, templateNames, varsFor, type Vars } from './http/templates.js';

/** The registry's `options`, and renderBody for tests of the template rules. */
export { options, renderBody };

class HttpFlagBackend implements FlagBackend {
  readonly name: string;
  /** Variant experiments: only when the write request sends {{variants}}. */
  readonly variants: boolean;
  /** Partial rollbacks for some users: only when the write request sends {{exclude}}. */
  readonly excludes: boolean;
  private readonly base: string;
  private readonly headers: Record<string, string>;
  private readonly req: Requests;

  constructor(
    private readonly o: HttpBackendOptions,
    private readonly ctx: AdapterContext,
  ) {
    this.base = o.baseUrl.replace(/\/+$/, '');
    this.name = `http${o.preset ? ` ${o.preset}` : ''} (${safeUrl(this.base)})`;
    this.req = resolveRequests(o);
    this.variants = JSON.stringify(this.req.apply.body ?? null).includes('{{variants}}');
    this.excludes = JSON.stringify(this.req.apply.body ?? null).includes('{{exclude}}');
    if (!this.req.bulkDisable) this.disableMany = undefined;
    if (!this.req.freeze || !this.req.unfreeze) this.freeze = undefined;

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
    const req = !change.enabled && this.req.disable ? this.req.disable : this.req.apply;
    const used = new Set(templateNames(req.body));
    if (!used.has('exclude')) refuseExclusion(change, this.name, 'the write request has no {{exclude}}');
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
    const req = this.req.bulkDisable!;
    const items = flags.map((flag) => renderBody(req.item, { flag, enabled: false }));
    await this.send(req, {}, [], items);
  };

  /** Set to undefined in the constructor when the options have no freeze/unfreeze requests. */
  freeze?: (flag: string, frozen: boolean) => Promise<void> = async (flag, frozen) => {
    await this.send((frozen ? this.req.freeze : this.req.unfreeze)!, { flag });
  };

  async read(flag: string): Promise<FlagState> {
    const notFound = this.req.read.notFoundStatuses ?? [404];
    const res = await this.send(this.req.read, { flag }, notFound);
    if (notFound.includes(res.status)) return { flag, exists: false, enabled: false, percentage: 0 };
    const doc = res.json<unknown>();
    const all = (template: string): unknown[] => {
      const path = jsonPathFor(template, flag);
      if (path === undefined) throw new UsageError(`${this.name}: flag name ${JSON.stringify(flag)} cannot be placed in the JSONPath ${template}`);
      try {
        return JSONPath({ path, json: doc as object, wrap: true, eval: 'safe' }) as unknown[];
      } catch (err) {
        throw new BackendError(this.name, `read ${flag}: bad JSONPath ${path}: ${(err as Error).message}`);
      }
    };
    const at = (template: string | undefined): unknown => (template ? all(template)[0] : undefined);
    if (this.req.read.existsPath && all(this.req.read.existsPath).length === 0) return { flag, exists: false, enabled: false, percentage: 0 };
    const shown = (v: unknown) => redact(JSON.stringify(v) ?? 'nothing').slice(0, 80);
    const enabledPath = this.req.read.enabledPath ?? '$.enabled';
    const rawEnabled = at(enabledPath);
    const enabled = toBool(rawEnabled);
    if (enabled === undefined) {
      throw new BackendError(this.name, `read ${flag}: expected a boolean at ${enabledPath}, got ${shown(rawEnabled)}`, { status: res.status, hint: 'Check read.enabledPath against the API response.' });
    }
    const pctPath = this.req.read.percentagePath ?? '$.percentage';
    const rawPct = at(pctPath);
    let percentage = toNumber(rawPct);
    if (percentage === undefined) {
      if (enabled || (rawPct !== undefined && rawPct !== null)) {
        throw new BackendError(this.name, `read ${flag}: expected a number at ${pctPath}, got ${shown(rawPct)}`, { status: res.status, hint: 'Check read.percentagePath against the API response.' });
      }
      percentage = 0;
    }
    percentage = Number((percentage * (this.req.read.percentageScale ?? 1)).toFixed(6));
    const users = at(this.req.read.usersPath);
    const rings = at(this.req.read.ringsPath);
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
