/** Small pieces every flag backend shares. */
import { UsageError } from '../../errors.js';
import type { FlagChange } from '../types.js';

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
