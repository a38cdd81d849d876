/**
 * Generic JSON webhook notifier.
 *
 *   notify:
 *     targets:
 *       hook:
 *         type: webhook
 *         url: ${ALERTS_WEBHOOK_URL}          # a credential: registered as a secret
 *         headers: { Authorization: "Bearer ${ALERTS_TOKEN}" }   # every value is a secret
 *         method: POST                        # or PUT (default POST)
 *         timeoutMs: 5000                     # per attempt (default 5000)
 *
 * Body (content-type application/json) is the Notice, exactly:
 *
 *   { "event": "rollback.started",            // run.started, step.applied, run.completed …
 *     "severity": "critical",                 // info | warning | critical
 *     "title": "🚨 EMERGENCY ROLLBACK: checkout",
 *     "text": "🚨 EMERGENCY ROLLBACK: error_rate 2.1% > 1% …",   // rendered template
 *     "fields": { "run": "r-1", "plan": "checkout", "percentage": 25, … } }
 *
 * Any 2xx answer is success. Anything else throws BackendError naming "webhook" with the HTTP
 * status and the server's message; the URL and header values never appear in it.
 *
 * Delivery is at-least-once: a POST is not idempotent, but losing a rollback alert is worse
 * than sending it twice, so a failed attempt is retried ONCE when the failure was a refused /
 * reset connection, a 5xx, or a 429 with a short Retry-After. A timed-out attempt is not
 * retried (the server may have got it, and waiting twice delays the caller). Each attempt is
 * a non-retrying http() call; the one retry is done here so the count is exact.
 */
import { z } from 'zod';
import { httpUrl, insecureTls, warnInsecureTls } from '../options.js';
import { BackendError, errorMessage } from '../../errors.js';
import { http, type HttpRequest, type HttpResponse } from '../../util/http.js';
import { looksSecret, redact, redactDeep, registerSecret } from '../../util/redact.js';
import type { Notice, Notifier, NotifierFactory } from '../types.js';

export const options = z.strictObject({
  url: httpUrl().describe('Webhook URL (a credential: kept out of logs and errors).'),
  headers: z.record(z.string(), z.string()).default({}).describe('Extra request headers; every value is treated as a secret.'),
  method: z.enum(['POST', 'PUT']).default('POST'),
  timeoutMs: z.number().int().min(100).max(120_000).default(5_000).describe('Per-attempt timeout in ms (default 5000).'),
  insecureTls,
});
export type WebhookOptions = z.output<typeof options>;

/** Pause before the single retry, and the longest Retry-After we are willing to honour. */
export const RETRY_DELAY_MS = 250;
export const MAX_RETRY_WAIT_MS = 2_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/i;

/**
 * Register a webhook URL as a secret: the whole URL, its path when it is long enough to carry
 * a token (Slack: /services/T…/B…/…), token-like path segments and query values.
 */
export function registerUrlSecret(url: string, opts: { wholePath?: boolean } = {}): void {
  registerSecret(url);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return;
  }
  registerSecret(u.href);
  if (opts.wholePath && u.pathname.length > 1) registerSecret(u.pathname);
  for (const seg of u.pathname.split('/')) {
    // Token-like: long and mixing letters and digits. In a Slack-style URL every segment that is
    // not a plain lowercase word ("services") is an id or the token: T0123ABCD, B0456EFGH, XyZ….
    const tokenLike = opts.wholePath ? seg.length >= 6 && !/^[a-z-]+$/.test(seg) : seg.length >= 16 && /\d/.test(seg) && /[a-z]/i.test(seg);
    if (tokenLike) registerSecret(safeDecode(seg));
  }
  for (const [k, v] of u.searchParams) if (looksSecret(k) || v.length >= 16) registerSecret(v);
  if (u.password) registerSecret(safeDecode(u.password));
  if (u.username) registerSecret(safeDecode(u.username));
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** "host[:port]" of a URL: safe to show (no path, query or credentials). */
export function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return '(invalid URL)';
  }
}

/** Warn when a credential URL would travel unencrypted to a non-local host. */
export function warnIfPlainHttp(backend: string, url: string, log: (msg: string) => void): void {
  try {
    const u = new URL(url);
    if (u.protocol === 'http:' && !LOOPBACK.test(u.hostname))
      log(`${backend}: warning: the webhook URL uses plain http to ${u.host}; the URL is a credential and travels unencrypted`);
  } catch {
    /* the schema rejects invalid URLs */
  }
}

