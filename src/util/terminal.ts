/**
 * Text from users and backends (reasons, names, error bodies, command output) is shown on a
 * terminal: a control character in it could clear the screen, set the window title, move the
 * cursor or start a fake line. Human output passes such text through safeText(), which writes
 * every control character as a visible escape (ESC → "\x1b", newline → "\n"); `--json` keeps
 * the original (JSON escapes it anyway).
 */

// C0 controls (TAB included: it shifts columns), DEL, C1 controls, and the Unicode line/paragraph
// separators and bidirectional overrides that reorder or break what the reader sees.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escape(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** One line of user or backend text, safe to print: no control character survives as such. */
export function safeText(s: string): string;
export function safeText(s: string | null | undefined): string | null | undefined;
export function safeText(s: string | null | undefined): string | null | undefined {
  if (typeof s !== 'string') return s;
  return s.replace(CONTROL, escape);
}

/** Multi-line text (command output): each line made safe on its own; line breaks kept. */
export function safeLines(s: string): string[] {
  return s.split(/\r?\n/).map((l) => safeText(l));
}

/** Does the text hold a character safeText() would escape? */
export function hasControl(s: string): boolean {
  CONTROL.lastIndex = 0;
  const found = CONTROL.test(s);
  CONTROL.lastIndex = 0;
  return found;
}
