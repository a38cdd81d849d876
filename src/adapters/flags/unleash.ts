/**
 * Unleash flag backend (Admin API, Unleash 5+; tested against 7.5.1).
 *
 * What rollout manages in the flag's environment — and nothing else:
 *   - one gradual-rollout strategy: `flexibleRollout` titled "managed by rollout", parameters
 *     { rollout: "<pct>", stickiness, groupId: <flag> }. A flag that has no such strategy yet
 *     but exactly one plain (untitled, no constraints, no segments) flexibleRollout — e.g. the
 *     one Unleash adds by itself when an environment is switched on with no strategy — has that
 *     one adopted (retitled) instead of getting a second one. Every other strategy is left
 *     alone; unconstrained ones that also enable users are reported in the log, because they
 *     make the real exposure larger than the rollout percentage.
 *   - the user allowlist (`change.users`): a second flexibleRollout at 100 % titled
 *     "managed by rollout: allowlist", with the constraint `userId IN [users]`. (Constraints are
 *     the current Unleash way; the legacy `userWithId` strategy is deprecated.) `users: []`
 *     removes it; `users` absent leaves it as it is. Unleash limits constraint values (250 by
 *     default): a larger list fails with Unleash's message.
 *   - allowlisted segments (`change.segments`, Unleash segment names): one flexibleRollout at
 *     100 % per segment, titled "managed by rollout: segment <name>", with that segment attached
 *     (one strategy each, because segments on a single strategy must *all* match). Segments
 *     must exist in Unleash; rollout does not create them. `[]` removes them, absent leaves them.
 *   - the environment's on/off switch: POST …/environments/<env>/on|off.
 *   - rings (`change.rings`, a ring step): one flexibleRollout per ring at that ring's share,
 *     titled "managed by rollout: ring <name>", constrained to `<ringContextField> IN [name]`
 *     (default context field `ring`, which the application sets; created in Unleash when
 *     missing). A change without rings (a percentage step) removes them. Unleash enables a
 *     user when any strategy does, so a ring member also gets the base percentage.
 *
 * apply() reads the flag first and writes only what differs, so applying a change twice costs
 * one GET and leaves no duplicate strategies. Writes go strategies first, then `on`: switching
 * on an environment with no strategy makes Unleash add a 100 % one by itself.
 *
 * Retries: GET/PUT/DELETE and the on/off switches (they set a state) retry on 429/5xx within
 * the budget. Creating a flag or a strategy (POST) never retries blindly: when its outcome is
 * unknown (timeout, connection reset, 5xx) the flag is read again, and what is found decides.
 *
 * Percentages are validated (0..100) before anything is written: Unleash accepts "150".
 * Fractional percentages are stored as given ("12.5"), but Unleash buckets users into whole
 * percents (1..100), so 12.5 % serves the same users as 12 %: a note is logged.
 *
 * `url` is the Unleash base URL (a trailing `/api` is accepted and dropped); `token` an admin or
 * personal access token with rights on the project (sent as `Authorization: <token>`).
 */
import { z } from 'zod';
import { httpUrl, insecureTls, warnInsecureTls } from '../options.js';
import { BackendError, UsageError } from '../../errors.js';
import { http, type HttpRequest, type HttpResponse } from '../../util/http.js';
import { redact, registerSecret, safeUrl } from '../../util/redact.js';
import type { AdapterContext, FlagBackend, FlagBackendFactory, FlagChange, FlagState } from '../types.js';
import { checkChange as checkShared } from './shared.js';
import { toWeights } from '../../util/variants.js';

export const options = z.strictObject({
  /** Unleash base URL, e.g. https://unleash.example.com (a trailing /api is fine too). */
  url: httpUrl(),
  /** Admin API token or personal access token. A secret: never logged. */
  token: z.string().min(1),
  project: z.string().min(1).default('default'),
  environment: z.string().min(1).default('development'),
  /** Create a missing flag (type "release") instead of failing. */
  create: z.boolean().default(false),
  /** Default stickiness of the gradual rollout ("default", "userId", "sessionId", "random" or a context field). */
  stickiness: z.string().min(1).default('default'),
  /** Unleash context field the application sets to its user's ring (ring steps); created if missing. */
  ringContextField: z.string().min(1).default('ring'),
  /** Per-request timeout, ms. */
  timeoutMs: z.number().int().positive().max(300_000).default(10_000),
  /** Total time budget for retrying 429/5xx on safe calls, ms (0 = no retries). */
  retryBudgetMs: z.number().int().min(0).max(600_000).default(15_000),
  /** Skip TLS certificate verification (a warning is logged). */
  insecureTls,
});
export type UnleashOptions = z.infer<typeof options>;

