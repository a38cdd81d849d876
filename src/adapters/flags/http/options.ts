/**
 * The `http` backend's options: the requests (apply, disable, bulkDisable, freeze/unfreeze,
 * read), presets for known APIs, and how a preset and the plan's options merge into the
 * requests the backend sends.
 */
import { z } from 'zod';
import { httpUrl, insecureTls, flagRetryBudgetMs, flagTimeoutMs } from '../../options.js';
import { TEMPLATE_VARIABLES, templateNames } from './templates.js';

export const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type Method = (typeof METHODS)[number];

const requestSpec = z.strictObject({
  method: z.enum(METHODS).optional(),
  /** Path template appended to baseUrl; {{flag}} is URL-encoded. */
  path: z.string().min(1).optional(),
  /** JSON body template (docs/adapters.md, Templates); a string is parsed as JSON. */
  body: z.unknown().optional(),
  /** May the request be repeated after a 429/5xx/timeout? Default by method. */
  idempotent: z.boolean().optional(),
  /** Extra statuses that count as success. */
  okStatuses: z.array(z.number().int().min(100).max(599)).optional(),
});

export const readSpec = z.strictObject({
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
    timeoutMs: flagTimeoutMs,
    retryBudgetMs: flagRetryBudgetMs,
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

export interface ResolvedRequest {
  method: Method;
  path: string;
  body?: unknown;
  idempotent?: boolean;
  okStatuses?: number[];
}


export type ReadRequest = ResolvedRequest & z.infer<typeof readSpec>;

/** The requests the backend sends: each one the preset's, overridden field by field by the plan's. */
export interface Requests {
  apply: ResolvedRequest;
  read: ReadRequest;
  disable?: ResolvedRequest;
  bulkDisable?: ResolvedRequest & { item: unknown };
  freeze?: ResolvedRequest;
  unfreeze?: ResolvedRequest;
}

export function resolveRequests(o: HttpBackendOptions): Requests {
  const preset = o.preset ? PRESETS[o.preset] : undefined;
  const parseBody = (b: unknown) => (typeof b === 'string' ? (JSON.parse(b) as unknown) : b);
  const a = { ...preset?.apply, ...o.apply };
  const r = { ...preset?.read, ...o.read };
  const spec = (k: 'disable' | 'freeze' | 'unfreeze', method: Method): ResolvedRequest | undefined => {
    const m = { ...(preset && k in preset ? (preset as Record<string, object>)[k] : {}), ...o[k] } as z.input<typeof requestSpec>;
    return m.path ? { ...m, method: m.method ?? method, path: m.path, body: parseBody(m.body) } : undefined;
  };
  const bulk = { ...preset?.bulkDisable, ...o.bulkDisable } as z.input<typeof bulkSpec>;
  return {
    apply: { ...a, method: a.method ?? 'PUT', path: a.path!, body: parseBody(a.body) },
    read: { ...r, method: r.method ?? 'GET', path: r.path!, body: parseBody(r.body) },
    disable: spec('disable', 'PUT'),
    freeze: spec('freeze', 'POST'),
    unfreeze: spec('unfreeze', 'DELETE'),
    bulkDisable: bulk.path ? { ...bulk, method: bulk.method ?? 'POST', path: bulk.path, item: parseBody(bulk.item) } : undefined,
  };
}
