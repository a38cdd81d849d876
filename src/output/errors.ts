/** Human rendering of a RolloutError: the message, every plan issue with its position, the hint. */
import { PlanError, type RolloutError } from '../errors.js';
import { redact } from '../util/redact.js';
import { style } from './style.js';

export function formatIssues(err: PlanError): string[] {
  return err.issues.map((i) => {
    const where = `${err.file}${i.line ? `:${i.line}:${i.col ?? 1}` : ''}`;
    const sev = i.severity === 'error' ? style.red('error') : style.yellow('warning');
    return `${where}: ${sev}: ${i.message}${i.path ? style.dim(` (${i.path})`) : ''}`;
  });
}

export function formatError(err: RolloutError): string {
  const lines: string[] = [];
  if (err instanceof PlanError && (err.issues.length > 1 || !err.issues[0]?.line)) {
    lines.push(...formatIssues(err));
    const n = err.issues.filter((i) => i.severity === 'error').length;
    if (err.issues.length > 1) lines.push(style.red(`${n} error${n === 1 ? '' : 's'} in ${err.file}`));
  } else if (err instanceof PlanError) {
    lines.push(...formatIssues(err));
  } else lines.push(`${style.red('error:')} ${redact(err.message)}`);
  if (err.hint) lines.push(`${style.dim('hint:')} ${redact(err.hint)}`);
  return lines.join('\n');
}