/** Titles that mark the strategies rollout owns. */
export const ROLLOUT_TITLE = 'managed by rollout';
export const ALLOWLIST_TITLE = 'managed by rollout: allowlist';
export const SEGMENT_TITLE_PREFIX = 'managed by rollout: segment ';
export const RING_TITLE_PREFIX = 'managed by rollout: ring ';

export interface UnleashConstraint {
  contextName: string;
  operator: string;
  values?: string[];
  value?: string;
  inverted?: boolean;
  caseInsensitive?: boolean;
}
export interface UnleashStrategy {
  id?: string;
  name: string;
  title?: string | null;
  disabled?: boolean | null;
  constraints?: UnleashConstraint[];
  segments?: number[];
  parameters?: Record<string, string>;
  variants?: unknown[];
  sortOrder?: number;
}
interface UnleashEnvironment {
  name: string;
  enabled: boolean;
  strategies?: UnleashStrategy[];
}
interface UnleashFeature {
  name: string;
  project?: string;
  archived?: boolean;
  environments: UnleashEnvironment[];
}

/**
 * An experiment's split as strategy variants. Unleash recomputes "variable" weights (an equal
 * share each) and sorts variants by name: every variant but the last is sent with a fixed
 * weight and the last as variable, so 33.33/33.33/33.34 stays 333/333/334 and the order is
 * the one src/util/variants.ts evaluates with.
 */
export function unleashVariants(shares: Array<{ name: string; percent: number }>, stickiness: string): UnleashVariant[] {
  const w = toWeights(shares);
  return w.map((v, i) => ({ name: v.name, weight: v.weight, weightType: i === w.length - 1 ? 'variable' : 'fix', stickiness }));
}
export interface UnleashVariant {
  name: string;
  weight: number;
  weightType: 'fix' | 'variable';
  stickiness: string;
}
function sameVariants(have: unknown[] | undefined, want: UnleashVariant[]): boolean {
  if (!Array.isArray(have) || have.length !== want.length) return false;
  return want.every((w, i) => {
    const h = have[i] as Partial<UnleashVariant> | undefined;
    return h?.name === w.name && h.weight === w.weight && (h.stickiness ?? 'default') === w.stickiness;
  });
}

const isPlain = (s: UnleashStrategy) => !s.constraints?.length && !s.segments?.length;
const isActive = (s: UnleashStrategy) => s.disabled !== true;

/** The gradual-rollout strategy rollout owns (or may adopt) among an environment's strategies. */
export function findManaged(strategies: UnleashStrategy[]): UnleashStrategy | undefined {
  const titled = strategies.find((s) => s.name === 'flexibleRollout' && s.title === ROLLOUT_TITLE);
  if (titled) return titled;
  const adoptable = strategies.filter((s) => s.name === 'flexibleRollout' && !s.title && isPlain(s));
  return adoptable.length === 1 ? adoptable[0] : undefined;
}

export function findAllowlist(strategies: UnleashStrategy[]): UnleashStrategy | undefined {
  return strategies.find((s) => s.name === 'flexibleRollout' && s.title === ALLOWLIST_TITLE);
}

/** The strategies titled `<prefix><name>`, by name (segment or ring name → its strategy). */
function titled(strategies: UnleashStrategy[], prefix: string): Map<string, UnleashStrategy> {
  const out = new Map<string, UnleashStrategy>();
  for (const s of strategies) {
    if (s.name === 'flexibleRollout' && s.title?.startsWith(prefix)) out.set(s.title.slice(prefix.length), s);
  }
  return out;
}
const segmentStrategies = (strategies: UnleashStrategy[]) => titled(strategies, SEGMENT_TITLE_PREFIX);
const ringStrategies = (strategies: UnleashStrategy[]) => titled(strategies, RING_TITLE_PREFIX);

