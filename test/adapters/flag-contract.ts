/**
 * The contract every flag backend passes. Call it from a test file:
 *
 *   flagBackendContract('env-file', async () => {
 *     const dir = await mkdtemp(...);
 *     return { backend: create({ path: join(dir, '.env') }, ctx), cleanup: () => rm(dir, ...) };
 *   });
 *
 * `make` is called once per test and must return a backend whose flags CONTRACT_FLAGS can be
 * written (pre-create them where the backend needs flags to exist, e.g. LaunchDarkly, Unleash);
 * CONTRACT_MISSING_FLAG must not exist. Tests assume a fresh (or reset) backend per `make`.
 *
 * Options:
 *   decimals  — the backend stores fractional percentages (12.5 reads back as 12.5).
 *   users     — the backend stores a user allowlist and read() reports it.
 *   failure   — make the backend fail, to check errors name the backend, the HTTP status and
 *               the server's message: called before an apply() and before a read() with what
 *               `make` returned, it arranges the failure (e.g. fake.failNext(1, {status: 401}))
 *               and says what the error must contain (or returns undefined to skip that call).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackendError } from '../../src/errors.js';
import type { FlagBackend, FlagState } from '../../src/adapters/types.js';

export const CONTRACT_FLAGS = ['contract-alpha', 'contract-beta', 'contract-gamma'] as const;
export const CONTRACT_MISSING_FLAG = 'contract-missing';

export interface ContractInstance {
  backend: FlagBackend;
  cleanup?: () => Promise<void>;
}

export interface ContractFailure {
  /** HTTP status the error must carry (BackendError.status and "HTTP <status>" in the message). */
  status?: number;
  /** Text (or pattern) from the backend's own message that must appear in the error. */
  message: string | RegExp;
}

export interface ContractOptions<T extends ContractInstance = ContractInstance> {
  decimals?: boolean;
  users?: boolean;
  /** Arrange for the next `call` to fail; return what the error must contain (undefined = skip). */
  failure?: (instance: T, call: 'apply' | 'read') => Promise<ContractFailure | undefined>;
}

const [A, B, C] = CONTRACT_FLAGS;

function expectState(s: FlagState, want: Partial<FlagState>): void {
  expect(s).toMatchObject(want);
}

