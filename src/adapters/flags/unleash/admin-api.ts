/**
 * The calls the Unleash adapter makes to Unleash's Admin API (`/api/admin/…`, header
 * `Authorization: <token>`), each with the error a user can act on.
 *
 * Creating a flag or a strategy (POST) is not idempotent: when its outcome is unknown it is
 * never repeated blindly; the flag is read again and what is found decides (`writeOnce`).
 */
import { BackendError } from '../../../errors.js';
import { http, serverMessage, type HttpRequest, type HttpResponse } from '../../../util/http.js';
import { redact, safeUrl } from '../../../util/redact.js';
import type { UnleashEnvironment, UnleashFeature, UnleashSegment, UnleashStrategy } from './strategies.js';

export interface AdminApiOptions {
  /** Unleash base URL, without a trailing `/api`. */
  base: string;
  token: string;
  project: string;
  environment: string;
  timeoutMs: number;
  retryBudgetMs: number;
  insecureTls: boolean;
}

type Call = Omit<HttpRequest, 'backend' | 'headers' | 'timeoutMs' | 'retryBudgetMs' | 'insecure'>;

/** Bulk switches are sent in chunks of this many flags, to keep each request small. */
const BULK_CHUNK = 200;

export class UnleashAdminApi {
  private readonly contextFieldReady = new Set<string>();

  constructor(
    /** The adapter's name, for errors and log lines. */
    private readonly name: string,
    private readonly o: AdminApiOptions,
    private readonly log: (line: string) => void,
  ) {}

  private projectUrl(): string {
    return `${this.o.base}/api/admin/projects/${encodeURIComponent(this.o.project)}`;
  }
  private featureUrl(flag: string): string {
    return `${this.projectUrl()}/features/${encodeURIComponent(flag)}`;
  }
  private envUrl(flag: string): string {
    return `${this.featureUrl(flag)}/environments/${encodeURIComponent(this.o.environment)}`;
  }

  /**
   * One call through util/http. 400s and 403s are turned into errors here: Unleash puts what
   * was wrong in `details` (a 400 says only "refer to the details" in `message`), and a 403
   * deserves a hint about which kind of token the Admin API wants.
   */
  private async call(req: Call): Promise<HttpResponse> {
    const ok = req.okStatuses ?? [];
    const res = await http({
      ...req,
      backend: this.name,
      headers: { authorization: this.o.token },
      timeoutMs: this.o.timeoutMs,
      retryBudgetMs: this.o.retryBudgetMs,
      insecure: this.o.insecureTls,
      okStatuses: [...ok, 400, 403],
    });
    if ((res.status === 400 || res.status === 403) && !ok.includes(res.status)) {
      const message = redact(serverMessage(res.text));
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

  /** The flag with every environment; undefined when Unleash says it does not exist. */
  async getFeature(flag: string): Promise<UnleashFeature | undefined> {
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

  /** The configured environment of a flag; fails naming the ones it has. */
  environment(feature: UnleashFeature): UnleashEnvironment {
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
        if (n === 0) this.log(`${this.name}: ${flag}: a write failed (${(err as Error).message}); it did not happen, trying once more`);
      }
    }
    throw firstErr;
  }

  /** Create the flag (type "release") in the project; a flag created meanwhile is fine. */
  async createFeature(flag: string): Promise<UnleashFeature> {
    // null = created (by us); a string = Unleash's 409 answer.
    const conflict = await this.writeOnce<string | null>(
      flag,
      async () => {
        const res = await this.call({
          method: 'POST',
          url: `${this.projectUrl()}/features`,
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
      throw new BackendError(this.name, `cannot create flag ${flag} in project ${this.o.project}: ${redact(serverMessage(conflict))}`, {
        status: 409,
        hint: 'Flag names are unique across projects and the archive: use the project that has it, or revive/delete the archived flag.',
      });
    }
    this.log(`${this.name}: created flag ${flag} in project ${this.o.project}`);
    // A new flag is off in every environment and has no strategies: no need to read it back.
    // (If the environment does not exist, the first write to it fails with Unleash's message.)
    return { name: flag, project: this.o.project, environments: [{ name: this.o.environment, enabled: false, strategies: [] }] };
  }

  /** Make `existing` look like `want` (PUT), or create `want` when there is none (POST, once). */
  async putStrategy(flag: string, existing: UnleashStrategy | undefined, want: UnleashStrategy): Promise<void> {
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

  /** Remove a strategy (one already gone is fine). */
  async deleteStrategy(flag: string, s: UnleashStrategy): Promise<void> {
    if (s.id) await this.call({ method: 'DELETE', url: `${this.envUrl(flag)}/strategies/${encodeURIComponent(s.id)}`, okStatuses: [404] });
  }

  /** Switch the environment on or off. Setting a state: repeating it is harmless, so it may retry. */
  async setEnabled(flag: string, on: boolean): Promise<void> {
    await this.call({ method: 'POST', url: `${this.envUrl(flag)}/${on ? 'on' : 'off'}`, idempotent: true });
  }

  /** Unleash's bulk toggle: POST …/bulk_features/environments/<env>/off with {features: [...]}. */
  async disableMany(flags: string[]): Promise<void> {
    const url = `${this.projectUrl()}/bulk_features/environments/${encodeURIComponent(this.o.environment)}/off`;
    for (let i = 0; i < flags.length; i += BULK_CHUNK) {
      await this.call({ method: 'POST', url, body: { features: flags.slice(i, i + BULK_CHUNK) }, idempotent: true });
    }
  }

  /** The named Unleash segments, with their constraints; fails naming the unknown ones. */
  async segments(names: string[]): Promise<Map<string, UnleashSegment>> {
    const res = await this.call({ method: 'GET', url: `${this.o.base}/api/admin/segments` });
    const list = res.json<{ segments?: UnleashSegment[] }>().segments ?? [];
    const byName = new Map(list.map((x) => [x.name, x]));
    const unknown = names.filter((n) => !byName.has(n));
    if (unknown.length) {
      throw new BackendError(this.name, `unknown Unleash segment${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `"${n}"`).join(', ')} (known: ${[...byName.keys()].join(', ') || 'none'})`, {
        hint: 'Create the segment in Unleash first (Segments page or POST /api/admin/segments); rollout does not create segments.',
      });
    }
    return new Map(names.map((n) => [n, byName.get(n)!]));
  }

  /** Ids of the named Unleash segments; fails naming the unknown ones. */
  async segmentIds(names: string[]): Promise<Map<string, number>> {
    return new Map([...(await this.segments(names))].map(([n, x]) => [n, x.id]));
  }

  /** Constraints need a defined context field: create the ring field once if Unleash lacks it. */
  async ensureContextField(name: string): Promise<void> {
    if (this.contextFieldReady.has(name)) return;
    const url = `${this.o.base}/api/admin/context`;
    const fields = (await this.call({ method: 'GET', url })).json<Array<{ name: string }>>();
    if (!Array.isArray(fields) || !fields.some((f) => f.name === name)) {
      // Creating it twice fails with 409 at worst: that, too, means it exists.
      await this.call({ method: 'POST', url, body: { name, description: 'The ring of the user (rollout ring steps)', stickiness: false }, idempotent: false, okStatuses: [409] });
      this.log(`${this.name}: created the context field "${name}" for ring steps; the application sets it to the user's ring`);
    }
    this.contextFieldReady.add(name);
  }
}
