/**
 * Shared by the reliability tests: plans whose outcome does not depend on timing, a runner
 * that drives the built CLI through a crash (ROLLOUT_CRASH_AT) and recovers it, and a summary
 * of what a run left behind (status, flags, applied steps, side-effect counts).
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, spawn, tempDir, write } from '../cli/helpers.js';

export { BIN, ROOT, cli, quickPlan, spawn, tempDir, write } from '../cli/helpers.js';

/**
 * A two-phase plan: one [10, 30] on flag A, two [60, 100] on flags A and B, 100 ms holds.
 * With `breach`, a check scoped to phase two reads a constant 9 (> 5): it is judged at the
 * phase boundary, right after 30% was applied, so the run always rolls back there — flags
 * off, incident, a rollback command (appending its run id to rollback-ran.log), a health check
 * — whatever the timing. Every notice goes to a `log` target, so notifications are side-effect
 * points too.
 */
export function crashPlan(o: { name: string; flags: [string, string]; breach: boolean; backend?: string }): string {
  return `name: ${o.name}
backend: ${o.backend ?? '{ type: local }'}
metrics:
  sim:
    type: simulated
    series:
      errors: 0.1
      bad: 9
defaults: { hold: 100ms, interval: 50ms, maxJump: 100 }
checks:
  - { name: errors, provider: sim, query: errors, max: 5, unit: '%', tier: critical }
${o.breach ? "  - { name: gate, provider: sim, query: bad, max: 5, unit: '%', tier: critical, phases: [two] }\n" : ''}phases:
  - name: one
    flags: [${o.flags[0]}]
    steps: [10, 30]
  - name: two
    flags: [${o.flags[0]}, ${o.flags[1]}]
    steps: [60, 100]
rollback:
  mode: immediate
  commands:
    - [node, -e, "require('fs').appendFileSync('rollback-ran.log', process.env.ROLLOUT_RUN_ID + '\\\\n')"]
  healthCheck:
    command: [node, -e, "process.exit(0)"]
    retries: 0
notify:
  targets:
    console: { type: log, format: json }
`;
}

/** Event types that record the outcome of one performed action (one per side effect). */
export const ACTION_EVENTS = new Set([
  'step.applied',
  'step.failed',
  'rollback.flags-off',
  'rollback.flags-failed',
  'rollback.step',
  'rollback.step-failed',
  'command.finished',
  'command.failed',
  'health.ok',
  'health.failed',
  'notify.sent',
  'notify.failed',
  'incident.recorded',
  'incident.failed',
]);

export interface Outcome {
  status: string;
  /** From `status --json`: the run's record of each flag. */
  flags: Record<string, { enabled: boolean; percentage: number }>;
  /** (phase, step) of every step.applied event, in order. */
  steps: string[];
  /** Event type counts. */
  eventTypes: Record<string, number>;
  /** Performed actions, per the event log. */
  actions: number;
  pending: string[];
  /** Lines in rollback-ran.log (how often the rollback command ran) and incident files. */
  rollbackRuns: number;
  incidents: number;
  /** enabled/percentage per flag in .rollout/flags.json (local backend). */
  localFlags?: Record<string, { enabled: boolean; percentage: number }>;
}

/**
 * Read-only, so in-process (`run`: the binary's main() without a node start — two spawns per
 * crash case were a third of the sweeps' processes); the crashing and recovering commands stay
 * real processes.
 */
export async function outcome(dir: string): Promise<Outcome> {
  const st = await run(['status', '--json'], { cwd: dir });
  if (st.code !== 0) throw new Error(`status --json exited ${st.code}: ${st.stderr}`);
  const s = JSON.parse(st.stdout) as { run: string; status: string; flags: Outcome['flags']; pendingActions: string[] };
  const lg = await run(['log', '--json'], { cwd: dir });
  if (lg.code !== 0) throw new Error(`log --json exited ${lg.code}: ${lg.stderr}`);
  const events = (JSON.parse(lg.stdout) as { events: Array<{ type: string; data?: { phase?: number; step?: number } }> }).events;
  const eventTypes: Record<string, number> = {};
  for (const e of events) eventTypes[e.type] = (eventTypes[e.type] ?? 0) + 1;
  const ranLog = join(dir, 'rollback-ran.log');
  const rollbackRuns = existsSync(ranLog) ? (await readFile(ranLog, 'utf8')).split('\n').filter(Boolean).length : 0;
  const incidents = (await readdir(join(dir, '.rollout/runs', s.run))).filter((f) => f.startsWith('incident-')).length;
  const flagsFile = join(dir, '.rollout/flags.json');
  let localFlags: Outcome['localFlags'];
  if (existsSync(flagsFile)) {
    const raw = JSON.parse(await readFile(flagsFile, 'utf8')) as Record<string, { enabled: boolean; percentage: number }>;
    localFlags = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, { enabled: v.enabled, percentage: v.percentage }]));
  }
  return {
    status: s.status,
    flags: Object.fromEntries(Object.entries(s.flags).map(([k, v]) => [k, { enabled: v.enabled, percentage: v.percentage }])),
    steps: events.filter((e) => e.type === 'step.applied').map((e) => `${e.data?.phase}:${e.data?.step}`),
    eventTypes,
    actions: events.filter((e) => ACTION_EVENTS.has(e.type)).length,
    pending: s.pendingActions,
    rollbackRuns,
    incidents,
    ...(localFlags ? { localFlags } : {}),
  };
}

