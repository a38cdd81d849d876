/**
 * The state store contract: what every store (FileStore, PgStore) must do, run against each
 * from its own test file. `Store` is FileStore's public API; a store that does not fit it
 * does not compile.
 */
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STATE_SCHEMA_VERSION, type Control, type RunEvent, type RunState, type RunStatus } from '../../src/engine/types.js';
import { LockError, StateError, UsageError } from '../../src/errors.js';
import { LeaseLostError, type LockInfo, type Store } from '../../src/state/index.js';
import { clearSecrets, registerSecret } from '../../src/util/redact.js';

export type { Store };

export interface StoreFixture {
  store: Store;
  /** Another store on the same backend (its own instance: for PostgreSQL its own pool). */
  peer(): Promise<Store>;
  /**
   * Damage a run's record: not a JSON object, or a record of a newer schema version (99); or
   * make it as version 1 wrote it (schema 1, no `waiting`).
   */
  corrupt(id: string, how: 'garbage' | 'schema' | 'v1'): Promise<void>;
  /** Everything stored about a run (record, events, inbox, incidents), as text. */
  raw(id: string): Promise<string>;
  /** Write a lock as some other process would have. */
  plantLock(kind: 'flag' | 'run', name: string, info: LockInfo): Promise<void>;
  cleanup(): Promise<void>;
}

export const T0 = Date.parse('2025-03-03T08:00:00Z');

export function mkState(id: string, o: { plan?: string; status?: RunStatus; seq?: number; startedAt?: number; reason?: string } = {}): RunState {
  return {
    schema: STATE_SCHEMA_VERSION,
    id,
    plan: { name: o.plan ?? 'checkout', file: 'plans/checkout.yaml', hash: 'abc123' },
    status: o.status ?? 'running',
    ...(o.reason === undefined ? {} : { reason: o.reason }),
    phase: 0,
    step: -1,
    approved: [],
    flags: { 'new-checkout': { enabled: true, percentage: 10 } },
    checks: {},
    pending: [],
    startedAt: o.startedAt ?? T0,
    updatedAt: o.startedAt ?? T0,
    seq: o.seq ?? 0,
    nextActionId: 1,
  };
}

export const ev = (seq: number, msg = `event ${seq}`, data?: Record<string, unknown>): RunEvent => ({ seq, at: T0 + seq * 1000, type: 'step', msg, ...(data ? { data } : {}) });

/** A pid that is certainly not running (a child that has exited). */
export function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid!;
}

const settle = async <T>(ps: Promise<T>[]) => Promise.allSettled(ps);

