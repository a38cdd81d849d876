/**
 * Message templates for notifications. Pure, no dependencies.
 *
 * Why not a template library (weighed for issue 11, mustache 4.2, handlebars 4.7, eta 4.6): the
 * engine is the 15 lines of renderTemplate; the rest of this file is data (the variables, the
 * default texts). Each library does something these messages must not:
 *   - all three HTML-escape `{{x}}` by default ("checkout <v2> & co" → "checkout &lt;v2&gt;
 *     &amp; co"), wrong for Slack text, log lines and webhook JSON;
 *   - an unknown name renders as "" (mustache, handlebars) or "undefined" (eta), where this
 *     engine shows "{{name?}}" — and plan validation warns from templateVars(), which needs
 *     the names without rendering; handlebars' `strict` throws instead, on the first name only;
 *   - none has `{{name|fallback}}` (the default texts use it throughout) or our number
 *     shortening (33.3333333 → "33.3333");
 *   - eta compiles templates to JavaScript (`<%= process.version %>` runs): plan-supplied text
 *     must never be code;
 *   - size in dist/rollout.cjs: mustache 12 KB minified, handlebars 88 KB (29 KB runtime-only,
 *     which cannot compile plan text), for no gain in behaviour.
 *
 * Syntax
 *   {{name}}  or  {{ name }}         the variable's value
 *   {{name|fallback text}}           the fallback when the value is missing, null, undefined or ""
 *
 * Names are identifiers: a letter or "_", then letters, digits, "_", "." or "-". Anything else
 * between braces (e.g. "{{ not a name! }}") is left as written.
 *
 * Rendering rules
 *   - string → as is; boolean → "true"/"false"; integer → as is; other numbers are shortened
 *     (at most 4 decimals at or above 1, 4 significant digits below 1): 12.5 → "12.5",
 *     33.3333333 → "33.3333", 0.0012346 → "0.001235".
 *   - null / undefined / "" → the fallback if there is one, else "" (the variable is known but
 *     has no value here, e.g. nextPercentage on the last step).
 *   - a name that is not in `vars` at all → the fallback if there is one, else the explicit
 *     marker "{{name?}}". A typo thus shows up in the message instead of vanishing silently;
 *     plan validation catches it earlier with templateVars() / unknownTemplateVars().
 *
 * Variables the engine provides (TEMPLATE_VARIABLES; not every one exists for every event):
 *   plan, run, phase, step, flags, percentage, previousPercentage, nextPercentage, nextAt,
 *   targetPercentage, steps, status, checks, reason, failed, action, command, duration,
 *   startedAt, now, dashboard, runbook, owner; for announcements startsAt, date, time, lead, summary.
 */

export type TemplateValue = string | number | boolean | null | undefined;
export type TemplateVars = Record<string, TemplateValue>;
export type Severity = 'info' | 'warning' | 'critical';

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w.-]*)\s*(?:\|([^{}]*?))?\s*\}\}/g;

function formatValue(v: number | string | boolean): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (!Number.isFinite(v) || Number.isInteger(v)) return String(v);
  const rounded = Math.abs(v) >= 1 ? Math.round(v * 1e4) / 1e4 : Number(v.toPrecision(4));
  return String(rounded);
}

/** Render `template`, replacing {{name}} / {{name|fallback}} placeholders (rules above). */
export function renderTemplate(template: string, vars: TemplateVars): string {
  return template.replace(PLACEHOLDER, (_m, name: string, fallback: string | undefined) => {
    const known = Object.prototype.hasOwnProperty.call(vars, name);
    const v = known ? vars[name] : undefined;
    if (v === null || v === undefined || v === '') {
      if (fallback !== undefined) return fallback.trim();
      return known ? '' : `{{${name}?}}`;
    }
    return formatValue(v);
  });
}

/** The variable names a template uses, unique, in order of first use. */
export function templateVars(template: string): string[] {
  const seen = new Set<string>();
  for (const m of template.matchAll(PLACEHOLDER)) seen.add(m[1]!);
  return [...seen];
}

/** Variables a template uses that rollout never provides (for plan validation warnings). */
export function unknownTemplateVars(template: string): string[] {
  return templateVars(template).filter((n) => !Object.prototype.hasOwnProperty.call(TEMPLATE_VARIABLES, n));
}

