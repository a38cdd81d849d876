import { PlanError, type PlanIssue } from '../errors.js';
import { formatIssues } from '../output/errors.js';
import { style } from '../output/style.js';
import { printJson, type Context } from './context.js';
import { safeText } from '../util/terminal.js';

export default async function validate(c: Context, files: string[], o: { programs?: boolean } = {}): Promise<number> {
  const { loadPlan } = await import('../plan/load.js');
  const results: Array<{ file: string; valid: boolean; issues: PlanIssue[]; hint?: string; plan?: string }> = [];
  for (const file of files) {
    try {
      const { plan, warnings } = await loadPlan(file, { programs: o.programs !== false, env: c.env, cwd: c.cwd });
      results.push({ file, valid: true, issues: warnings, plan: plan.name });
      if (!c.json) {
        for (const l of formatIssues(new PlanError(file, warnings))) c.stderr(l);
        c.stdout(`${style.green('✔')} ${safeText(file)}: plan "${safeText(plan.name)}" is valid (${plan.phases.length} phase(s), ${plan.phases.reduce((n, p) => n + p.steps.length, 0)} step(s), flags ${safeText(plan.flags.join(', '))})`);
      }
    } catch (err) {
      if (!(err instanceof PlanError)) throw err;
      results.push({ file, valid: false, issues: err.issues, hint: err.hint });
      if (!c.json) {
        for (const l of formatIssues(err)) c.stderr(l);
        const n = err.issues.filter((i) => i.severity === 'error').length;
        c.stderr(style.red(`✖ ${safeText(file)}: ${n} error${n === 1 ? '' : 's'}`) + (err.hint ? `\n${style.dim('hint:')} ${safeText(err.hint)}` : ''));
      }
    }
  }
  if (c.json) printJson(c, { valid: results.every((r) => r.valid), results });
  return results.every((r) => r.valid) ? 0 : 2;
}