export function stateStoreContract(name: string, fresh: () => Promise<StoreFixture>): void {
  describe(`state store contract: ${name}`, () => {
    let fx: StoreFixture;
    let store: Store;
    beforeEach(async () => {
      fx = await fresh();
      store = fx.store;
    });
    afterEach(async () => {
      clearSecrets();
      await fx.cleanup();
    });

    describe('runs', () => {
      it('round-trips the state and the events', async () => {
        const s = mkState('run-1', { seq: 3 });
        s.checks = { errors: { name: 'errors', status: 'ok', value: 0.5 } } as unknown as RunState['checks'];
        s.approval = { key: 'k', phase: 1, step: 2, requestedAt: T0, message: 'ünïcödé ✓ "quoted"\nline' };
        const events = [ev(0, 'created', { plan: 'checkout', nested: { list: [1, 2.5, null, 'x'] } }), ev(1), ev(2, 'applied', { pct: 10 })];
        await store.save(s, events);
        expect(await store.load('run-1')).toEqual(s);
        const got = await store.events('run-1');
        expect(got).toEqual(events);
        expect(got[1]).not.toHaveProperty('data');
        expect(typeof store.dir).toBe('string');
      });

      it('updates the record on each save and appends events', async () => {
        await store.save(mkState('r', { seq: 1 }), [ev(0)]);
        const s2 = { ...mkState('r', { seq: 3, status: 'paused', reason: 'manual' }) };
        await store.save(s2, [ev(1), ev(2)]);
        expect((await store.load('r')).status).toBe('paused');
        expect((await store.events('r')).map((e) => e.seq)).toEqual([0, 1, 2]);
        await store.save({ ...s2, status: 'running', reason: undefined }, []);
        expect((await store.load('r')).status).toBe('running');
        expect((await store.events('r')).map((e) => e.seq)).toEqual([0, 1, 2]);
      });

      it('hides events at or past the state seq (orphans of a lost decision) and lets the re-made decision replace them', async () => {
        await store.save(mkState('r', { seq: 2 }), [ev(0), ev(1), ev(2, 'orphan'), ev(3, 'orphan')]);
        expect((await store.events('r')).map((e) => e.seq)).toEqual([0, 1]);
        await store.save(mkState('r', { seq: 4 }), [ev(2, 'remade'), ev(3, 'remade')]);
        const evs = await store.events('r');
        expect(evs.map((e) => `${e.seq}:${e.msg}`)).toEqual(['0:event 0', '1:event 1', '2:remade', '3:remade']);
      });

      it('load of an unknown run is a usage error; events of it too', async () => {
        await expect(store.load('nope')).rejects.toThrow(UsageError);
        await expect(store.load('nope')).rejects.toThrow(/no run "nope"/);
        await expect(store.events('nope')).rejects.toThrow(UsageError);
      });

      it('a corrupt record is a clear StateError, and list() skips it', async () => {
        await store.save(mkState('bad', { startedAt: T0 }), [ev(0)]);
        await store.save(mkState('good', { startedAt: T0 + 1 }), [ev(0)]);
        await fx.corrupt('bad', 'garbage');
        const err = await store.load('bad').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StateError);
        expect((err as StateError).message).toMatch(/corrupt/);
        expect((err as StateError).hint).toBeTruthy();
        await expect(store.events('bad')).rejects.toThrow(StateError);
        expect((await store.list()).map((r) => r.id)).toEqual(['good']);
      });

      it('a record of a newer schema version is refused (StateError, exit 8) naming both versions and what to do', async () => {
        await store.save(mkState('old'), []);
        await fx.corrupt('old', 'schema');
        const err = await store.load('old').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StateError);
        expect((err as StateError).exitCode).toBe(8);
        expect((err as StateError).message).toMatch(/newer rollout \(run record schema version 99\)/);
        expect((err as StateError).message).toContain(`to ${STATE_SCHEMA_VERSION}`);
        expect((err as StateError).hint).toMatch(/upgrade rollout/);
        expect(await store.list()).toEqual([]);
      });

      it('a record written by schema version 1 is migrated on load (waiting from its words) and saved back as the current version', async () => {
        const s = { ...mkState('v1', { startedAt: T0 }), step: 0, holdUntil: T0 + 3_600_000, waitingFor: 'hold until 2025-03-03T09:00:00.000Z', waiting: { kind: 'hold' as const, until: T0 + 3_600_000 } };
        await store.save(s, [ev(0)]);
        await fx.corrupt('v1', 'v1');
        expect(await fx.raw('v1')).not.toContain('"waiting"');
        const got = await store.load('v1');
        expect(got.schema).toBe(STATE_SCHEMA_VERSION);
        expect(got.waiting).toEqual({ kind: 'hold', until: T0 + 3_600_000 });
        expect(got.holdUntil).toBe(T0 + 3_600_000);
        expect((await store.list()).map((r) => r.id)).toEqual(['v1']);
        await store.save({ ...got, seq: 1 }, [ev(1)]);
        expect(await fx.raw('v1')).toMatch(new RegExp(`schema"+: ?${STATE_SCHEMA_VERSION}\\b`));
      });

      it('lists runs newest first', async () => {
        expect(await store.list()).toEqual([]);
        await store.save(mkState('a', { startedAt: T0 + 1000 }), []);
        await store.save(mkState('b', { startedAt: T0 + 3000 }), []);
        await store.save(mkState('c', { startedAt: T0 + 2000 }), []);
        expect((await store.list()).map((r) => r.id)).toEqual(['b', 'c', 'a']);
      });

      it('discard removes a run and its events and inbox', async () => {
        await store.save(mkState('gone'), [ev(0)]);
        await store.post('gone', { kind: 'resume' });
        await store.discard('gone');
        await expect(store.load('gone')).rejects.toThrow(UsageError);
        expect(await store.list()).toEqual([]);
        expect(await store.pending('gone')).toBe(false);
        await store.discard('never-existed');
      });

      it('writeIncident is idempotent per key and says where it went', async () => {
        await store.save(mkState('r'), []);
        const a = await store.writeIncident('r', { reason: 'first' }, '123-4');
        const b = await store.writeIncident('r', { reason: 'second' }, '123-4');
        expect(a).toBe(b);
        expect(a.length).toBeGreaterThan(0);
        const raw = await fx.raw('r');
        expect(raw).toContain('second');
        expect(raw).not.toContain('first');
        expect(await store.writeIncident('r', { reason: 'keyless' })).toBeTruthy();
      });

      it('redacts secrets in everything it writes', async () => {
        const token = 'sk-live-4f9a8b7c6d5e';
        registerSecret(token);
        const s = mkState('sec', { seq: 1, reason: `paused: auth ${token} rejected` });
        await store.save(s, [ev(0, `called https://user:hunter2pass@api.example.com/x?token=${token}`, { header: `Bearer ${token}` })]);
        await store.post('sec', { kind: 'pause', reason: `token ${token}` });
        await store.writeIncident('sec', { reason: `webhook ${token}` }, 'k');
        const raw = await fx.raw('sec');
        expect(raw).not.toContain(token);
        expect(raw).not.toContain('hunter2pass');
        expect(raw).toContain('***');
        expect((await store.load('sec')).reason).toBe('paused: auth *** rejected');
      });
    });

    describe('resolve', () => {
      it('with no runs: a usage error', async () => {
        await expect(store.resolve()).rejects.toThrow(/no runs yet/);
      });

      it('by id, by plan name (its latest run), the single active run, else the latest', async () => {
        await store.save(mkState('checkout-1', { plan: 'checkout', status: 'completed', startedAt: T0 }), []);
        await store.save(mkState('checkout-2', { plan: 'checkout', status: 'rolled-back', startedAt: T0 + 2000 }), []);
        await store.save(mkState('search-1', { plan: 'search', status: 'completed', startedAt: T0 + 1000 }), []);
        expect(await store.resolve('checkout-1')).toBe('checkout-1');
        expect(await store.resolve('checkout')).toBe('checkout-2');
        expect(await store.resolve('search')).toBe('search-1');
        expect(await store.resolve()).toBe('checkout-2'); // nothing active: the latest
        await store.save(mkState('search-2', { plan: 'search', status: 'paused', startedAt: T0 + 500 }), []);
        expect(await store.resolve()).toBe('search-2'); // the one active run
        await store.save(mkState('checkout-3', { plan: 'checkout', status: 'running', startedAt: T0 + 3000 }), []);
        const err = await store.resolve().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(UsageError);
        expect((err as UsageError).message).toMatch(/2 runs are active: checkout-3, search-2/);
      });

      it('a run whose record cannot be read is reported as such when named, or when it is the only run', async () => {
        await store.save(mkState('broken-1', { plan: 'checkout' }), []);
        await fx.corrupt('broken-1', 'schema');
        await expect(store.resolve()).rejects.toThrow(StateError);
        await expect(store.resolve('anything')).rejects.toThrow(/schema version 99/);
        await store.save(mkState('good-1', { plan: 'search', status: 'completed' }), []);
        await expect(store.resolve('broken-1')).rejects.toThrow(StateError);
        expect(await store.resolve()).toBe('good-1');
        await expect(store.resolve('nothing-like-it')).rejects.toThrow(UsageError);
      });

      it('an unknown name: did-you-mean hint', async () => {
        await store.save(mkState('checkout-1', { plan: 'checkout' }), []);
        const err = await store.resolve('chekout').catch((e: unknown) => e);
        expect(err).toBeInstanceOf(UsageError);
        expect((err as UsageError).message).toMatch(/no run or plan named "chekout"/);
        expect((err as UsageError).hint).toMatch(/Did you mean "checkout"/);
        const far = await store.resolve('zzzzzzzzzzzz').catch((e: unknown) => e);
        expect((far as UsageError).hint).not.toMatch(/Did you mean/);
      });
    });

    describe('inbox', () => {
      it('post, pending, take in order, then empty', async () => {
        await store.save(mkState('r'), []);
        expect(await store.pending('r')).toBe(false);
        expect(await store.take('r')).toEqual([]);
        const ctls: Control[] = [
          { kind: 'pause', reason: 'one', by: 'ann' },
          { kind: 'approve', by: 'bob', note: 'two' },
          { kind: 'rollback', reason: 'three', mode: 'gradual' },
          { kind: 'promote', full: true },
        ];
        for (const c of ctls) await store.post('r', c);
        expect(await store.pending('r')).toBe(true);
        expect(await store.pending('other')).toBe(false);
        expect(await store.take('r')).toEqual(ctls);
        expect(await store.pending('r')).toBe(false);
        expect(await store.take('r')).toEqual([]);
      });

      it('a request posted through another store instance reaches this one', async () => {
        const other = await fx.peer();
        await other.post('r', { kind: 'abort', reason: 'from elsewhere' });
        expect(await store.pending('r')).toBe(true);
        expect(await store.take('r')).toEqual([{ kind: 'abort', reason: 'from elsewhere' }]);
      });
    });

    describe('flag locks', () => {
      it('all or nothing: a flag held by an active run blocks, naming the holder; nothing else is taken', async () => {
        await store.save(mkState('run-a'), []);
        await store.save(mkState('run-b'), []);
        await store.lockFlags('run-a', ['f1', 'f2'], { now: T0 });
        const err = await store.lockFlags('run-b', ['f3', 'f2', 'f0'], { now: T0 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(LockError);
        expect((err as LockError).message).toMatch(/flag f2 is locked by run run-a/);
        expect((err as LockError).message).toMatch(/no live process drives it/);
        expect((err as LockError).hint).toMatch(/--takeover/);
        expect(await store.readLock('flag', 'f0')).toBeUndefined();
        expect(await store.readLock('flag', 'f3')).toBeUndefined();
        const held = await store.readLock('flag', 'f2');
        expect(held).toMatchObject({ owner: 'run-a', host: hostname(), pid: process.pid, acquiredAt: new Date(T0).toISOString() });
        // The holder locking again (resume) is fine.
        await store.lockFlags('run-a', ['f1', 'f2'], { now: T0 + 1 });
      });

      it('names a live driver when the holder has one', async () => {
        await store.save(mkState('run-a'), []);
        await store.save(mkState('run-b'), []);
        const lease = await store.lockRun('run-a', { leaseMs: 60_000, now: Date.now() });
        await store.lockFlags('run-a', ['f'], { now: T0 });
        const err = await store.lockFlags('run-b', ['f'], { now: T0 }).catch((e: unknown) => e);
        expect((err as LockError).message).toMatch(new RegExp(`driven by pid ${process.pid} on ${hostname()}, alive`));
        await store.release(lease);
      });

      it('takeover takes the flags of an active run', async () => {
        await store.save(mkState('run-a'), []);
        await store.save(mkState('run-b'), []);
        await store.lockFlags('run-a', ['f1', 'f2'], { now: T0 });
        await store.lockFlags('run-b', ['f2', 'f3'], { now: T0, takeover: true });
        expect((await store.readLock('flag', 'f1'))?.owner).toBe('run-a');
        expect((await store.readLock('flag', 'f2'))?.owner).toBe('run-b');
        expect((await store.readLock('flag', 'f3'))?.owner).toBe('run-b');
      });

      it('locks of finished or vanished runs are stale and replaced', async () => {
        await store.save(mkState('done', { status: 'completed' }), []);
        await store.save(mkState('run-b'), []);
        await store.lockFlags('done', ['f1'], { now: T0 });
        await store.lockFlags('vanished', ['f3'], { now: T0 });
        await store.lockFlags('run-b', ['f1', 'f3'], { now: T0 });
        for (const f of ['f1', 'f3']) expect((await store.readLock('flag', f))?.owner).toBe('run-b');
      });

      it('a run whose record cannot be read keeps its flags until --takeover', async () => {
        await store.save(mkState('broken'), []);
        await store.save(mkState('run-b'), []);
        await store.lockFlags('broken', ['f2'], { now: T0 });
        await fx.corrupt('broken', 'garbage');
        const err = await store.lockFlags('run-b', ['f1', 'f2'], { now: T0 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(LockError);
        expect((err as LockError).message).toMatch(/flag f2 is locked by run broken, whose state cannot be read: .*corrupt/);
        expect((err as LockError).hint).toMatch(/--takeover/);
        expect(await store.readLock('flag', 'f1')).toBeUndefined();
        await store.lockFlags('run-b', ['f1', 'f2'], { now: T0, takeover: true });
        expect((await store.readLock('flag', 'f2'))?.owner).toBe('run-b');
      });

      it('unlockFlags releases only the flags the run holds', async () => {
        await store.save(mkState('run-a'), []);
        await store.save(mkState('run-b'), []);
        await store.lockFlags('run-a', ['f1'], { now: T0 });
        await store.lockFlags('run-b', ['f2'], { now: T0 });
        await store.unlockFlags('run-a', ['f1', 'f2']);
        expect(await store.readLock('flag', 'f1')).toBeUndefined();
        expect((await store.readLock('flag', 'f2'))?.owner).toBe('run-b');
        await store.unlockFlags('run-a', []);
      });

      it('20 store instances racing for one flag: exactly one wins, 19 LockErrors name it', async () => {
        const N = 20;
        const stores = [store, ...(await Promise.all(Array.from({ length: N - 1 }, () => fx.peer())))];
        await Promise.all(stores.map((s, i) => s.save(mkState(`racer-${i}`), [])));
        const results = await settle(stores.map((s, i) => s.lockFlags(`racer-${i}`, ['race-flag', `own-${i}`], { now: T0 })));
        const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
        expect(winners).toHaveLength(1);
        const w = winners[0]!;
        expect((await store.readLock('flag', 'race-flag'))?.owner).toBe(`racer-${w}`);
        for (const [i, r] of results.entries()) {
          if (i === w) continue;
          expect(r.status).toBe('rejected');
          const e = (r as PromiseRejectedResult).reason as Error;
          expect(e).toBeInstanceOf(LockError);
          expect(e.message).toContain(`flag race-flag is locked by run racer-${w}`);
          expect(await store.readLock('flag', `own-${i}`)).toBeUndefined(); // all or nothing
        }
        expect((await store.readLock('flag', `own-${w}`))?.owner).toBe(`racer-${w}`);
      });
    });

    describe('run leases', () => {
      const near = (x: number | undefined, y: number) => expect(Math.abs((x ?? 0) - y)).toBeLessThan(5_000);

      it('one driver at a time; release; takeover; the conflict says who and until when', async () => {
        const now = Date.now();
        const lease = await store.lockRun('r', { leaseMs: 60_000, now });
        near(lease.until, now + 60_000);
        expect(await store.driver('r')).toMatchObject({ owner: 'r', host: hostname(), pid: process.pid, epoch: lease.epoch });
        const other = await fx.peer();
        const err = await other.lockRun('r', { leaseMs: 60_000, now }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(LockError);
        expect((err as LockError).message).toMatch(new RegExp(`run r is being driven by pid ${process.pid} on ${hostname()} \\(since .*, lease until \\d{4}-`));
        await store.release(lease);
        expect(await store.driver('r')).toBeUndefined();
        const l2 = await other.lockRun('r', { leaseMs: 60_000, now });
        const l3 = await store.lockRun('r', { leaseMs: 1000, now, takeover: true });
        expect(l3.epoch).toBeGreaterThan(l2.epoch);
        near((await store.readLock('run', 'r'))?.leaseUntil, now + 1000);
        // Releasing a lease that was taken over leaves the new holder alone.
        await other.release(l2);
        expect((await store.driver('r'))?.epoch).toBe(l3.epoch);
        await store.release(l3);
      });

      it('every grant bumps the epoch, also after a release', async () => {
        const a = await store.lockRun('r', { now: Date.now() });
        await store.release(a);
        const b = await store.lockRun('r', { now: Date.now() });
        expect(b.epoch).toBeGreaterThan(a.epoch);
        await store.release(b);
      });

      it('a dead driver on this host is replaced', async () => {
        const pid = deadPid();
        await fx.plantLock('run', 'r', { owner: 'r', host: hostname(), pid, acquiredAt: new Date(T0).toISOString(), leaseUntil: Date.now() + 3_600_000 });
        expect(await store.driver('r')).toBeUndefined();
        const lease = await store.lockRun('r', { leaseMs: 60_000, now: Date.now() });
        expect((await store.driver('r'))?.pid).toBe(process.pid);
        await store.release(lease);
      });

      it('a driver on another host holds while its lease lasts', async () => {
        const lease = { owner: 'r', host: 'elsewhere.example', pid: 4242, acquiredAt: new Date(T0).toISOString() };
        await fx.plantLock('run', 'r', { ...lease, leaseUntil: Date.now() + 3_600_000 });
        expect(await store.driver('r')).toMatchObject({ host: 'elsewhere.example', pid: 4242 });
        const err = await store.lockRun('r', { leaseMs: 60_000, now: Date.now() }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(LockError);
        expect((err as LockError).message).toMatch(/driven by pid 4242 on elsewhere\.example .*lease until/);
        expect((err as LockError).hint).toMatch(/lease/);
        await fx.plantLock('run', 'r2', { ...lease, owner: 'r2', leaseUntil: Date.now() - 1 });
        expect(await store.driver('r2')).toBeUndefined();
        const mine = await store.lockRun('r2', { leaseMs: 60_000, now: Date.now() });
        expect((await store.driver('r2'))?.host).toBe(hostname());
        await store.release(mine);
      });

      it('renew extends only leases still ours, and reports the lost ones', async () => {
        const now = Date.now();
        const lease = await store.lockRun('r', { leaseMs: 1000, now });
        expect([...(await store.renew([lease], 99_000))]).toEqual([]);
        near((await store.readLock('run', 'r'))?.leaseUntil, now + 99_000);
        const other = await fx.peer();
        const taken = await other.lockRun('r', { now, takeover: true });
        expect([...(await store.renew([lease], 99_000))]).toEqual(['r']);
        expect((await store.readLock('run', 'r'))?.epoch).toBe(taken.epoch);
        await other.release(taken);
      });

      it('fencing: a save under a lease that was taken over is refused and writes nothing', async () => {
        await store.save(mkState('r', { seq: 1 }), [ev(0)]);
        const old = await store.lockRun('r', { leaseMs: 60_000, now: Date.now() });
        await store.save(mkState('r', { seq: 2 }), [ev(1)], old);
        const other = await fx.peer();
        const now = await other.lockRun('r', { now: Date.now(), takeover: true });
        const err = await store.save(mkState('r', { seq: 3, reason: 'stale' }), [ev(2, 'stale')], old).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(LeaseLostError);
        expect((err as LeaseLostError).exitCode).toBe(5);
        const s = await store.load('r');
        expect(s.seq).toBe(2);
        expect(s.reason).toBeUndefined();
        expect((await store.events('r')).map((e) => e.msg)).toEqual(['event 0', 'event 1']);
        await other.save(mkState('r', { seq: 3 }), [ev(2)], now);
        expect((await store.load('r')).seq).toBe(3);
        await other.release(now);
      });

      it('claim: active runs without a live lease, oldest first, never one run to two workers', async () => {
        for (let i = 0; i < 6; i++) await store.save(mkState(`c${i}`, { startedAt: T0 + i }), []);
        await store.save(mkState('done', { status: 'completed' }), []);
        await store.save({ ...mkState('tail', { status: 'completed' }), pending: [{ id: 1, kind: 'notify', event: 'run.completed', severity: 'info', vars: {} }] }, []);
        const held = await store.lockRun('c0', { now: Date.now() });
        const peers = [store, await fx.peer(), await fx.peer()];
        const got = await Promise.all(peers.map((p, i) => p.claim(`w${i}`, 10, 60_000)));
        const ids = got.flat().map((l) => l.runId).sort();
        expect(ids).toEqual(['c1', 'c2', 'c3', 'c4', 'c5', 'tail']);
        for (const [i, ls] of got.entries()) for (const l of ls) expect((await store.driver(l.runId))?.worker).toBe(`w${i}`);
        expect(await store.claim('w9', 10)).toEqual([]);
        const limited = await (await fx.peer()).claim('w8', 1);
        expect(limited).toEqual([]);
        // A lapsed lease is claimed again, with a higher epoch.
        await fx.plantLock('run', 'c0', { owner: 'c0', host: 'elsewhere.example', pid: 1, acquiredAt: new Date(T0).toISOString(), leaseUntil: Date.now() - 1, epoch: held.epoch });
        const again = await store.claim('w9', 1);
        expect(again.map((l) => l.runId)).toEqual(['c0']);
        expect(again[0]!.epoch).toBeGreaterThan(held.epoch);
        expect((await store.leases()).length).toBe(7);
      });

      it('workers: heartbeat, list with held runs, leave', async () => {
        await store.heartbeat({ id: 'w1', host: hostname(), pid: process.pid, startedAt: Date.now(), concurrency: 5 });
        await store.save(mkState('x'), []);
        await store.claim('w1', 5);
        const ws = await (await fx.peer()).workers();
        expect(ws).toMatchObject([{ id: 'w1', pid: process.pid, concurrency: 5, runs: 1 }]);
        expect(ws[0]!.heartbeatAgeMs).toBeLessThan(5_000);
        await store.leave('w1');
        expect(await store.workers()).toEqual([]);
      });

      it('plan snapshots round-trip', async () => {
        await store.save(mkState('p'), []);
        expect(await store.readPlan('p')).toBeUndefined();
        const plan = {
          name: 'checkout',
          phases: [],
          backend: { type: 'unleash', options: { token: 'sekret-token-123' } },
          metrics: { prom: { type: 'prometheus', options: { headers: { Authorization: 'Bearer x' } } } },
          notify: { targets: {} },
          rollback: { commands: [{ name: 'c', argv: ['x'], env: { TOKEN: 'sekret-token-123' } }], escalate: { commands: [], notify: [] } },
        } as unknown as Parameters<Store['writePlan']>[1];
        await store.writePlan('p', plan);
        // Kept without adapter options and command env (they may hold secrets).
        expect(await store.readPlan('p')).toMatchObject({ name: 'checkout', backend: { type: 'unleash', options: {} }, metrics: { prom: { type: 'prometheus', options: {} } } });
        expect(JSON.stringify(await store.readPlan('p'))).not.toContain('sekret');
      });
    });
  });
}
