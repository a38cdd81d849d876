/**
 * Secrets never reach logs, state, events or error messages. Every value that came from a
 * secret source (an option named like a secret, or any ${VAR} whose name looks like one) is
 * registered here, and every string leaving the process passes through redact().
 */
const secrets = new Set<string>();

const SECRET_NAME = /(token|secret|password|passwd|api[-_]?key|app[-_]?key|application[-_]?key|auth|webhook|credential|private[-_]?key|dsn)/i;

export function looksSecret(name: string): boolean {
  return SECRET_NAME.test(name);
}

export function registerSecret(value: unknown): void {
  if (typeof value !== 'string') return;
  const v = value.trim();
  // Very short values would redact ordinary words; secrets are longer than this.
  if (v.length >= 6) secrets.add(v);
  // A bearer-style value: also hide the bare token.
  const m = /^(?:Bearer|Basic|Token|api-key)\s+(.{6,})$/i.exec(v);
  if (m?.[1]) secrets.add(m[1]);
}

export function clearSecrets(): void {
  secrets.clear();
}

const URL_USERINFO = /(\b[a-z][a-z0-9+.-]*:\/\/)([^/\s:@]+)(?::([^/\s@]*))?@/gi;
const URL_SECRET_PARAM = /([?&](?:token|access_token|api_key|apikey|key|secret|sig|signature|password)=)[^&\s#"']+/gi;

export function redact(text: string): string {
  let out = text;
  // Longest first, so a secret containing another is hidden whole.
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) {
    if (out.includes(s)) out = out.split(s).join('***');
  }
  out = out.replace(URL_USERINFO, (_m, scheme: string) => `${scheme}***@`);
  out = out.replace(URL_SECRET_PARAM, (_m, p: string) => `${p}***`);
  return out;
}

/** Deep-redact a JSON-able value (for state, events, --json output). */
export function redactDeep<T>(value: T): T {
  if (typeof value === 'string') return redact(value) as unknown as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v)) as unknown as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = redactDeep(v);
    return out as T;
  }
  return value;
}

/** Show a URL without credentials or query string: for adapter names and messages. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return redact(url);
  }
}
