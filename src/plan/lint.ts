/** Semantic rules the schema cannot express. Pure: plan in, issues out. */
import type { Plan } from './model.js';
import type { PlanDoc } from './schema.js';
import { EXCLUDE_BACKENDS } from '../adapters/flags/shared.js';
import { parseStartAt } from './start-at.js';
import { suggest } from '../util/suggest.js';

export interface LintIssue {
  path: (string | number)[];
  key?: string;
  message: string;
  severity: 'error' | 'warning';
}

/** Metrics providers with querySeries (samples over a window, history for backtests). */
export const SERIES_PROVIDERS = ['prometheus', 'datadog'];

/** Flag backends whose apply() honours FlagChange.variants. */
export const VARIANT_BACKENDS = ['local', 'unleash', 'flagd', 'launchdarkly'];

/** Can the plan's backend turn a flag off for some segments/rings only (FlagChange.exclude)? */
export function canExclude(plan: Plan): boolean {
  // http: only a write request of the plan's own that sends {{exclude}} (the preset's does not).
  if (plan.backend.type === 'http') return JSON.stringify(plan.backend.options.apply ?? null).includes('{{exclude}}');
  return EXCLUDE_BACKENDS.includes(plan.backend.type);
}

export function lintPlan(plan: Plan, doc: PlanDoc): LintIssue[] {
  const out: LintIssue[] = [];
  const err = (path: (string | number)[], message: string, key?: string) => out.push({ path, message, severity: 'error', key });
  const warn = (path: (string | number)[], message: string, key?: string) => out.push({ path, message, severity: 'warning', key });

  // Unique names.
  const seen = new Set<string>();
  plan.phases.forEach((p, i) => {
    if (seen.has(p.name)) err(['phases', i, 'name'], `phase name "${p.name}" is used twice`);
    seen.add(p.name);
  });
  const checkNames = new Map<string, string>();
  const allChecks = [...(doc.checks ?? []).map((c, i) => ({ c, path: ['checks', i] as (string | number)[] }))];
  doc.phases.forEach((p, pi) => (p.checks ?? []).forEach((c, ci) => allChecks.push({ c, path: ['phases', pi, 'checks', ci] })));
  for (const { c, path } of allChecks) {
    if (!plan.metrics[c.provider]) {
      const known = Object.keys(plan.metrics);
      err([...path, 'provider'], `unknown metrics provider "${c.provider}"${known.length ? ` (known: ${known.join(', ')})` : ' — define it under `metrics:`'}`);
    }
    if (c.compare) {
      if (c.max !== undefined || c.min !== undefined || c.relative) err([...path, 'compare'], `check "${c.name}": compare is a check of its own; move max/min/relative to another check`);
      if ((c.compare.control === undefined) === (c.compare.splitBy === undefined)) err([...path, 'compare'], `check "${c.name}": compare needs either control (a query) or splitBy (a label), not ${c.compare.control === undefined ? 'neither' : 'both'}`);
      if (c.compare.requests && c.compare.control !== undefined && c.compare.requests.control === undefined)
        err([...path, 'compare', 'requests'], `check "${c.name}": with a control query, requests needs a control query too`);
      const type = plan.metrics[c.provider]?.type;
      if (type && !SERIES_PROVIDERS.includes(type)) err([...path, 'provider'], `check "${c.name}": compare needs samples over a window, which the ${type} provider cannot give (providers that can: ${SERIES_PROVIDERS.join(', ')})`);
    } else if (c.max === undefined && c.min === undefined && !c.relative) err(path, `check "${c.name}" has no threshold: give max, min, relative or compare`);
    if (c.max !== undefined && c.min !== undefined && c.min > c.max) err(path, `check "${c.name}": min ${c.min} is above max ${c.max}`);
    if (c.relative && c.relative.maxIncrease === undefined && c.relative.maxDecrease === undefined)
      err([...path, 'relative'], 'relative needs maxIncrease or maxDecrease');
    for (const ph of c.phases ?? []) if (!seen.has(ph)) err([...path, 'phases'], `unknown phase "${ph}"`);
    const action = c.action ?? (c.tier === 'critical' ? 'rollback' : 'pause');
    if (c.freeze && action !== 'pause') err([...path, 'freeze'], `check "${c.name}": freeze applies only to action pause (this check's action is ${action})`);
    else if (c.freeze && !(plan.backend.type === 'http' && (plan.backend.options.freeze || plan.backend.options.preset)))
      err([...path, 'freeze'], `check "${c.name}": freeze needs a flag backend with a freeze call; ${plan.backend.type === 'http' ? 'give the http backend a `freeze:` request' : `the ${plan.backend.type} backend has none`}`);
    if (c.afterRollback && !c.rollbackFlags) err([...path, 'afterRollback'], `check "${c.name}": afterRollback chooses what happens after a scoped rollback; give rollbackFlags (a rollback of every flag always ends the run)`);
    if (c.rollbackFlags && action !== 'rollback') err([...path, 'rollbackFlags'], `check "${c.name}": rollbackFlags applies only to action rollback (this check's action is ${action})`);
    (c.rollbackFlags ?? []).forEach((f, i) => {
      if (!plan.flags.includes(f)) err([...path, 'rollbackFlags', i], `"${f}" is not rolled out by this plan (its flags: ${plan.flags.join(', ')})`);
    });
    if (c.severity && !plan.notify.escalation?.[c.severity])
      err([...path, 'severity'], `check "${c.name}": unknown severity "${c.severity}"${plan.notify.escalation ? ` (notify.escalation has: ${Object.keys(plan.notify.escalation).join(', ')})` : ' — define it under notify.escalation'}`);
    // A partial rollback for some users (rollbackSegments / rollbackRings).
    for (const key of ['rollbackSegments', 'rollbackRings'] as const) {
      const names = c[key];
      if (!names) continue;
      if (action !== 'rollback') err([...path, key], `check "${c.name}": ${key} applies only to action rollback (this check's action is ${action})`);
      if (c.rollbackFlags) err([...path, key], `check "${c.name}": ${key} rolls back some users, rollbackFlags some flags; give one of them`);
      if (!canExclude(plan))
        err([...path, key], `check "${c.name}": the ${plan.backend.type} backend cannot turn a flag off for some users only (backends that can: ${EXCLUDE_BACKENDS.join(', ')}, and http when its write request sends {{exclude}})`);
      if (key === 'rollbackRings')
        names.forEach((r, i) => {
          const ring = plan.rings[r];
          if (!ring) err([...path, key, i], `unknown ring "${r}"${Object.keys(plan.rings).length ? ` (known: ${Object.keys(plan.rings).join(', ')})` : ' — define it under `rings:`'}`, r);
          else if (!ring.users?.length && !ring.segments?.length) err([...path, key, i], `ring "${r}" is everybody else: rolling it back is a full rollback (drop rollbackRings)`);
        });
    }
    const scope = path[0] === 'phases' ? `phase ${String(path[1])}` : 'plan';
    if (checkNames.get(c.name) === scope) err([...path, 'name'], `check name "${c.name}" is used twice`);
    checkNames.set(c.name, scope);
  }

  // Steps: within 0..100, increasing, no big jumps; rings known.
  const ringNames = Object.keys(plan.rings);
  doc.phases.forEach((p, pi) => {
    const steps = plan.phases[pi]!.steps;
    if (p.flags.length === 0 && steps.every((s) => Object.keys(s.set).length === 0))
      err(['phases', pi], `phase "${p.name}" changes nothing: give it flags (or steps with set:)`);
    let prev: number | undefined;
    steps.forEach((s, si) => {
      const path = ['phases', pi, 'steps', si];
      if (s.percent !== undefined && p.flags.length === 0) err(path, 'a percentage step needs flags: on the phase');
      if (s.percent === undefined && !s.rings && Object.keys(s.set).length === 0) err(path, 'this step sets nothing: give percent, rings or set');
      if (s.percent !== undefined) {
        if (prev !== undefined && s.percent < prev) err(path, `steps must not decrease: ${prev}% then ${s.percent}% (a rollback is not a step)`);
        else if (prev !== undefined && s.percent === prev) warn(path, `step repeats ${s.percent}%`);
        else if (prev !== undefined && s.percent - prev > plan.maxJump)
          warn(path, `jump from ${prev}% to ${s.percent}% is more than ${plan.maxJump} points ("don't skip percentage steps"); add steps or raise defaults.maxJump`);
        prev = s.percent;
      }
      for (const r of Object.keys(s.rings ?? {})) {
        if (!ringNames.includes(r)) err([...path, 'rings'], `unknown ring "${r}"${ringNames.length ? ` (known: ${ringNames.join(', ')})` : ' — define it under `rings:`'}`, r);
      }
    });
  });

  // Variant experiments: shares add up, and the backend can split a flag.
  plan.phases.forEach((p, pi) => {
    if (!p.variants) return;
    const path = ['phases', pi, 'variants'];
    const sum = p.variants.reduce((s, v) => s + v.percent, 0);
    if (p.variants.length < 2) err(path, `phase "${p.name}": an experiment needs at least two variants (e.g. control: 50, treatment: 50)`);
    if (Math.abs(sum - 100) > 0.005) err(path, `phase "${p.name}": variant shares add up to ${Math.round(sum * 1000) / 1000}%, not 100%`);
    const httpVariants = plan.backend.type === 'http' && (plan.backend.options.preset === 'feature-flags-api' || JSON.stringify(plan.backend.options.apply ?? null).includes('{{variants}}'));
    if (!VARIANT_BACKENDS.includes(plan.backend.type) && !httpVariants)
      err(path, `phase "${p.name}": the ${plan.backend.type} backend cannot split a flag into variants (backends that can: ${VARIANT_BACKENDS.join(', ')}, and http when its write request sends {{variants}})`);
    if (plan.backend.type === 'flagd' && p.variants.some((v) => v.name === 'off'))
      err(path, `phase "${p.name}": on flagd a variant cannot be called "off" (rollout writes "off" for users outside the experiment); rename it`);
  });

  // Named approvers: a quorum needs names, and no more signatures than there are names.
  const gates: Array<{ a: PlanDoc['phases'][number]['approval']; path: (string | number)[] }> = [];
  doc.phases.forEach((p, pi) => {
    gates.push({ a: p.approval, path: ['phases', pi, 'approval'] });
    (p.steps ?? []).forEach((st, si) => {
      if (typeof st !== 'number') gates.push({ a: st.approval, path: ['phases', pi, 'steps', si, 'approval'] });
    });
  });
  for (const { a, path } of gates) {
    if (!a || typeof a !== 'object' || a.quorum === undefined) continue;
    const n = new Set(a.approvers ?? []).size;
    if (!n) err([...path, 'quorum'], 'quorum counts named approvers: give `approvers:` too');
    else if (a.quorum > n) err([...path, 'quorum'], `quorum ${a.quorum} is more than the ${n} approver(s) named; it could never be reached`);
  }

  // Checklists: item ids unique within a checklist (they are what `rollout confirm` names); a
  // phase's checklist and its first step's are the same gate, so only one of them.
  plan.phases.forEach((p, pi) => {
    const lists: Array<{ items: NonNullable<typeof p.checklist>; path: (string | number)[] }> = [];
    if (p.checklist) lists.push({ items: p.checklist, path: ['phases', pi, 'checklist'] });
    p.steps.forEach((st, si) => st.checklist && lists.push({ items: st.checklist, path: ['phases', pi, 'steps', si, 'checklist'] }));
    if (p.checklist && p.steps[0]?.checklist) err(['phases', pi, 'steps', 0, 'checklist'], `phase "${p.name}" has a checklist and so does its first step; they would be one gate: merge them into the phase's`);
    for (const { items, path } of lists) {
      const ids = new Set<string>();
      items.forEach((it, ii) => {
        if (ids.has(it.id)) err([...path, ii], `checklist item id "${it.id}" is used twice in this checklist; give each item its own \`id:\``);
        ids.add(it.id);
      });
    }
  });

  // requires: known order, no cycles.
  const phaseOfFlag = new Map<string, number>();
  plan.phases.forEach((p, i) => {
    for (const f of [...p.flags, ...p.steps.flatMap((s) => Object.keys(s.set))]) if (!phaseOfFlag.has(f)) phaseOfFlag.set(f, i);
  });
  const edges = new Map<string, string[]>();
  plan.phases.forEach((p, i) => {
    for (const f of p.flags) edges.set(f, [...(edges.get(f) ?? []), ...p.requires]);
    p.requires.forEach((r, ri) => {
      const at = phaseOfFlag.get(r);
      if (p.flags.includes(r)) err(['phases', i, 'requires', ri], `phase "${p.name}" requires "${r}", which it rolls out itself`);
      else if (at !== undefined && at > i)
        err(['phases', i, 'requires', ri], `"${r}" is rolled out later (phase "${plan.phases[at]!.name}"); it cannot be required here`);
    });
  });
  const cycle = findCycle(edges);
  if (cycle) {
    const i = plan.phases.findIndex((p) => p.flags.includes(cycle[0]!));
    err(['phases', Math.max(0, i), 'requires'], `cyclic requires: ${cycle.join(' → ')}`);
  }

  // Rollback.
  (doc.rollback?.flags ?? []).forEach((f, i) => {
    if (!plan.flags.includes(f)) err(['rollback', 'flags', i], `rollback flag "${f}" is not rolled out by this plan (its flags: ${plan.flags.join(', ')})`);
  });
  if (plan.rollback.mode === 'gradual') {
    if (plan.rollback.steps.length === 0) err(['rollback', 'steps'], 'gradual rollback needs steps (e.g. 50, 25, 10, 0 with waits)');
    let prev = 101;
    plan.rollback.steps.forEach((s, i) => {
      if (s.percent >= prev) err(['rollback', 'steps', i], `rollback steps must decrease: ${prev}% then ${s.percent}%`);
      prev = s.percent;
    });
    if (plan.rollback.steps.length && plan.rollback.steps.at(-1)!.percent !== 0) warn(['rollback', 'steps'], 'gradual rollback does not end at 0%: flags stay partly on');
  }
  (doc.rollback?.steps ?? []).forEach((st, i) => {
    if (st.maxWait !== undefined && st.stableFor === undefined) err(['rollback', 'steps', i, 'maxWait'], 'maxWait bounds a health-gated wait: give stableFor too');
    if (st.stableFor !== undefined && st.wait !== undefined) err(['rollback', 'steps', i], 'give either wait (fixed) or stableFor (health-gated), not both');
    if (st.stableFor !== undefined && plan.phases.every((p) => p.checks.length === 0))
      err(['rollback', 'steps', i, 'stableFor'], 'stableFor waits for checks to pass, but the plan has no checks');
    const max = plan.rollback.steps[i]?.maxWaitMs;
    const stable = plan.rollback.steps[i]?.stableForMs;
    if (max !== undefined && stable !== undefined && max < stable) err(['rollback', 'steps', i, 'maxWait'], `maxWait is shorter than stableFor: the checks could never hold long enough`);
  });
  doc.rollback?.commands?.forEach((c, i) => {
    const shell = !Array.isArray(c) && c.shell;
    const argv = Array.isArray(c) ? c : c.run;
    if (!shell && argv.some((a) => /\$\{?ROLLOUT_REASON/.test(a)))
      warn(['rollback', 'commands', i], 'ROLLOUT_REASON is an environment variable: without shell it is not expanded in argv; read it from the environment');
  });
  if (plan.rollback.healthCheck && !plan.rollback.healthCheck.command && !plan.rollback.healthCheck.http)
    err(['rollback', 'healthCheck'], 'healthCheck needs command or http');

  // Notify targets referenced: an unknown one names the closest defined target ("tt" → "t").
  const targets = Object.keys(plan.notify.targets);
  const unknownTarget = (t: string) => {
    const hint = suggest(t, targets);
    return `unknown notify target "${t}"${hint ? ` — did you mean "${hint}"?` : ''}${targets.length ? ` (known: ${targets.join(', ')})` : ' — define it under notify.targets'}`;
  };
  for (const [ev, list] of Object.entries(plan.notify.events ?? {}))
    list.forEach((t, i) => {
      if (!targets.includes(t)) err(['notify', 'events', ev, i], unknownTarget(t));
    });
  (plan.notify.reports ?? []).forEach((r, i) => {
    if (r.everyMs < 60_000) err(['notify', 'reports', i, 'every'], 'a report needs every: of at least 1m');
    r.targets?.forEach((t, j) => {
      if (!targets.includes(t)) err(['notify', 'reports', i, 'targets', j], unknownTarget(t));
    });
    r.phases?.forEach((p, j) => {
      if (!seen.has(p)) err(['notify', 'reports', i, 'phases', j], `unknown phase "${p}"`);
    });
  });
  plan.notify.announce?.targets?.forEach((t, i) => {
    if (!targets.includes(t)) err(['notify', 'announce', 'targets', i], unknownTarget(t));
  });
  if (plan.notify.announce && !targets.length) err(['notify', 'announce'], 'an announcement needs somewhere to go: add notify.targets');
  // A scheduled start: its form (the hint names the plan's zone for a time written without one).
  if (doc.startAt !== undefined) {
    const r = parseStartAt(doc.startAt, plan.windows?.timezone);
    if ('error' in r) err(['startAt'], `startAt: ${r.error}. ${r.hint}`);
  }
  plan.rollback.escalate.notify.forEach((t, i) => {
    if (!targets.includes(t)) err(['rollback', 'escalate', 'notify', i], unknownTarget(t));
  });
  const sev = plan.rollback.escalate.severity;
  if (sev && !plan.notify.escalation?.[sev])
    err(['rollback', 'escalate', 'severity'], `unknown severity "${sev}"${plan.notify.escalation ? ` (notify.escalation has: ${Object.keys(plan.notify.escalation).join(', ')})` : ' — define it under notify.escalation'}`);
  for (const [name, e] of Object.entries(plan.notify.escalation ?? {})) {
    if (e.ackWithinMs < 60_000) err(['notify', 'escalation', name, 'ackWithin'], `severity ${name}: ackWithin must be at least 1m`);
    e.chain.forEach((level, i) =>
      level.forEach((t, j) => {
        if (!targets.includes(t)) err(['notify', 'escalation', name, 'chain', i, ...(level.length > 1 ? [j] : [])], unknownTarget(t));
      }),
    );
  }

  // Windows: time zone must exist; one-off windows need start and end, weekly ones from and to.
  if (plan.windows) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: plan.windows.timezone });
    } catch {
      err(['windows', 'timezone'], `unknown time zone "${plan.windows.timezone}" (use an IANA name like Europe/Berlin)`);
    }
    for (const kind of ['allow', 'blackout'] as const)
      plan.windows[kind].forEach((w, i) => {
        const oneOff = w.start !== undefined || w.end !== undefined;
        if (oneOff && (!w.start || !w.end || Number.isNaN(Date.parse(w.start)) || Number.isNaN(Date.parse(w.end))))
          err(['windows', kind, i], 'a one-off window needs start and end as ISO dates');
        if (!oneOff && (!w.from || !w.to)) err(['windows', kind, i], 'a weekly window needs from and to (HH:MM)');
      });
  }
  return out;
}

function findCycle(edges: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 2) return undefined;
    if (state.get(n) === 1) return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 1);
    stack.push(n);
    for (const m of edges.get(n) ?? []) {
      const c = visit(m);
      if (c) return c;
    }
    stack.pop();
    state.set(n, 2);
    return undefined;
  };
  for (const n of edges.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}