/** Every variable rollout provides to templates, with what it holds. */
export const TEMPLATE_VARIABLES: Readonly<Record<string, string>> = {
  plan: 'plan name',
  run: 'run id',
  phase: 'current phase name',
  step: 'current step, e.g. "3/7"',
  flags: 'flag names, comma-separated',
  percentage: 'share of users enabled now, 0..100',
  previousPercentage: 'share enabled before this step / before the rollback',
  nextPercentage: 'share the next step enables (rollback.*: the share rolled back to); empty on the last step',
  nextAt: 'when the next step is due (ISO time, or a phrase such as "after approval"); empty on the last step',
  targetPercentage: 'share enabled when the plan completes (usually 100)',
  steps: 'the planned progression, e.g. "1% → 5% → 25% → 100%"',
  status: 'health in one word: green, yellow or red',
  checks: 'one line: each check value vs its threshold, e.g. "error_rate 0.3% (< 1%) ok; p99 180ms (< 200ms) ok"',
  reason: 'why this happened (breach, pause, rollback, failure), one line',
  failed: 'what failed (rollback.failed: the steps or commands that did not succeed)',
  action: 'what rollout does about it (breach.detected: pause, rollback or notify)',
  command: 'the rollout command a human should run next, if any',
  duration: 'time since the run started, e.g. "2d4h"',
  startedAt: 'when the run started (ISO time)',
  now: 'when this notice was sent (ISO time)',
  dashboard: 'dashboard link from the plan, if any',
  runbook: 'runbook link from the plan, if any',
  owner: 'who to contact (on-call) from the plan, if any',
  report: 'run.report: the report\'s name from notify.reports, if any',
  severity: 'page.*: the page\'s severity (notify.escalation), e.g. P0',
  severityMeans: 'page.*: what the severity means (its description)',
  page: 'page.*: the page\'s number in the run',
  paged: 'page.opened / page.escalated: who is paged now',
  skipped: 'page.escalated: who was paged before and did not acknowledge',
  next: 'page.opened / page.escalated: who is paged next if nobody acknowledges',
  repeat: 'page.escalated: "yes" when the chain has ended and its last level is paged again',
  waitingSince: 'page.*: when the page opened (ISO time)',
  ackBy: 'page.opened / page.escalated: acknowledge before this (ISO time)',
  ackWithin: 'page.*: the severity\'s acknowledgement time, e.g. "15m"',
  acknowledgedBy: 'page.acknowledged: who took the page',
  note: 'page.acknowledged: the note given with `rollout ack --note`',
  waited: 'page.acknowledged: how long the page waited',
  cohorts: 'rollback.cohort: the segments / rings rolled back or restored, e.g. "segment beta-users"',
  startsAt: 'when the run starts (ISO time): the scheduled start (startAt / --at), else when it started',
  date: 'the day the run starts, in windows.timezone, e.g. "Mon 7 Dec 2026"',
  time: 'the time of day the run starts, in windows.timezone, e.g. "09:00 CET"',
  lead: 'run.announced: how long before the start the announcement went out, e.g. "7d"',
  endDate: 'a scheduled run: the day the plan would end from its start (healthy, gates approved at once), e.g. "Mon 28 Dec 2026"; give a fallback',
  summary: 'the whole plan in one line: each phase with its steps, e.g. "canary 1% → 5% → 25%; full 100%"',
};

/** Events rollout notifies about. */
export const NOTICE_EVENTS = [
  'run.started',
  'step.applied',
  'run.completed',
  'run.paused',
  'breach.detected',
  'rollback.started',
  'rollback.completed',
  'rollback.failed',
  'rollback.cohort',
  'approval.requested',
  'run.report',
  'page.opened',
  'page.escalated',
  'page.acknowledged',
  'page.closed',
  'run.announced',
  'run.cancelled',
] as const;
export type NoticeEvent = (typeof NOTICE_EVENTS)[number];

/**
 * Default message texts, modelled on the rollout communication template (announcement,
 * progress update, completion) and the emergency-rollback alert ("🚨 EMERGENCY ROLLBACK:
 * reason", then escalation "Rollback failed - manual intervention required"). A plan's
 * notify.templates.<event> replaces the text for that event.
 */
