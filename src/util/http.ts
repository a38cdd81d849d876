/**
 * All HTTP goes through here (undici). Idempotent requests retry with exponential backoff and
 * full jitter under a time budget, honouring Retry-After; non-idempotent ones never retry.
 * Failures become BackendError naming the backend, the HTTP status and the server's message.
 *
 * Why not undici's RetryAgent / RetryHandler (weighed for issue 11, undici 7.30): the retry
 * loop in http() is ~25 lines, and RetryHandler differs where the fault matrix
 * (test/reliability/faults.test.ts) and the adapters rely on this one:
 *   - it counts retries (maxRetries) and caps a long Retry-After at maxTimeout, then waits;
 *     here a budget in time (`retryBudgetMs`) bounds the whole call, and a Retry-After beyond
 *     the budget fails at once with the server's 429 message (the run pauses, no silent wait);
 *   - which calls may repeat is per request here (`idempotent`: Unleash's on/off POSTs and
 *     LaunchDarkly's semantic PATCH state an end value and retry; creating a flag never does),
 *     per agent there (`methods`);
 *   - per-attempt timeouts are not retried there (UND_ERR_HEADERS_TIMEOUT is not in its
 *     errorCodes) and its backoff has no jitter, so workers sharing a backend retry in step;
 *   - on giving up it throws RequestRetryError('Request failed', status) without the answer's
 *     body (throwOnError: false hands the last answer on instead, but then says nothing of the
 *     attempts): the server's own message ("HTTP 503: service temporarily unavailable"), the
 *     "gave up after N attempts in T ms" and the hint every failure carries would be rebuilt
 *     around it anyway.
 */
import { BackendError, errorMessage } from '../errors.js';
import { redact } from './redact.js';