/** Does `have` (as Unleash returns it) already do what `want` (as rollout writes it) says? */
function sameStrategy(have: UnleashStrategy, want: UnleashStrategy): boolean {
  const key = (c: UnleashConstraint) => JSON.stringify([c.contextName, c.operator, c.values ?? [], Boolean(c.inverted)]);
  const p = have.parameters ?? {};
  const q = want.parameters ?? {};
  return (
    have.disabled !== true &&
    Number(p.rollout) === Number(q.rollout) &&
    p.stickiness === q.stickiness &&
    JSON.stringify(have.segments ?? []) === JSON.stringify(want.segments ?? []) &&
    JSON.stringify((have.constraints ?? []).map(key)) === JSON.stringify((want.constraints ?? []).map(key))
  );
}

const isOwned = (s: UnleashStrategy) => s.title === ALLOWLIST_TITLE || [SEGMENT_TITLE_PREFIX, RING_TITLE_PREFIX].some((p) => s.title?.startsWith(p) ?? false);

function allowlistUsers(s: UnleashStrategy | undefined): string[] {
  const c = s?.constraints?.find((k) => k.contextName === 'userId' && k.operator === 'IN' && !k.inverted);
  return c?.values ? [...c.values] : [];
}

/** Share of users served by strategies rollout does not manage (when none is managed). */
function unmanagedPercentage(strategies: UnleashStrategy[]): number {
  const active = strategies.filter(isActive);
  if (active.length === 0) return 100; // on with no strategy = on for everybody
  let pct = 0;
  for (const s of active.filter(isPlain)) {
    if (s.name === 'default') pct = 100;
    if (s.name === 'flexibleRollout') pct = Math.max(pct, Number(s.parameters?.rollout ?? 0) || 0);
  }
  return pct;
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && new Set([...a, ...b]).size === a.length;

/** Unleash's own error text: its `message`, plus the `details` when the message only points at them. */
export function unleashMessage(text: string): string {
  try {
    const j = JSON.parse(text) as { message?: unknown; details?: Array<{ message?: unknown; description?: unknown }> };
    const details = Array.isArray(j.details)
      ? j.details.map((d) => d?.message ?? d?.description).filter((m): m is string => typeof m === 'string' && m.length > 0)
      : [];
    // "…invalid data. Refer to the `details` list for more information." — the details follow.
    const msg = typeof j.message === 'string' ? j.message.replace(/\.?\s*Refer to the `?details`? list[^]*$/i, '') : '';
    const extra = [...new Set(details)].filter((d) => !msg.includes(d));
    if (msg || extra.length) return [msg, ...extra].filter(Boolean).join(': ');
  } catch {
    /* not JSON */
  }
  return text.trim().slice(0, 300) || '(empty response)';
}

class UnleashBackend implements FlagBackend {
  readonly name: string;
  readonly variants = true;
  private readonly base: string;
  private readonly headers: Record<string, string>;

  constructor(
    private readonly o: UnleashOptions,
    private readonly ctx: AdapterContext,
  ) {
    registerSecret(o.token);
    this.base = o.url.replace(/\/+$/, '').replace(/\/api$/, '');
    this.name = `unleash (${safeUrl(this.base)})`;
    this.headers = { authorization: o.token };
    warnInsecureTls(ctx, this.name, o.insecureTls);
  }

  private featureUrl(flag: string): string {
    return `${this.base}/api/admin/projects/${encodeURIComponent(this.o.project)}/features/${encodeURIComponent(flag)}`;
  }
  private envUrl(flag: string): string {
    return `${this.featureUrl(flag)}/environments/${encodeURIComponent(this.o.environment)}`;
  }

  /**
   * One call through util/http. 400s and 403s are turned into errors here: Unleash puts what
   * was wrong in `details` (a 400 says only "refer to the details" in `message`), and a 403
   * deserves a hint about which kind of token the Admin API wants.
   */
  private async call(req: Omit<HttpRequest, 'backend' | 'headers' | 'timeoutMs' | 'retryBudgetMs' | 'insecure'>): Promise<HttpResponse> {
    const ok = req.okStatuses ?? [];
    const res = await http({
      ...req,
      backend: this.name,
      headers: this.headers,
      timeoutMs: this.o.timeoutMs,
      retryBudgetMs: this.o.retryBudgetMs,
      insecure: this.o.insecureTls,
      okStatuses: [...ok, 400, 403],
    });
    if ((res.status === 400 || res.status === 403) && !ok.includes(res.status)) {
      const message = redact(unleashMessage(res.text));
      throw new BackendError(this.name, message, {
        status: res.status,
        hint:
          res.status === 400
            ? 'Unleash refused the request as invalid; see its message above.'
            : /token type/i.test(message)
              ? 'The Admin API needs an admin API token or a personal access token, not a backend (client) or frontend token.'
              : `The token may not change flags in project ${this.o.project} / environment ${this.o.environment}: check its permissions in Unleash.`,
      });
    }
    return res;
  }

  private async getFeature(flag: string): Promise<UnleashFeature | undefined> {
    const res = await this.call({ method: 'GET', url: this.featureUrl(flag), okStatuses: [404] });
    if (res.status === 404) {
      // Unleash says "no such feature" in JSON; anything else means we are not talking to the Admin API.
      let unleash404 = false;
      try {
        const j = JSON.parse(res.text) as { name?: unknown; message?: unknown };
        unleash404 = j.name === 'NotFoundError' || (typeof j.message === 'string' && /feature|flag|toggle/i.test(j.message));
      } catch {
        /* not JSON */
      }
      if (unleash404) return undefined;
      throw new BackendError(this.name, `GET ${safeUrl(this.featureUrl(flag))}: not found, and the answer is not Unleash's: ${redact(res.text.trim().slice(0, 120)) || '(empty)'}`, {
        status: 404,
        hint: 'Check `url`: it is the Unleash base URL (where its UI is), e.g. https://unleash.example.com.',
      });
    }
    const body = res.json<UnleashFeature>();
    if (!body || typeof body !== 'object' || !Array.isArray(body.environments)) {
      throw new BackendError(this.name, `GET flag ${flag}: unexpected response (no environments array)`, { status: res.status });
    }
    return body;
  }

  private environment(feature: UnleashFeature): UnleashEnvironment {
    const env = feature.environments.find((e) => e.name === this.o.environment);
    if (!env) {
      const have = feature.environments.map((e) => e.name).join(', ') || 'none';
      throw new BackendError(this.name, `flag ${feature.name} has no environment "${this.o.environment}" in project ${this.o.project} (it has: ${have})`, {
        hint: 'Check `environment`, and that the environment is enabled for the project in Unleash.',
      });
    }
    return env;
  }

  /**
   * Run a non-idempotent write once. If its outcome is unknown (timeout, connection lost, 5xx,
   * 429), read the flag again and let `landed` say whether it happened; if it did not, try
   * once more, then give up with the original error.
   */
  private async writeOnce<T>(flag: string, write: () => Promise<T>, landed: (f: UnleashFeature | undefined) => T | undefined): Promise<T> {
    let firstErr: unknown;
    for (let n = 0; n < 2; n++) {
      try {
        return await write();
      } catch (err) {
        if (!(err instanceof BackendError) || (err.status !== undefined && err.status < 500 && err.status !== 429)) throw err;
        firstErr ??= err;
        const after = await this.getFeature(flag).catch(() => {
          throw firstErr;
        });
        const found = landed(after);
        if (found !== undefined) return found;
        if (n === 0) this.ctx.log(`${this.name}: ${flag}: a write failed (${(err as Error).message}); it did not happen, trying once more`);
      }
    }
    throw firstErr;
  }

  private async createFeature(flag: string): Promise<UnleashFeature> {
    // null = created (by us); a string = Unleash's 409 answer.
    const conflict = await this.writeOnce<string | null>(
      flag,
      async () => {
        const res = await this.call({
          method: 'POST',
          url: `${this.base}/api/admin/projects/${encodeURIComponent(this.o.project)}/features`,
          body: { name: flag, type: 'release', description: 'Created by rollout' },
          idempotent: false,
          okStatuses: [409],
        });
        return res.status === 409 ? res.text : null;
      },
      (f) => (f ? null : undefined),
    );
    if (conflict !== null) {
      // Created meanwhile by somebody else (fine), or the name is taken elsewhere (not fine).
      const f = await this.getFeature(flag);
      if (f) return f;
      throw new BackendError(this.name, `cannot create flag ${flag} in project ${this.o.project}: ${redact(unleashMessage(conflict))}`, {
        status: 409,
        hint: 'Flag names are unique across projects and the archive: use the project that has it, or revive/delete the archived flag.',
      });
    }
    this.ctx.log(`${this.name}: created flag ${flag} in project ${this.o.project}`);
    // A new flag is off in every environment and has no strategies: no need to read it back.
    // (If the environment does not exist, the first write to it fails with Unleash's message.)
    return { name: flag, project: this.o.project, environments: [{ name: this.o.environment, enabled: false, strategies: [] }] };
  }

  /** Make the strategy titled `title` look like `want` (create it if missing). */
  private async putStrategy(flag: string, existing: UnleashStrategy | undefined, want: UnleashStrategy): Promise<void> {
    if (existing?.id) {
      await this.call({ method: 'PUT', url: `${this.envUrl(flag)}/strategies/${encodeURIComponent(existing.id)}`, body: want });
      return;
    }
    await this.writeOnce(
      flag,
      () => this.call({ method: 'POST', url: `${this.envUrl(flag)}/strategies`, body: want, idempotent: false }).then(() => true),
      (f) => {
        const env = f?.environments.find((e) => e.name === this.o.environment);
        const s = env?.strategies?.find((x) => x.name === want.name && x.title === want.title);
        return s ? true : undefined;
      },
    );
  }

  private async setEnabled(flag: string, on: boolean): Promise<void> {
    // Setting a state: repeating it is harmless, so it may retry.
    await this.call({ method: 'POST', url: `${this.envUrl(flag)}/${on ? 'on' : 'off'}`, idempotent: true });
  }

  /**
   * Rollback of many flags: Unleash's bulk toggle (POST …/bulk_features/environments/<env>/off
   * with {features: [...]}) turns hundreds off in a few calls instead of one per flag. Setting
   * a state, so it may retry. Chunks of 200 keep each request small.
   */
  async disableMany(flags: string[]): Promise<void> {
    const url = `${this.base}/api/admin/projects/${encodeURIComponent(this.o.project)}/bulk_features/environments/${encodeURIComponent(this.o.environment)}/off`;
    for (let i = 0; i < flags.length; i += 200) {
      await this.call({ method: 'POST', url, body: { features: flags.slice(i, i + 200) }, idempotent: true });
    }
  }

  async apply(change: FlagChange): Promise<void> {
    const pct = checkChange(change, this.name);
    const flag = change.flag;
    const stickiness = change.stickiness ?? this.o.stickiness;
    if (change.enabled && !Number.isInteger(pct)) {
      this.ctx.log(`${this.name}: ${flag}: Unleash buckets users in whole percents: ${pct}% serves the same users as ${Math.floor(pct)}%`);
    }

    let feature = await this.getFeature(flag);
    if (!feature) {
      if (!this.o.create) {
        throw new BackendError(this.name, `flag ${flag} does not exist in project ${this.o.project}`, {
          status: 404,
          hint: `Create the flag ${flag} in Unleash (project ${this.o.project}), or set \`create: true\` in the unleash backend options.`,
        });
      }
      feature = await this.createFeature(flag);
    }
    const env = this.environment(feature);
    const strategies = env.strategies ?? [];
    // Resolve segment names before anything is written: an unknown name changes nothing.
    const segmentIds = change.enabled && change.segments?.length ? await this.segmentIds([...new Set(change.segments)]) : new Map<string, number>();

    if (!change.enabled) {
      if (env.enabled) await this.setEnabled(flag, false);
      return;
    }

    const managed = findManaged(strategies);
    const variants = change.variants ? unleashVariants(change.variants, stickiness) : undefined;
    const want: UnleashStrategy = {
      name: 'flexibleRollout',
      title: ROLLOUT_TITLE,
      disabled: false,
      constraints: managed?.constraints ?? [],
      segments: managed?.segments ?? [],
      parameters: { ...managed?.parameters, rollout: String(pct), stickiness, groupId: flag },
      ...(variants ? { variants } : managed?.variants ? { variants: managed.variants } : {}),
    };
    const same =
      managed !== undefined &&
      managed.title === ROLLOUT_TITLE &&
      managed.disabled !== true &&
      Number(managed.parameters?.rollout) === pct &&
      managed.parameters?.stickiness === stickiness &&
      managed.parameters?.groupId === flag &&
      (!variants || sameVariants(managed.variants, variants));
    if (!same) await this.putStrategy(flag, managed, want);

    if (change.users) {
      const users = [...new Set(change.users)];
      const list = findAllowlist(strategies);
      if (users.length === 0) {
        if (list?.id) await this.call({ method: 'DELETE', url: `${this.envUrl(flag)}/strategies/${encodeURIComponent(list.id)}`, okStatuses: [404] });
      } else if (!(list && list.disabled !== true && sameSet(allowlistUsers(list), users))) {
        await this.putStrategy(flag, list, {
          name: 'flexibleRollout',
          title: ALLOWLIST_TITLE,
          disabled: false,
          constraints: [{ contextName: 'userId', operator: 'IN', values: users, inverted: false, caseInsensitive: false }],
          segments: [],
          parameters: { rollout: '100', stickiness: 'default', groupId: flag },
        });
      }
    }

    if (change.segments) await this.syncSegments(flag, strategies, segmentIds);
    await this.syncRings(flag, strategies, change.rings ?? {}, stickiness);

    const others = strategies.filter((s) => s !== managed && !isOwned(s) && isActive(s) && isPlain(s));
    if (others.length) {
      this.ctx.log(
        `${this.name}: ${flag}: warning: ${others.length} other unconstrained strateg${others.length === 1 ? 'y' : 'ies'} (${others
          .map((s) => s.title || s.name)
          .join(', ')}) also enable this flag in ${this.o.environment}; more than ${pct}% of users may get it`,
      );
    }

    if (!env.enabled) await this.setEnabled(flag, true);
  }

  /** Ids of the named Unleash segments; fails naming the unknown ones. */
  private async segmentIds(names: string[]): Promise<Map<string, number>> {
    const res = await this.call({ method: 'GET', url: `${this.base}/api/admin/segments` });
    const list = res.json<{ segments?: Array<{ id: number; name: string }> }>().segments ?? [];
    const byName = new Map(list.map((x) => [x.name, x.id]));
    const unknown = names.filter((n) => !byName.has(n));
    if (unknown.length) {
      throw new BackendError(this.name, `unknown Unleash segment${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')} (known: ${[...byName.keys()].join(', ') || 'none'})`, {
        hint: 'Create the segment in Unleash first (Segments page or POST /api/admin/segments); rollout does not create segments.',
      });
    }
    return new Map(names.map((n) => [n, byName.get(n)!]));
  }

  /**
   * Make the strategies titled `<prefix><name>` exactly `want` (name → strategy): write the ones
   * that differ, delete the ones no longer wanted.
   */
  private async syncTitled(flag: string, strategies: UnleashStrategy[], prefix: string, want: Map<string, UnleashStrategy>): Promise<void> {
    const have = titled(strategies, prefix);
    for (const [name, w] of want) {
      const s = have.get(name);
      if (!s || !sameStrategy(s, w)) await this.putStrategy(flag, s, w);
    }
    for (const [name, s] of have) {
      if (!want.has(name) && s.id) await this.call({ method: 'DELETE', url: `${this.envUrl(flag)}/strategies/${encodeURIComponent(s.id)}`, okStatuses: [404] });
    }
  }

  /** One 100 % strategy per wanted segment; remove the ones no longer wanted. */
  private syncSegments(flag: string, strategies: UnleashStrategy[], want: Map<string, number>): Promise<void> {
    const strategy = (name: string, id: number): UnleashStrategy => ({
      name: 'flexibleRollout',
      title: `${SEGMENT_TITLE_PREFIX}${name}`,
      disabled: false,
      constraints: [],
      segments: [id],
      parameters: { rollout: '100', stickiness: 'default', groupId: flag },
    });
    return this.syncTitled(flag, strategies, SEGMENT_TITLE_PREFIX, new Map([...want].map(([name, id]) => [name, strategy(name, id)])));
  }

  /** One strategy per ring of a ring step; rings no longer wanted (a percentage step: all) go. */
  private async syncRings(flag: string, strategies: UnleashStrategy[], want: Record<string, number>, stickiness: string): Promise<void> {
    const field = this.o.ringContextField;
    if (Object.keys(want).length) await this.ensureContextField(field);
    const strategy = (ring: string, pct: number): UnleashStrategy => ({
      name: 'flexibleRollout',
      title: `${RING_TITLE_PREFIX}${ring}`,
      disabled: false,
      constraints: [{ contextName: field, operator: 'IN', values: [ring], inverted: false, caseInsensitive: false }],
      segments: [],
      parameters: { rollout: String(pct), stickiness, groupId: flag },
    });
    await this.syncTitled(flag, strategies, RING_TITLE_PREFIX, new Map(Object.entries(want).map(([ring, pct]) => [ring, strategy(ring, pct)])));
  }

  private contextFieldReady = new Set<string>();
  /** Constraints need a defined context field: create the ring field once if Unleash lacks it. */
  private async ensureContextField(name: string): Promise<void> {
    if (this.contextFieldReady.has(name)) return;
    const url = `${this.base}/api/admin/context`;
    const fields = (await this.call({ method: 'GET', url })).json<Array<{ name: string }>>();
    if (!Array.isArray(fields) || !fields.some((f) => f.name === name)) {
      // Creating it twice fails with 409 at worst: that, too, means it exists.
      await this.call({ method: 'POST', url, body: { name, description: 'The ring of the user (rollout ring steps)', stickiness: false }, idempotent: false, okStatuses: [409] });
      this.ctx.log(`${this.name}: created the context field "${name}" for ring steps; the application sets it to the user's ring`);
    }
    this.contextFieldReady.add(name);
  }

  async read(flag: string): Promise<FlagState> {
    if (typeof flag !== 'string' || flag.trim() === '') throw new UsageError(`${this.name}: flag name is empty`);
    const feature = await this.getFeature(flag);
    if (!feature) return { flag, exists: false, enabled: false, percentage: 0 };
    const env = this.environment(feature);
    const strategies = env.strategies ?? [];
    const managed = findManaged(strategies);
    let percentage: number;
    if (managed) percentage = managed.disabled === true ? 0 : Number(managed.parameters?.rollout ?? 0) || 0;
    else percentage = env.enabled || strategies.length ? unmanagedPercentage(strategies) : 0;
    const list = findAllowlist(strategies);
    const users = list && list.disabled !== true ? allowlistUsers(list) : [];
    const segments = [...segmentStrategies(strategies)].filter(([, s]) => s.disabled !== true).map(([n]) => n);
    const rings = Object.fromEntries([...ringStrategies(strategies)].filter(([, s]) => s.disabled !== true).map(([n, s]) => [n, Number(s.parameters?.rollout ?? 0) || 0]));
    return {
      flag,
      exists: true,
      enabled: env.enabled === true,
      percentage,
      ...(users.length ? { users } : {}),
      ...(segments.length ? { segments } : {}),
      ...(Object.keys(rings).length ? { rings } : {}),
      ...(managed?.variants?.length ? { variants: (managed.variants as UnleashVariant[]).map((v) => ({ name: v.name, weight: v.weight })) } : {}),
    };
  }
}

/** Validate a change before anything is written; returns the target percentage (0..100). */
function checkChange(change: FlagChange, backend: string): number {
  const p = checkShared(change, backend);
  if (change.users !== undefined && (!Array.isArray(change.users) || change.users.some((u) => typeof u !== 'string' || u === ''))) {
    throw new UsageError(`${backend}: ${change.flag}: users must be a list of non-empty user ids`);
  }
  if (change.segments !== undefined && (!Array.isArray(change.segments) || change.segments.some((x) => typeof x !== 'string' || x === ''))) {
    throw new UsageError(`${backend}: ${change.flag}: segments must be a list of non-empty Unleash segment names`);
  }
  if (change.stickiness !== undefined && (typeof change.stickiness !== 'string' || change.stickiness === '')) {
    throw new UsageError(`${backend}: ${change.flag}: stickiness must be a non-empty string`);
  }
  return p;
}

export const create: FlagBackendFactory = (raw, ctx) => new UnleashBackend(options.parse(raw), ctx);