export const DEFAULT_TEMPLATES: Readonly<Record<NoticeEvent, string>> = {
  'run.started': [
    'Rollout of {{flags}} is starting (plan {{plan}}, run {{run}}).',
    '',
    'Rollout plan:',
    '- Now: {{percentage}}% of traffic',
    '- Steps: {{steps|see the plan}}',
    '- Target: {{targetPercentage|100}}%',
    '- Automatic rollback if checks fail: {{checks|no checks configured}}',
    '',
    'Monitor: {{dashboard|n/a}}',
    'Runbook: {{runbook|n/a}}',
    'Contact {{owner|the rollout owner}} with questions.',
  ].join('\n'),
  'step.applied': [
    '{{plan}} rollout update (run {{run}})',
    '',
    'Current: {{percentage}}% enabled ({{phase}}, step {{step|?}})',
    'Status: {{status|green}}',
    'Metrics: {{checks|no checks configured}}',
    'Next: increase to {{nextPercentage|n/a}}% at {{nextAt|n/a}}',
  ].join('\n'),
  'run.completed': [
    '{{plan}} rollout complete ✅',
    '',
    'Final status:',
    '- {{percentage}}% of traffic enabled for {{flags}}',
    '- Metrics: {{checks|no checks configured}} (within thresholds)',
    '- Duration: {{duration|n/a}}',
    '',
    'Run {{run}}. Thank you for your support during the rollout!',
  ].join('\n'),
  'run.paused': [
    '⏸ {{plan}} rollout paused at {{percentage}}% ({{phase}}, run {{run}})',
    'Reason: {{reason|paused by an operator}}',
    'Metrics: {{checks|n/a}}',
    'Next: {{command|a human decides whether to resume or roll back}}',
  ].join('\n'),
  'breach.detected': [
    '⚠️ {{plan}}: check breached at {{percentage}}% ({{phase}}, run {{run}})',
    'Breach: {{reason}}',
    'Metrics: {{checks|n/a}}',
    'Action: {{action|pause}}',
  ].join('\n'),
  'rollback.started': [
    '🚨 EMERGENCY ROLLBACK: {{reason}}',
    'Plan: {{plan}} (run {{run}})',
    'Flags: {{flags}}: {{percentage}}% enabled, rolling back to {{nextPercentage|0}}%',
    'Metrics: {{checks|n/a}}',
  ].join('\n'),
  'rollback.completed': [
    'Rollback complete: {{flags}} at {{percentage}}% (plan {{plan}}, run {{run}})',
    'Reason: {{reason}}',
    'Metrics: {{checks|n/a}}',
  ].join('\n'),
  'rollback.failed': [
    '🆘 Rollback failed - manual intervention required',
    'Plan: {{plan}} (run {{run}})',
    'Rollback reason: {{reason}}',
    'Failed: {{failed|see the run events}}',
    'Flags {{flags}} may still be enabled for {{percentage}}% of traffic.',
    'Contact: {{owner|on-call}}  Runbook: {{runbook|n/a}}',
  ].join('\n'),
  'rollback.cohort': [
    '⟲ {{plan}}: partial rollback for {{cohorts|some users}} (run {{run}})',
    '{{reason}}',
    'Everybody else keeps {{flags}} at {{percentage}}% ({{phase}}); status {{status|green}}.',
    'Metrics: {{checks|n/a}}',
  ].join('\n'),
  'run.report': [
    '{{plan}} {{report|status report}} (run {{run}}): {{status|green}}',
    '',
    'Current: {{percentage}}% enabled ({{phase|not started}}, step {{step|?}})',
    'Metrics: {{checks|no checks configured}}',
    'Next: {{nextPercentage|n/a}}% at {{nextAt|n/a}}',
    'Running for {{duration|n/a}}.',
  ].join('\n'),
  'page.opened': [
    '📟 {{severity|page}} #{{page|?}}: {{plan}} (run {{run}}) at {{percentage}}% ({{phase|not started}})',
    'Why: {{reason}}',
    'Paging: {{paged|the first level}}. Acknowledge within {{ackWithin|the acknowledgement time}} (by {{ackBy|n/a}}), or it goes to {{next|nobody else}}.',
    'Acknowledge: {{command|rollout ack}}',
  ].join('\n'),
  'page.escalated': [
    '⏫ ESCALATION {{severity|page}} #{{page|?}}: {{plan}} (run {{run}}): nobody acknowledged within {{ackWithin|the acknowledgement time}}',
    'Waiting since: {{waitingSince|n/a}}',
    'Skipped past (no acknowledgement): {{skipped|nobody}}',
    'Now paging: {{paged|the next level}} (chain ended, paged again: {{repeat|no}}); next: {{next|nobody else}} by {{ackBy|n/a}}',
    'Why: {{reason}}',
    'Acknowledge: {{command|rollout ack}}',
  ].join('\n'),
  'page.acknowledged': [
    '✅ {{severity|page}} #{{page|?}} acknowledged by {{acknowledgedBy|someone}} after {{waited|n/a}}: escalation stopped ({{plan}}, run {{run}})',
    'Note: {{note|none}}',
    'Why it paged: {{reason}}',
  ].join('\n'),
  'page.closed': [
    '{{severity|page}} #{{page|?}} closed without an acknowledgement ({{plan}}, run {{run}})',
    'Why: {{reason}}',
  ].join('\n'),
  'run.announced': [
    'Rollout of {{flags}} starting {{date|soon}} (plan {{plan}})',
    '',
    'We will begin rolling out {{flags}} on {{date|the scheduled day}} at {{time|the scheduled time}}.',
    '',
    'Rollout plan: {{summary|see the plan}}',
    '- Target: {{targetPercentage|100}}%',
    '- Checks: {{checks|the plan\'s checks}}; rollback ready if needed',
    '',
    'Monitor: {{dashboard|n/a}}',
    'Runbook: {{runbook|n/a}}',
    'Contact {{owner|the rollout owner}} with questions. (run {{run}})',
  ].join('\n'),
  'run.cancelled': [
    'Cancelled: the rollout of {{flags}} announced for {{date|the scheduled day}} at {{time|the scheduled time}} will not start (plan {{plan}}, run {{run}}).',
    'Reason: {{reason|cancelled by an operator}}',
    'No flag was changed.',
  ].join('\n'),
  'approval.requested': [
    '✋ Approval needed: {{plan}} wants to go from {{percentage}}% to {{nextPercentage}}% ({{phase}}, run {{run}})',
    'Metrics: {{checks|n/a}}',
    'To decide: {{command|approve or reject the run with the rollout CLI}}',
  ].join('\n'),
};