export interface DeliverRequest extends Pick<HttpRequest, 'backend' | 'method' | 'url' | 'headers' | 'body' | 'timeoutMs' | 'insecure'> {
  /** Event name, for the error message. */
  event: string;
  /** Extra hint for a failure (status, server message) → hint, or undefined for the default. */
  hintFor?: (status: number | undefined, message: string) => string | undefined;
}

/** Strip "backend: " and "HTTP nnn: " that BackendError put in front of the message. */
function detailOf(err: BackendError, backend: string): string {
  let m = err.message;
  if (m.startsWith(`${backend}: `)) m = m.slice(backend.length + 2);
  if (err.status && m.startsWith(`HTTP ${err.status}: `)) m = m.slice(`HTTP ${err.status}: `.length);
  return m;
}

/** Did this attempt fail by running out of time (not by a refusal or an HTTP status)? */
function isTimeout(err: BackendError, elapsedMs: number, timeoutMs: number): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { name, code, message } = e as { name?: unknown; code?: unknown; message?: unknown };
    if (name === 'TimeoutError' || (typeof code === 'string' && /TIMEOUT/i.test(code))) return true;
    if (typeof message === 'string' && /timed out|due to timeout/i.test(message)) return true;
  }
  return elapsedMs >= timeoutMs * 0.95;
}

/**
 * POST/PUT a notice with at most one retry (see the header comment). Returns the response on
 * 2xx; throws BackendError (never retryable: the retry has been spent) otherwise.
 */
export async function deliver(req: DeliverRequest): Promise<HttpResponse> {
  const { event, hintFor, ...request } = req;
  const where = hostOf(req.url);
  const started = Date.now();
  const timeoutMs = req.timeoutMs ?? 10_000;
  for (let attempt = 1; ; attempt++) {
    const t0 = Date.now();
    try {
      return await http({ ...request, idempotent: false, retryBudgetMs: 0 });
    } catch (raw) {
      const err =
        raw instanceof BackendError
          ? raw
          : new BackendError(req.backend, `${req.method} to ${where} failed: ${redact(errorMessage(raw))}`, { retryable: true, cause: raw });
      const timedOut = err.status === undefined && isTimeout(err, Date.now() - t0, timeoutMs);
      let detail = timedOut
        ? `${req.method} ${where} timed out after ${timeoutMs} ms (the notice may or may not have arrived)`
        : redact(detailOf(err, req.backend)).split(`${req.method} ***`).join(`${req.method} ${where}`);
      const wait = err.retryAfterMs ?? RETRY_DELAY_MS;
      if (attempt === 1 && err.retryable && !timedOut && wait <= MAX_RETRY_WAIT_MS) {
        await sleep(wait);
        continue;
      }
      if (attempt > 1) detail += ` (after ${attempt} attempts in ${Date.now() - started} ms)`;
      throw new BackendError(req.backend, `${event} notice not delivered: ${detail}`, {
        status: err.status,
        retryable: false,
        hint: hintFor?.(err.status, detail) ?? err.hint,
        cause: err,
      });
    }
  }
}

export const create: NotifierFactory = (raw, ctx) => {
  const o = options.parse(raw);
  registerUrlSecret(o.url);
  for (const v of Object.values(o.headers)) registerSecret(v);
  warnIfPlainHttp('webhook', o.url, ctx.log);
  const where = hostOf(o.url);
  warnInsecureTls(ctx, `webhook (${where})`, o.insecureTls);
  return {
    name: `webhook (${where})`,
    async send(notice: Notice): Promise<void> {
      const body: Notice = redactDeep({
        event: notice.event,
        severity: notice.severity,
        title: notice.title,
        text: notice.text,
        fields: notice.fields,
      });
      await deliver({
        backend: 'webhook',
        event: notice.event,
        method: o.method,
        url: o.url,
        headers: o.headers,
        body,
        timeoutMs: o.timeoutMs,
        insecure: o.insecureTls,
        hintFor: (status) =>
          status === 404 || status === 410
            ? `Check the webhook URL (${where}): the receiver does not know it.`
            : status === 401 || status === 403
              ? 'Check the webhook credentials (headers / token in the URL).'
              : undefined,
      });
    },
  } satisfies Notifier;
};
