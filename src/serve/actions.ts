/**
 * Steering a run from the page: the CLI's own handlers (src/commands/control.ts), so a click
 * does exactly what `rollout pause|resume|promote|approve|reject|rollback` does (rollback with
 * `segment`/`ring` in the body: `rollout rollback --segment/--ring`, a partial rollback) — to a live
 * driver's inbox, or applied here when no process drives the run — and lands in the run's log
 * with who asked. The server never becomes the run's long-lived driver: it does what is due
 * now (as `--detach` / `advance`) and returns.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createContext, type Context } from '../commands/context.js';

/** What the server knows of the command context; the rest is createContext's defaults. */
export type ServeContext = Partial<Omit<Context, 'stdout' | 'stderr' | 'json'>> & Pick<Context, 'cwd'>;
import { RolloutError } from '../errors.js';
import { redact } from '../util/redact.js';

export const ACTIONS = ['approve', 'reject', 'pause', 'resume', 'promote', 'rollback', 'confirm', 'ack'] as const;
export type ActionName = (typeof ACTIONS)[number];

/** Constant time in the token's content and length: both sides are hashed first. */
export function tokenMatches(expected: string, given: string | undefined): boolean {
  if (!given) return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}

export function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  return m?.[1]?.trim();
}

export interface ActionBody {
  by?: unknown;
  as?: unknown;
  reason?: unknown;
  note?: unknown;
  full?: unknown;
  mode?: unknown;
  to?: unknown;
  /** confirm: the checklist item ids to tick (or untick with `undo: true`). */
  items?: unknown;
  undo?: unknown;
  /** ack: only this page (its number), else every open page. */
  page?: unknown;
  /** rollback: a partial rollback for these segments / rings only (a name or a list); `undo` brings them back, `pause` also pauses. */
  segment?: unknown;
  ring?: unknown;
  pause?: unknown;
}

const str = (v: unknown, max: number): string | undefined => (typeof v === 'string' && v.trim() ? v.trim().slice(0, max) : undefined);
/** A segment/ring name or a list of them (at most 50, 200 characters each); undefined when none. */
const names = (v: unknown): string[] | undefined => {
  const list = (Array.isArray(v) ? v : [v]).map((x) => str(x, 200)).filter((x): x is string => Boolean(x)).slice(0, 50);
  return list.length ? list : undefined;
};

export interface ActionResult {
  status: number;
  body: Record<string, unknown>;
}

let queue: Promise<unknown> = Promise.resolve();

/** Run one action (one at a time per server: two clicks do not drive one run twice). */
export function runAction(base: ServeContext, action: ActionName, runId: string, b: ActionBody): Promise<ActionResult> {
  const next = queue.then(() => perform(base, action, runId, b));
  queue = next.catch(() => undefined);
  return next;
}

async function perform(base: ServeContext, action: ActionName, runId: string, b: ActionBody): Promise<ActionResult> {
  const out: string[] = [];
  const c: Context = createContext({ ...base, json: true, interactive: false, stdout: (s) => void out.push(s), stderr: () => undefined });
  const by = str(b.by, 100);
  const opts = {
    // A named-approver gate signs as `as`, else as the name given (not "… (rollout serve)");
    // a checklist item is confirmed the same way.
    // …and a page is taken in that name too.
    ...((action === 'approve' || action === 'confirm' || action === 'ack') && (str(b.as, 100) ?? by) ? { as: str(b.as, 100) ?? by } : {}),
    ...(action === 'ack' && Number.isInteger(b.page) && (b.page as number) > 0 ? { page: b.page as number } : {}),
    by: by ? `${by} (rollout serve)` : 'rollout serve',
    reason: str(b.reason, 2000),
    note: str(b.note, 2000),
    full: b.full === true,
    mode: b.mode === 'immediate' || b.mode === 'gradual' ? b.mode : undefined,
    to: typeof b.to === 'number' ? b.to : undefined,
    segment: names(b.segment),
    ring: names(b.ring),
    undo: action === 'rollback' && b.undo === true ? true : undefined,
    pause: b.pause === true ? true : undefined,
    detach: true,
  } as const;
  const undoCohort = opts.undo && (opts.segment?.length || opts.ring?.length);
  if ((action === 'reject' || action === 'rollback') && !opts.reason && !undoCohort)
    return { status: 400, body: { action, error: 'a reason is required', hint: 'Send {"reason": "what you saw"} in the body.', exitCode: 2 } };
  const items = Array.isArray(b.items) ? b.items.map((i) => str(i, 200)).filter((i): i is string => Boolean(i)) : [];
  if (action === 'confirm' && !items.length) return { status: 400, body: { action, error: 'name the checklist items to confirm', hint: 'Send {"items": ["staging-tests"]} in the body.', exitCode: 2 } };
  try {
    const { handlers } = await import('../commands/control.js');
    const exitCode =
      action === 'confirm'
        ? await (await import('../commands/confirm.js')).default(c, [runId, ...items], { by: opts.by, as: 'as' in opts ? opts.as : undefined, note: opts.note, undo: b.undo === true })
        : await handlers[action]!(c, runId, opts as never);
    let result: Record<string, unknown> = {};
    try {
      result = JSON.parse(out.join('\n')) as Record<string, unknown>;
    } catch {
      /* nothing printed */
    }
    return { status: 200, body: { action, ...result, exitCode } };
  } catch (err) {
    if (err instanceof RolloutError) {
      const status = err.exitCode === 2 ? 409 : err.exitCode === 5 ? 423 : 502;
      return { status, body: { action, error: redact(err.message), hint: err.hint ?? null, exitCode: err.exitCode } };
    }
    return { status: 500, body: { action, error: `internal error: ${redact((err as Error)?.message ?? String(err))}`, exitCode: 1 } };
  }
}