/** Default notice titles (also templates). */
export const DEFAULT_TITLES: Readonly<Record<NoticeEvent, string>> = {
  'run.started': 'Rollout starting: {{plan}}',
  'step.applied': '{{plan}}: {{percentage}}% enabled',
  'run.completed': 'Rollout complete ✅: {{plan}}',
  'run.paused': 'Rollout paused: {{plan}}',
  'breach.detected': 'Check breached: {{plan}}',
  'rollback.started': '🚨 EMERGENCY ROLLBACK: {{plan}}',
  'rollback.completed': 'Rollback complete: {{plan}}',
  'rollback.failed': 'Rollback FAILED: {{plan}} (manual intervention required)',
  'rollback.cohort': 'Partial rollback: {{plan}}, {{cohorts|some users}}',
  'approval.requested': 'Approval needed: {{plan}}',
  'run.report': '{{plan}}: {{report|status report}}, {{percentage}}% enabled',
  'page.opened': '📟 {{severity|page}} page: {{plan}}',
  'page.escalated': '⏫ ESCALATION {{severity|page}}: {{plan}} (not acknowledged since {{waitingSince|n/a}})',
  'page.acknowledged': '✅ {{severity|page}} acknowledged by {{acknowledgedBy|someone}}: {{plan}}',
  'page.closed': '{{severity|page}} page closed: {{plan}}',
  'run.announced': 'Rollout starting {{date|soon}}: {{plan}}',
  'run.cancelled': 'Rollout cancelled: {{plan}} (was to start {{date|soon}})',
};

export const DEFAULT_SEVERITY: Readonly<Record<NoticeEvent, Severity>> = {
  'run.started': 'info',
  'step.applied': 'info',
  'run.completed': 'info',
  'run.paused': 'warning',
  'breach.detected': 'warning',
  'rollback.started': 'critical',
  'rollback.completed': 'warning',
  'rollback.failed': 'critical',
  'rollback.cohort': 'warning',
  'approval.requested': 'warning',
  'run.report': 'info',
  'page.opened': 'critical',
  'page.escalated': 'critical',
  'page.acknowledged': 'info',
  'page.closed': 'info',
  'run.announced': 'info',
  'run.cancelled': 'warning',
};

export function isNoticeEvent(event: string): event is NoticeEvent {
  return (NOTICE_EVENTS as readonly string[]).includes(event);
}

/**
 * Convenience: build a Notice-shaped object for `event` from `vars`, with the plan's template
 * override if given. `fields` holds the vars that have a value (undefined dropped).
 * Unknown events need an override text; their severity is "info" and title the event name.
 */
export function renderNotice(
  event: string,
  vars: TemplateVars,
  override?: { text?: string; title?: string; severity?: Severity },
): { event: string; severity: Severity; title: string; text: string; fields: Record<string, string | number | boolean | null> } {
  const known = isNoticeEvent(event);
  const text = override?.text ?? (known ? DEFAULT_TEMPLATES[event] : `{{plan|rollout}}: ${event}`);
  const title = override?.title ?? (known ? DEFAULT_TITLES[event] : `{{plan|rollout}}: ${event}`);
  const fields: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(vars)) if (v !== undefined) fields[k] = v;
  return {
    event,
    severity: override?.severity ?? (known ? DEFAULT_SEVERITY[event] : 'info'),
    title: renderTemplate(title, vars),
    text: renderTemplate(text, vars),
    fields,
  };
}