export interface CrashRun {
  n: number;
  /** Did the first process die by SIGKILL (the crash point was reached)? */
  crashed: boolean;
  /** Commands used to recover, with their exit codes. */
  recovery: Array<{ args: string[]; code: number }>;
  finalCode: number;
  outcome: Outcome;
  dir: string;
}

const FINAL = ['completed', 'rolled-back', 'aborted'];

/**
 * Run `plan.yaml` in a fresh temp dir with ROLLOUT_CRASH_AT=n (0: no crash), then recover
 * without the variable until the run is final with nothing pending: `rollout resume`, or —
 * with `via: 'start'`, or when the run already reached a final status with side effects still
 * pending (resume refuses a finished run) — `rollout start plan.yaml` again. With
 * `recoveryCrashAt`, the i-th recovery crashes too (ROLLOUT_CRASH_AT=recoveryCrashAt[i]).
 * Bounded: recoveryCrashAt.length + 4 recovery attempts.
 */
export async function crashRun(planText: string, n: number, o: { env?: Record<string, string>; via?: 'resume' | 'start'; keep?: boolean; recoveryCrashAt?: number[] } = {}): Promise<CrashRun> {
  const { dir, cleanup } = await tempDir();
  try {
    const plan = await write(dir, 'plan.yaml', planText);
    const first = await spawn(['start', plan], { cwd: dir, env: { ...o.env, ...(n ? { ROLLOUT_CRASH_AT: String(n) } : {}) }, timeoutMs: 120_000 });
    const crashed = first.signal === 'SIGKILL';
    if (!crashed && first.exitCode !== 0 && first.exitCode !== 3) throw new Error(`start (crash at ${n}) exited ${first.exitCode} ${first.signal ?? ''}: ${String(first.stderr)}`);
    let finalCode = first.exitCode ?? -1;
    const recovery: CrashRun['recovery'] = [];
    const again = o.recoveryCrashAt ?? [];
    for (let i = 0; i < again.length + 4; i++) {
      const s = await rawState(dir);
      if (FINAL.includes(s.status) && !s.pending.length) break;
      const args = o.via === 'start' || FINAL.includes(s.status) ? ['start', plan] : ['resume'];
      const crashAt = again[i];
      const r = await spawn(args, { cwd: dir, env: { ...o.env, ...(crashAt ? { ROLLOUT_CRASH_AT: String(crashAt) } : {}) }, timeoutMs: 120_000 });
      const code = r.signal === 'SIGKILL' ? -9 : (r.exitCode ?? -1);
      recovery.push({ args: args.map((a) => (a === plan ? 'plan.yaml' : a)), code });
      if (code === -9) continue;
      finalCode = code;
      if (code !== 0 && code !== 3) throw new Error(`${args[0]} after a crash at ${n} exited ${code}: ${String(r.stderr)}`);
    }
    return { n, crashed, recovery, finalCode, outcome: await outcome(dir), dir };
  } finally {
    if (!o.keep) await cleanup();
  }
}

/** The one run's state.json in `dir`, read directly (cheaper than spawning `status`). */
export async function rawState(dir: string): Promise<{ id: string; status: string; pending: unknown[] }> {
  const runs = await readdir(join(dir, '.rollout/runs'));
  if (runs.length !== 1) throw new Error(`expected one run in ${dir}, found ${runs.length}`);
  return JSON.parse(await readFile(join(dir, '.rollout/runs', runs[0]!, 'state.json'), 'utf8')) as { id: string; status: string; pending: unknown[] };
}

/** Run `f` over `items` with at most `limit` in flight; results in input order. */
export async function pool<T, R>(items: T[], limit: number, f: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]!);
      }
    }),
  );
  return out;
}
