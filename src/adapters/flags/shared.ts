/** Small pieces every flag backend shares. */
import { BackendError, UsageError } from '../../errors.js';
import { excludesAnyone, type FlagChange } from '../types.js';

/** The flag backends whose apply() honours FlagChange.exclude (http: when its write request sends {{exclude}}). */
export const EXCLUDE_BACKENDS = ['local', 'unleash', 'flagd', 'launchdarkly'];

/** Who a change rolls back, in words: "segment eu-users, ring beta". */
export const cohortWords = (c: FlagChange) => [...(c.exclude?.segments ?? []).map((s) => `segment ${s}`), ...(c.exclude?.rings ?? []).map((r) => `ring ${r}`)].join(', ');

/**
 * A backend that cannot turn a flag off for some users only refuses such a change rather than
 * leave the rolled-back cohort on (a flag that is off for everybody needs no exclusion).
 */
export function refuseExclusion(change: FlagChange, backend: string, why: string): void {
  if (!change.enabled || !excludesAnyone(change.exclude)) return;
  throw new BackendError(backend, `${change.flag}: cannot turn the flag off for ${cohortWords(change)} only: ${why}`, {
    hint: `Backends that can: ${EXCLUDE_BACKENDS.join(', ')}, and http when its write request sends {{exclude}}. Or roll back everybody: \`rollout rollback --reason …\`.`,
  });
}

/** Validate a change; returns the target percentage (0..100) of an enabled flag. */
export function checkChange(change: FlagChange, backend: string): number {
  if (typeof change.flag !== 'string' || change.flag.trim() === '') throw new UsageError(`${backend}: flag name is empty`);
  const p = change.percentage;
  if (p !== undefined && (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p > 100)) {
    throw new UsageError(`${backend}: ${change.flag}: percentage must be a number from 0 to 100, got ${String(p)}`);
  }
  return p ?? 100;
}

/** Per-file queue: read-modify-write cycles on one file in this process never interleave. */
const queues = new Map<string, Promise<unknown>>();
export function serialised<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const prev = queues.get(file) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const settled = next.then(
    () => undefined,
    () => undefined,
  );
  queues.set(file, settled);
  void settled.then(() => {
    if (queues.get(file) === settled) queues.delete(file);
  });
  return next;
}
