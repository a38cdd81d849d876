/**
 * OpenFeature Remote Evaluation Protocol (OFREP v1) for the local flag store, so an app reads
 * the flags rollout drives through the official OpenFeature SDKs with no flag server:
 *   POST /ofrep/v1/evaluate/flags/{key}   one flag   → 200 | 400 | 404
 *   POST /ofrep/v1/evaluate/flags         every flag → 200 (+ ETag) | 304 | 400
 * The answer is the one `rollout evaluate` gives (same function, same bucketing):
 * targetingKey is the user key; context `ring` and `segment` as `--ring` and segments.
 * Boolean flags: value true/false, variant "on"/"off", reason SPLIT (gradual rollout),
 * TARGETING_MATCH (allowlisted user or segment) or DISABLED (flag off).
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { evaluate as evalFlag, type StoredFlag } from '../adapters/flags/local.js';

export type OfrepError = 'PARSE_ERROR' | 'TARGETING_KEY_MISSING' | 'INVALID_CONTEXT' | 'FLAG_NOT_FOUND' | 'GENERAL';

export interface OfrepAnswer {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * The flag store file, re-read only when it changed: a watch on its directory marks it dirty
 * (a write is seen at once), and it is re-checked (stat) at least every second anyway, so a
 * request costs no file-system call in the common case.
 */
export class FlagSource {
  private cached?: { key: string; flags: Record<string, StoredFlag>; hash: string };
  private dirty = true;
  private checkedAt = 0;
  private watcher?: FSWatcher;
  constructor(readonly path: string) {}

  private watch(): void {
    if (this.watcher) return;
    try {
      const name = basename(this.path);
      this.watcher = watch(dirname(this.path), { persistent: false }, (_ev, f) => {
        if (!f || String(f).startsWith(name)) this.dirty = true;
      });
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      /* the directory does not exist yet: stat every time until it does */
    }
  }

  close(): void {
    this.watcher?.close();
  }

  async get(): Promise<{ flags: Record<string, StoredFlag>; hash: string }> {
    this.watch();
    if (this.cached && !this.dirty && this.watcher && Date.now() - this.checkedAt < 1000) return this.cached;
    this.dirty = false;
    this.checkedAt = Date.now();
    const st = await stat(this.path).catch(() => undefined);
    const key = st ? `${st.size}:${st.mtimeMs}:${st.ino}` : 'none';
    if (this.cached?.key === key) return this.cached;
    let text = '{}';
    if (st) text = await readFile(this.path, 'utf8').catch(() => '{}');
    let flags: Record<string, StoredFlag>;
    try {
      flags = JSON.parse(text) as Record<string, StoredFlag>;
    } catch {
      // Being rewritten (atomic rename makes this rare): answer from what we had.
      this.dirty = true;
      if (this.cached) return this.cached;
      flags = {};
    }
    this.cached = { key, flags, hash: createHash('sha1').update(text).digest('hex') };
    return this.cached;
  }
}

interface Ctx {
  targetingKey?: unknown;
  ring?: unknown;
  segment?: unknown;
  [k: string]: unknown;
}

const fail = (status: number, errorCode: OfrepError, errorDetails: string, key?: string): OfrepAnswer => ({ status, body: key === undefined ? { errorCode, errorDetails } : { key, errorCode, errorDetails } });

/** The request body → the evaluation context, or the error answer. */
function parseContext(raw: string, key?: string): { ctx: Ctx } | { error: OfrepAnswer } {
  let body: unknown;
  try {
    body = raw.trim() ? JSON.parse(raw) : {};
  } catch {
    return { error: fail(400, 'PARSE_ERROR', 'the request body is not valid JSON', key) };
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) return { error: fail(400, 'PARSE_ERROR', 'the request body must be a JSON object: {"context": {...}}', key) };
  const ctx = (body as { context?: unknown }).context ?? {};
  if (!ctx || typeof ctx !== 'object' || Array.isArray(ctx)) return { error: fail(400, 'INVALID_CONTEXT', '"context" must be an object', key) };
  const c = ctx as Ctx;
  if (c.targetingKey !== undefined && typeof c.targetingKey !== 'string') return { error: fail(400, 'INVALID_CONTEXT', 'context.targetingKey must be a string', key) };
  return { ctx: c };
}

function one(key: string, f: StoredFlag, ctx: Ctx): { ok: true; body: unknown } | { ok: false; body: unknown } {
  const targetingKey = typeof ctx.targetingKey === 'string' && ctx.targetingKey !== '' ? ctx.targetingKey : undefined;
  const ring = typeof ctx.ring === 'string' ? ctx.ring : undefined;
  const segment = typeof ctx.segment === 'string' ? ctx.segment : undefined;
  // An enabled flag is bucketed by user: without a key there is no answer to give.
  if (f.enabled && targetingKey === undefined) return { ok: false, body: { key, errorCode: 'TARGETING_KEY_MISSING', errorDetails: `flag ${key} is rolled out by user: send context.targetingKey (the user id)` } };
  const r = evalFlag(key, f, targetingKey ?? '', { ring, segment });
  const reason = !f.enabled ? 'DISABLED' : f.users?.includes(targetingKey ?? '') || (segment && f.segments?.includes(segment)) ? 'TARGETING_MATCH' : 'SPLIT';
  const pct = ring && f.rings && ring in f.rings ? f.rings[ring]! : f.percentage;
  return { ok: true, body: { key, value: r.enabled, variant: r.enabled ? 'on' : 'off', reason, metadata: { percentage: f.enabled ? pct : 0, ...(ring ? { ring } : {}) } } };
}

export async function evaluateFlag(src: FlagSource, key: string, raw: string): Promise<OfrepAnswer> {
  const p = parseContext(raw, key);
  if ('error' in p) return p.error;
  const ctx = p.ctx;
  const { flags } = await src.get();
  const f = Object.hasOwn(flags, key) ? flags[key] : undefined;
  if (!f) return fail(404, 'FLAG_NOT_FOUND', `flag ${key} is not in the flag store (${src.path})`, key);
  const r = one(key, f, ctx);
  return { status: r.ok ? 200 : 400, body: r.body };
}

export async function evaluateAll(src: FlagSource, raw: string, ifNoneMatch: string | undefined): Promise<OfrepAnswer> {
  const p = parseContext(raw);
  if ('error' in p) return p.error;
  const ctx = p.ctx;
  const { flags, hash } = await src.get();
  // The answer depends on the store and the context: both are in the ETag.
  const etag = `"${createHash('sha1').update(hash).update(JSON.stringify(ctx)).digest('base64url').slice(0, 27)}"`;
  if (ifNoneMatch && ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag)) return { status: 304, headers: { etag } };
  const out = Object.keys(flags)
    .sort()
    .map((k) => one(k, flags[k]!, ctx).body);
  return { status: 200, body: { flags: out }, headers: { etag } };
}