export function flagBackendContract<T extends ContractInstance>(name: string, make: () => Promise<T>, opts: ContractOptions<T> = {}): void {
  describe(`flag backend contract: ${name}`, () => {
    let inst: T;
    let backend: FlagBackend;

    beforeEach(async () => {
      inst = await make();
      backend = inst.backend;
    });
    afterEach(async () => {
      await backend?.close?.();
      await inst?.cleanup?.();
    });

    it('has a name that says what it is', () => {
      expect(typeof backend.name).toBe('string');
      expect(backend.name.length).toBeGreaterThan(0);
    });

    it('reads an absent flag as exists:false', async () => {
      const s = await backend.read(CONTRACT_MISSING_FLAG);
      expect(s.flag).toBe(CONTRACT_MISSING_FLAG);
      expect(s.exists).toBe(false);
    });

    it('sets a percentage and reads it back', async () => {
      await backend.apply({ flag: A, enabled: true, percentage: 25 });
      expectState(await backend.read(A), { flag: A, exists: true, enabled: true, percentage: 25 });
      await backend.apply({ flag: A, enabled: true, percentage: 50 });
      expectState(await backend.read(A), { exists: true, enabled: true, percentage: 50 });
      await backend.apply({ flag: A, enabled: true, percentage: 5 });
      expectState(await backend.read(A), { exists: true, enabled: true, percentage: 5 });
    });

    it('is idempotent: applying the same change twice equals applying it once', async () => {
      const change = { flag: A, enabled: true, percentage: 10 };
      await backend.apply(change);
      const once = await backend.read(A);
      await backend.apply(change);
      const twice = await backend.read(A);
      expect(twice).toEqual(once);
      expectState(twice, { enabled: true, percentage: 10 });
    });

    it('enables at 100% (explicitly, and when percentage is omitted)', async () => {
      await backend.apply({ flag: A, enabled: true, percentage: 100 });
      expectState(await backend.read(A), { exists: true, enabled: true, percentage: 100 });
      await backend.apply({ flag: B, enabled: true });
      expectState(await backend.read(B), { exists: true, enabled: true, percentage: 100 });
    });

    it('handles 0% while enabled', async () => {
      await backend.apply({ flag: A, enabled: true, percentage: 0 });
      const s = await backend.read(A);
      expect(s.exists).toBe(true);
      expect(s.percentage).toBe(0);
    });

    it('disables, and re-enables after disabling', async () => {
      await backend.apply({ flag: A, enabled: true, percentage: 30 });
      await backend.apply({ flag: A, enabled: false });
      const off = await backend.read(A);
      expect(off.exists).toBe(true);
      expect(off.enabled).toBe(false);
      await backend.apply({ flag: A, enabled: false }); // idempotent too
      expect((await backend.read(A)).enabled).toBe(false);
      await backend.apply({ flag: A, enabled: true, percentage: 40 });
      expectState(await backend.read(A), { enabled: true, percentage: 40 });
    });

    it('keeps several flags independent', async () => {
      await backend.apply({ flag: A, enabled: true, percentage: 10 });
      await backend.apply({ flag: B, enabled: true, percentage: 60 });
      await backend.apply({ flag: C, enabled: true, percentage: 90 });
      await backend.apply({ flag: C, enabled: false });
      expectState(await backend.read(A), { enabled: true, percentage: 10 });
      expectState(await backend.read(B), { enabled: true, percentage: 60 });
      expectState(await backend.read(C), { enabled: false });
      await backend.apply({ flag: B, enabled: true, percentage: 75 });
      expectState(await backend.read(A), { enabled: true, percentage: 10 });
      expectState(await backend.read(B), { enabled: true, percentage: 75 });
    });

    it('rejects an out-of-range percentage before writing anything', async () => {
      await backend.apply({ flag: A, enabled: true, percentage: 25 });
      const before = await backend.read(A);
      const beforeB = await backend.read(B);
      for (const bad of [101, -1, Number.NaN, Number.POSITIVE_INFINITY, 1e9]) {
        await expect(backend.apply({ flag: A, enabled: true, percentage: bad })).rejects.toThrow(/percentage/i);
      }
      // also for a flag never written: nothing may be created or changed
      await expect(backend.apply({ flag: B, enabled: true, percentage: 150 })).rejects.toThrow(/percentage/i);
      expect(await backend.read(A)).toEqual(before);
      expect(await backend.read(B)).toEqual(beforeB);
    });

    if (opts.decimals) {
      it('keeps fractional percentages', async () => {
        await backend.apply({ flag: A, enabled: true, percentage: 12.5 });
        expectState(await backend.read(A), { enabled: true, percentage: 12.5 });
        await backend.apply({ flag: A, enabled: true, percentage: 0.1 });
        expectState(await backend.read(A), { enabled: true, percentage: 0.1 });
      });
    }

    if (opts.users) {
      it('stores a user allowlist and replaces it on the next change', async () => {
        await backend.apply({ flag: A, enabled: true, percentage: 5, users: ['alice', 'bob'] });
        let s = await backend.read(A);
        expect([...(s.users ?? [])].sort()).toEqual(['alice', 'bob']);
        await backend.apply({ flag: A, enabled: true, percentage: 5, users: ['bob', 'carol'] });
        s = await backend.read(A);
        expect([...(s.users ?? [])].sort()).toEqual(['bob', 'carol']);
        expect(s.percentage).toBe(5);
      });
    }

    if (opts.failure) {
      it('surfaces backend errors with the backend name, HTTP status and message', async () => {
        let checked = 0;
        for (const call of ['apply', 'read'] as const) {
          const f = await opts.failure!(inst, call);
          if (!f) continue;
          checked++;
          const err = await (call === 'apply' ? backend.apply({ flag: A, enabled: true, percentage: 20 }) : backend.read(A)).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(err, `${call} should fail`).toBeInstanceOf(BackendError);
          const be = err as BackendError;
          expect(be.message).toContain(backend.name);
          if (f.status !== undefined) {
            expect(be.status).toBe(f.status);
            expect(be.message).toContain(`HTTP ${f.status}`);
          }
          if (typeof f.message === 'string') expect(be.message).toContain(f.message);
          else expect(be.message).toMatch(f.message);
        }
        expect(checked).toBeGreaterThan(0);
      });
    }
  });
}
