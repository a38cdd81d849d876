/** Human rendering of a RolloutError: the message, every plan issue with its position, the hint. */
import { PlanError, type RolloutError } from '../errors.js';
import { redact } from '../util/redact.js';
import { safeText } from '../util/terminal.js';
import { style } from './style.js';

/** Each issue as `file:line:col: error: message`, then (like tsc) the line itself with a caret. */
export function formatIssues(err: PlanError): string[] {
  // In file order, so the carets read top to bottom; issues without a position first.
  const sorted = err.issues.map((i, n) => ({ i, n })).sort((a, b) => (a.i.line ?? 0) - (b.i.line ?? 0) || (a.i.col ?? 0) - (b.i.col ?? 0) || a.n - b.n);
  return sorted.flatMap(({ i }) => {
    const where = `${safeText(err.file)}${i.line ? `:${i.line}:${i.col ?? 1}` : ''}`;
    const sev = i.severity === 'error' ? style.red('error') : style.yellow('warning');
    const head = `${where}: ${sev}: ${safeText(i.message)}${i.path ? style.dim(` (${safeText(i.path)})`) : ''}`;
    if (i.source === undefined || !i.line) return [head];
    const num = String(i.line);
    const gutter = ' '.repeat(num.length);
    // Keep tabs as tabs so the caret lines up under them.
    const pad = i.source.slice(0, Math.max(0, (i.col ?? 1) - 1)).replace(/[^\t]/g, ' ');
    return [head, style.dim(`  ${num} | `) + redact(i.source).split('\t').map((x) => safeText(x)).join('\t'), style.dim(`  ${gutter} | `) + pad + (i.severity === 'error' ? style.red('^') : style.yellow('^'))];
  });
}

export function formatError(err: RolloutError): string {
  const lines: string[] = [];
  if (err instanceof PlanError && (err.issues.length > 1 || !err.issues[0]?.line)) {
    lines.push(...formatIssues(err));
    const n = err.issues.filter((i) => i.severity === 'error').length;
    if (err.issues.length > 1) lines.push(style.red(`${n} error${n === 1 ? '' : 's'} in ${safeText(err.file)}`));
  } else if (err instanceof PlanError) {
    lines.push(...formatIssues(err));
  } else lines.push(`${style.red('error:')} ${safeText(redact(err.message))}`);
  if (err.hint) lines.push(`${style.dim('hint:')} ${safeText(redact(err.hint))}`);
  return lines.join('\n');
}
