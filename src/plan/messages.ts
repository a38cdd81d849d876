/**
 * Schema messages in the user's words. zod's defaults ("Invalid input: expected number,
 * received string") say what the parser wanted, not what to write: these say what to write.
 * Used as the parse-level error map (schema-level messages, e.g. durations and percentages in
 * schema.ts, take precedence).
 */
const shown = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? 'a list' : v === null ? 'null' : typeof v === 'object' ? 'a mapping' : String(v));

export function planMessage(iss: { code?: string; expected?: string; input?: unknown; path?: PropertyKey[] }): string | undefined {
  if (iss.code !== 'invalid_type') return undefined;
  const v = iss.input;
  const key = iss.path?.length ? String(iss.path[iss.path.length - 1]) : undefined;
  if (v === undefined) return key && !/^\d+$/.test(key) ? `"${key}" is required` : 'a value is required here';
  switch (iss.expected) {
    case 'number':
      if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return `write ${v.trim()} without quotes: a number, not the text ${shown(v)}`;
      return `expected a number, not ${shown(v)}`;
    case 'boolean':
      if (typeof v === 'string' && /^(true|false|yes|no|on|off)$/i.test(v.trim()))
        return `write ${/^(true|yes|on)$/i.test(v.trim()) ? 'true' : 'false'} without quotes, not the text ${shown(v)}`;
      return `expected true or false, not ${shown(v)}`;
    case 'array':
      if (typeof v === 'string' || typeof v === 'number') return `write a list: ${key && !/^\d+$/.test(key) ? `${key}: ` : ''}[${String(v)}], not ${shown(v)}`;
      return `expected a list ([a, b] or one "- item" per line), not ${shown(v)}`;
    case 'string':
      return `expected text, not ${shown(v)}${typeof v === 'number' || typeof v === 'boolean' ? ` (quote it: "${String(v)}")` : ''}`;
    case 'object':
      return `expected a mapping (key: value), not ${shown(v)}`;
    default:
      return undefined;
  }
}