export interface HttpRequest {
  /** Backend name for errors, e.g. "unleash". */
  backend: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** Object → JSON body; string → sent as is. */
  body?: unknown;
  /** Per-attempt timeout, ms (default 10 s). */
  timeoutMs?: number;
  /** May this call be repeated safely? Default: true for GET/PUT/DELETE, false for POST/PATCH. */
  idempotent?: boolean;
  /** Total time budget for retries, ms (default 15 s). 0 disables retries. */
  retryBudgetMs?: number;
  /** Statuses that are not errors (e.g. 409 for "already exists"). */
  okStatuses?: number[];
  /** Skip TLS verification (plan opt-in only; a warning is printed by the caller). */
  insecure?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = unknown>(): T;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let insecureAgent: unknown;
async function dispatcherFor(insecure: boolean | undefined): Promise<unknown> {
  if (!insecure) return undefined;
  if (!insecureAgent) {
    const { Agent } = await import('undici');
    insecureAgent = new Agent({ connect: { rejectUnauthorized: false } });
  }
  return insecureAgent;
}

function parseRetryAfter(v: string | string[] | undefined): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (!s) return undefined;
  const secs = Number(s);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const at = Date.parse(s);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/**
 * A server's own error text from its answer: JSON `message` / `error` / `errors`, with the
 * `details` list when there is one (Unleash's validation errors say only "refer to the details"
 * in `message`: the details are the useful part); the raw text (cut to 300) when not JSON.
 */
export function serverMessage(text: string): string {
  try {
    const j = JSON.parse(text) as Record<string, unknown>;
    const details = Array.isArray(j.details)
      ? (j.details as Array<Record<string, unknown> | null>).map((d) => d?.message ?? d?.description).filter((m): m is string => typeof m === 'string' && m.length > 0)
      : [];
    const m = j.message ?? j.error ?? j.errors;
    // "…invalid data. Refer to the `details` list for more information." — the details follow.
    const msg = typeof m === 'string' ? m.replace(/\.?\s*Refer to the `?details`? list[^]*$/i, '') : m ? JSON.stringify(m) : '';
    const extra = [...new Set(details)].filter((d) => !msg.includes(d)).join('; ');
    if (msg || extra) return [msg, extra].filter(Boolean).join(': ');
  } catch {
    /* not JSON */
  }
  return text.trim().slice(0, 300) || '(empty response)';
}

/** One attempt. Throws BackendError (retryable set for transient failures). */
async function attempt(req: HttpRequest): Promise<HttpResponse> {
  const { request } = await import('undici');
  const headers: Record<string, string> = { accept: 'application/json', ...req.headers };
  let body: string | undefined;
  if (req.body !== undefined) {
    body = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  }
  const timeout = req.timeoutMs ?? 10_000;
  let res;
  try {
    res = await request(req.url, {
      method: req.method,
      headers,
      body,
      headersTimeout: timeout,
      bodyTimeout: timeout,
      signal: AbortSignal.timeout(timeout),
      dispatcher: (await dispatcherFor(req.insecure)) as never,
    });
  } catch (err) {
    const e = err as { code?: unknown; name?: string; message?: string; cause?: { code?: unknown } };
    const code = String(e.cause?.code ?? e.code ?? e.name ?? '');
    // undici reports timeouts as TimeoutError / AbortError, or with numeric DOMException codes (23).
    const timedOut = /timeout|abort/i.test(`${code} ${e.name ?? ''} ${e.message ?? ''}`);
    // A certificate the server presents will not change on retry: fail fast with a hint.
    const tls = /CERT|SSL|TLS|SELF_SIGNED/i.test(code);
    throw new BackendError(req.backend, `${req.method} ${redact(req.url)} failed: ${timedOut ? `timed out after ${timeout} ms` : redact(errorMessage(err))}${code && !timedOut && !/^\d+$/.test(code) ? ` (${code})` : ''}`, {
      retryable: !tls,
      // A timed-out write may or may not have happened: callers re-read before acting again.
      hint:
        code === 'ECONNREFUSED'
          ? 'Is the server running, and is the URL right?'
          : tls
            ? 'The TLS certificate was refused. Fix the certificate (or its CA via NODE_EXTRA_CA_CERTS); opting out of verification is possible per adapter but insecure.'
            : undefined,
      cause: err,
    });
  }
  const text = await res.body.text();
  const status = res.statusCode;
  const out: HttpResponse = {
    status,
    headers: res.headers as Record<string, string | string[] | undefined>,
    text,
    json<T>() {
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new BackendError(req.backend, `${req.method} ${redact(req.url)}: response is not valid JSON: ${redact(text.slice(0, 120))}`, { status, retryable: true });
      }
    },
  };
  if (status < 400 || req.okStatuses?.includes(status)) return out;
  const retryable = status === 429 || status >= 500;
  const hint =
    status === 401 || status === 403
      ? 'Check the API token: is it set, valid, and allowed to do this?'
      : status === 404
        ? 'Check the URL, project, environment and flag name.'
        : undefined;
  throw new BackendError(req.backend, redact(serverMessage(text)), {
    status,
    retryable,
    retryAfterMs: parseRetryAfter(res.headers['retry-after']),
    hint,
  });
}

export async function http(req: HttpRequest): Promise<HttpResponse> {
  const idempotent = req.idempotent ?? (req.method === 'GET' || req.method === 'PUT' || req.method === 'DELETE');
  const budget = idempotent ? (req.retryBudgetMs ?? 15_000) : 0;
  const started = Date.now();
  let delay = 200;
  for (let n = 1; ; n++) {
    try {
      return await attempt(req);
    } catch (err) {
      if (!(err instanceof BackendError) || !err.retryable || budget <= 0) throw err;
      const wait = err.retryAfterMs ?? Math.random() * delay; // full jitter
      if (Date.now() - started + wait > budget) {
        const msg = err.message.replace(`${req.backend}: `, '').replace(err.status ? `HTTP ${err.status}: ` : '\u0000', '');
        throw new BackendError(req.backend, `${msg} (gave up after ${n} attempt${n === 1 ? '' : 's'} in ${Date.now() - started} ms)`, {
          status: err.status,
          retryAfterMs: err.retryAfterMs,
          retryable: false,
          hint: err.hint,
          cause: err,
        });
      }
      await sleep(wait);
      delay = Math.min(delay * 2, 5_000);
    }
  }
}
