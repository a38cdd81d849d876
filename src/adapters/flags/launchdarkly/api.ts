/**
 * The two calls the LaunchDarkly adapter makes to REST API v2: read a flag with one
 * environment (`GET /api/v2/flags/{project}/{flag}?env={env}`) and change it with a semantic
 * patch (`PATCH` with `Content-Type: application/json; domain-model=launchdarkly.semanticpatch`).
 * The flag representation below is the part of LaunchDarkly's that rollout reads.
 */
import { BackendError } from '../../../errors.js';
import { http } from '../../../util/http.js';

export const SEMANTIC_PATCH = 'application/json; domain-model=launchdarkly.semanticpatch';

export interface LdVariation {
  _id: string;
  value: unknown;
  name?: string;
}
export interface LdTarget {
  values: string[];
  variation: number;
  contextKind?: string;
}
export interface LdRollout {
  variations: Array<{ variation: number; weight: number }>;
  bucketBy?: string;
  contextKind?: string;
}
export interface LdClause {
  attribute: string;
  op: string;
  values: unknown[];
  negate?: boolean;
  contextKind?: string;
}
/** A targeting rule, or (without `_id`, clauses) the default rule, `fallthrough`: one variation or a rollout. */
export interface LdServe {
  variation?: number;
  rollout?: LdRollout;
}
export interface LdRule extends LdServe {
  _id: string;
  description?: string;
  clauses: LdClause[];
}
export interface LdEnvironment {
  on: boolean;
  rules?: LdRule[];
  targets?: LdTarget[];
  contextTargets?: LdTarget[];
  fallthrough?: LdServe;
  offVariation?: number;
}
export interface LdFlag {
  key: string;
  kind?: string;
  variations: LdVariation[];
  environments?: Record<string, LdEnvironment>;
}

export type Instruction = Record<string, unknown> & { kind: string };

export interface ApiOptions {
  base: string;
  apiToken: string;
  projectKey: string;
  environmentKey: string;
  timeoutMs: number;
  retryBudgetMs: number;
}

export class LaunchDarklyApi {
  constructor(
    /** The adapter's name, for errors. */
    private readonly name: string,
    private readonly o: ApiOptions,
  ) {}

  private flagUrl(flag: string, withEnv: boolean): string {
    const u = `${this.o.base}/api/v2/flags/${encodeURIComponent(this.o.projectKey)}/${encodeURIComponent(flag)}`;
    return withEnv ? `${u}?env=${encodeURIComponent(this.o.environmentKey)}` : u;
  }

  /** The flag with the configured environment; undefined when it does not exist. */
  async getFlag(flag: string): Promise<LdFlag | undefined> {
    const res = await http({
      backend: this.name,
      method: 'GET',
      url: this.flagUrl(flag, true),
      headers: { authorization: this.o.apiToken },
      timeoutMs: this.o.timeoutMs,
      retryBudgetMs: this.o.retryBudgetMs,
      okStatuses: [404],
    });
    if (res.status === 404) return undefined;
    const body = res.json<LdFlag>();
    if (!body || typeof body !== 'object' || !Array.isArray(body.variations)) {
      throw new BackendError(this.name, `GET flag ${flag}: unexpected response (no variations array)`, { status: res.status });
    }
    return body;
  }

  /** The configured environment of a flag. */
  environment(flag: LdFlag): LdEnvironment {
    const env = flag.environments?.[this.o.environmentKey];
    if (!env) {
      throw new BackendError(this.name, `flag ${flag.key} has no environment "${this.o.environmentKey}"`, {
        hint: 'Check environmentKey: it is the environment key (e.g. "production"), not its name.',
      });
    }
    return env;
  }

  /** One semantic patch of the configured environment (`comment` lands in the audit log). */
  async patch(flag: string, comment: string, instructions: Instruction[]): Promise<void> {
    await http({
      backend: this.name,
      method: 'PATCH',
      url: this.flagUrl(flag, false),
      headers: { authorization: this.o.apiToken, 'content-type': SEMANTIC_PATCH },
      body: { environmentKey: this.o.environmentKey, comment, instructions },
      timeoutMs: this.o.timeoutMs,
      // Every instruction states an end state (on/off, these weights, these targets), so
      // repeating the PATCH after a 429/5xx is safe. (addVariation is only sent for variations
      // the flag lacks; a repeat after a lost answer would be refused, not duplicated, by
      // the next apply's check — it looks the variations up by name first.)
      idempotent: true,
      retryBudgetMs: this.o.retryBudgetMs,
    });
  }
}
