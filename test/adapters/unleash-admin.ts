/**
 * A small, independent Unleash Admin API client for tests: arranges and inspects server state
 * without going through the adapter under test (plain fetch, bounded timeouts).
 */
import type { UnleashStrategy } from '../../src/adapters/flags/unleash.js';

export interface RawEnvironment {
  name: string;
  enabled: boolean;
  strategies: Array<UnleashStrategy & { id: string }>;
}
export interface RawFeature {
  name: string;
  project: string;
  environments: RawEnvironment[];
}

export class UnleashAdmin {
  constructor(
    readonly url: string,
    private readonly token: string,
    readonly project = 'default',
  ) {}

  async call(method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json: () => unknown }> {
    const res = await fetch(`${this.url}${path}`, {
      method,
      headers: { authorization: this.token, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, text, json: () => JSON.parse(text) as unknown };
  }

  private async ok(method: string, path: string, body?: unknown, allowed: number[] = []): Promise<{ status: number; text: string; json: () => unknown }> {
    const r = await this.call(method, path, body);
    if (r.status >= 400 && !allowed.includes(r.status)) throw new Error(`admin ${method} ${path}: HTTP ${r.status}: ${r.text.slice(0, 300)}`);
    return r;
  }

  private featurePath(flag: string): string {
    return `/api/admin/projects/${this.project}/features/${encodeURIComponent(flag)}`;
  }

  async feature(flag: string): Promise<RawFeature | undefined> {
    const r = await this.ok('GET', this.featurePath(flag), undefined, [404]);
    return r.status === 404 ? undefined : (r.json() as RawFeature);
  }

  async env(flag: string, env = 'development'): Promise<RawEnvironment> {
    const f = await this.feature(flag);
    const e = f?.environments.find((x) => x.name === env);
    if (!e) throw new Error(`admin: flag ${flag} has no environment ${env}`);
    return e;
  }

  async createFeature(flag: string): Promise<void> {
    await this.ok('POST', `/api/admin/projects/${this.project}/features`, { name: flag, type: 'release' }, [409]);
  }

  async addStrategy(flag: string, strategy: UnleashStrategy, env = 'development'): Promise<string> {
    const r = await this.ok('POST', `${this.featurePath(flag)}/environments/${env}/strategies`, strategy);
    return (r.json() as { id: string }).id;
  }

  async setEnabled(flag: string, on: boolean, env = 'development'): Promise<void> {
    await this.ok('POST', `${this.featurePath(flag)}/environments/${env}/${on ? 'on' : 'off'}`);
  }

  /** Flag exists, switched off, with no strategies in `env`. */
  async reset(flag: string, env = 'development'): Promise<void> {
    await this.createFeature(flag);
    const e = await this.env(flag, env);
    if (e.enabled) await this.setEnabled(flag, false, env);
    for (const s of e.strategies) await this.ok('DELETE', `${this.featurePath(flag)}/environments/${env}/strategies/${s.id}`, undefined, [404]);
  }

  /** Create a global segment of users (userId IN ids); returns its id. */
  async createSegment(name: string, userIds: string[]): Promise<number> {
    const r = await this.ok('POST', '/api/admin/segments', { name, constraints: [{ contextName: 'userId', operator: 'IN', values: userIds }] });
    return (r.json() as { id: number }).id;
  }

  /** Archive a flag (its name then stays taken until the archive entry is deleted). */
  async archive(flag: string): Promise<void> {
    await this.ok('DELETE', this.featurePath(flag), undefined, [404]);
  }

  /** Archive and delete for good. */
  async remove(flag: string): Promise<void> {
    await this.archive(flag);
    await this.ok('DELETE', `/api/admin/archive/${encodeURIComponent(flag)}`, undefined, [404]);
  }
}
