/**
 * The state store every command works through: files under .rollout/ by default, or
 * PostgreSQL — the shared store for teams — when ROLLOUT_STATE_URL is a postgres:// URL. Both
 * pass the same contract (test/adapters/state-contract.ts).
 */
import type { FileStore } from './store.js';

export type Store = Pick<FileStore, keyof FileStore> & { close?: () => Promise<void> };

export function isPostgresUrl(s: string | undefined): s is string {
  return Boolean(s && /^postgres(ql)?:\/\//i.test(s));
}
