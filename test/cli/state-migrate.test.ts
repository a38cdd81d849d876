/**
 * Run records written by the previous rollout (run record schema version 1) load and run on;
 * a record from a newer rollout is refused (exit 8, with what to do) and left as it is.
 *
 * test/fixtures/state-v1/ was written by the rollout of schema version 1 (`advance plan.yaml`
 * then `pause`): a run of plan.yaml paused at 10% with most of a 1 h hold left, its record
 * without `waiting`. Its stale lock files were left out (their pid means nothing elsewhere).
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { STATE_SCHEMA_VERSION, type RunState } from '../../src/engine/types.js';
import { StateError } from '../../src/errors.js';
import { migrateRunRecord } from '../../src/state/migrate.js';
import { run, tempDir } from './helpers.js';

const FIXTURE = resolve(import.meta.dirname, '../fixtures/state-v1');
const ID = 'migrate-v1-20261202-1007-f1d7';
const ctx = { where: 'test record', oldHint: 'old' };

describe('a run record of schema version 1 (fixture written by that version)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let stateFile: string;
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    await cp(FIXTURE, dir, { recursive: true });
    stateFile = join(dir, '.rollout/runs', ID, 'state.json');
    // The record names the plan by the absolute path it had where it was written.
    const text = await readFile(stateFile, 'utf8');
    await writeFile(stateFile, text.replace('/tmp/v1gen/plan.yaml', join(dir, 'plan.yaml')));
  });
  afterEach(() => cleanup());

  const state = async () => JSON.parse(await readFile(stateFile, 'utf8')) as RunState;
  const flags = async () => JSON.parse(await readFile(join(dir, '.rollout/flags.json'), 'utf8')) as Record<string, { percentage: number }>;

  it('is at version 1 as committed', async () => {
    const s = await state();
    expect(s.schema).toBe(1);
    expect(s.status).toBe('paused');
    expect(s).not.toHaveProperty('waiting');
  });

  it('status reads it without changing it', async () => {
    const before = await readFile(stateFile, 'utf8');
    const r = await run(['status', ID, '--json'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ run: ID, status: 'paused' });
    expect(await readFile(stateFile, 'utf8')).toBe(before);
  });

  it('resumes where it stood (the rest of its hold), is saved as the current version, and goes on to the next step', async () => {
    const left = (await state()).holdLeftMs!;
    expect(left).toBeGreaterThan(3_500_000);
    const t0 = Date.now();
    const r = await run(['resume', ID, '--detach'], { cwd: dir });
    expect(r.code, r.stderr + r.stdout).toBe(6);
    let s = await state();
    expect(s.schema).toBe(STATE_SCHEMA_VERSION);
    expect(s.status).toBe('running');
    expect(s.holdUntil).toBeGreaterThanOrEqual(t0 + left);
    expect(s.holdUntil).toBeLessThanOrEqual(Date.now() + left);
    expect(s.waiting).toEqual({ kind: 'hold', until: s.holdUntil });
    expect((await flags())['migrate-flag']!.percentage).toBe(10);

    const p = await run(['promote', ID], { cwd: dir });
    expect(p.code, p.stderr + p.stdout).toBe(0);
    s = await state();
    expect(s.step).toBe(1);
    expect(s.flags['migrate-flag']).toEqual({ enabled: true, percentage: 50 });
    expect((await flags())['migrate-flag']!.percentage).toBe(50);
    // The events written by version 1 and by this one are one log.
    const log = await run(['log', ID], { cwd: dir });
    expect(log.code, log.stderr).toBe(0);
    expect(log.stdout).toMatch(/paused: waiting for the v2 upgrade[\s\S]*resumed[\s\S]*50% applied/);
  });

  it('a record from a newer rollout is refused with exit 8 and a hint, and left as it is', async () => {
    const text = (await readFile(stateFile, 'utf8')).replace('"schema": 1', '"schema": 99');
    await writeFile(stateFile, text);
    for (const args of [['status', ID], ['resume', ID, '--detach']]) {
      const r = await run(args, { cwd: dir });
      expect(r.code, args.join(' ')).toBe(8);
      expect(r.stderr).toContain(stateFile);
      expect(r.stderr).toMatch(/newer rollout \(run record schema version 99\)/);
      expect(r.stderr).toMatch(/hint: .*upgrade rollout/);
    }
    expect(await readFile(stateFile, 'utf8')).toBe(text);
  });
});

describe('migrateRunRecord', () => {
  const v1 = (o: Record<string, unknown>) => ({ schema: 1, id: 'r', status: 'running', updatedAt: 1_000, ...o });

  it('gives version 1 records `waiting` from their words', () => {
    const cases: Array<[Record<string, unknown>, unknown]> = [
      [{ waitingFor: 'hold until 2025-01-01T00:00:00.000Z', holdUntil: 5_000 }, { kind: 'hold', until: 5_000 }],
      [{ waitingFor: 'checks: errors: 9% > 5%', checks: { errors: { verdict: 'fail' }, latency: { verdict: 'pass' } } }, { kind: 'checks', checks: ['errors'] }],
      [{ waitingFor: 'rollout window (opens …)' }, { kind: 'window' }],
      [{ waitingFor: 'schedule: main 50% on Monday 09:00 (…)' }, { kind: 'schedule' }],
      [{ waitingFor: 'applying main 10%' }, { kind: 'applying' }],
      [{ status: 'paused', waitingFor: 'a human: `rollout resume`, …' }, { kind: 'human' }],
      [{ status: 'awaiting-approval', waitingFor: 'approval for step main 50%', approval: { key: 'p0s1', phase: 0, step: 1, requestedAt: 1, deadline: 9_000 } }, { kind: 'approval', gate: 'p0s1', until: 9_000 }],
      [{ status: 'awaiting-approval', waitingFor: 'review: weekly (`rollout approve`)', approval: { key: 'review0@1', review: 'weekly' } }, { kind: 'review', gate: 'weekly' }],
      [{ status: 'rolling-back', waitingFor: 'gradual rollback: next step at …', rollback: { nextAt: 7_000 } }, { kind: 'rollback-step', until: 7_000 }],
      [{ status: 'rolling-back', waitingFor: 'gradual rollback: checks to pass for 5m …', rollback: { stable: { forMs: 1, until: 8_000 } } }, { kind: 'rollback-stable', until: 8_000 }],
      [{ status: 'rolling-back', waitingFor: 'rollback to finish' }, { kind: 'rollback' }],
      [{ status: 'rollback-incomplete', waitingFor: 'a retry of the failed rollback steps: …' }, { kind: 'rollback-retry' }],
    ];
    for (const [rec, waiting] of cases) {
      const { state, from } = migrateRunRecord(v1(rec), ctx);
      expect(from).toBe(1);
      expect(state.schema).toBe(STATE_SCHEMA_VERSION);
      expect(state.waiting, String(rec.waitingFor)).toEqual(waiting);
    }
    // Words it does not know: no `waiting` (the next tick sets it); one it has is kept.
    expect(migrateRunRecord(v1({ waitingFor: 'something new' }), ctx).state.waiting).toBeUndefined();
    expect(migrateRunRecord(v1({ waitingFor: 'hold until x', waiting: { kind: 'human' } }), ctx).state.waiting).toEqual({ kind: 'human' });
  });

  it("stops the hold clock of a version 1 record paused mid-hold (what was left when it was saved), as a pause does now", () => {
    const { state } = migrateRunRecord(v1({ status: 'paused', step: 0, holdUntil: 61_000, updatedAt: 1_000 }), ctx);
    expect(state.holdLeftMs).toBe(60_000);
    expect(state.holdUntil).toBeUndefined();
    // Running, or a hold already over: unchanged.
    expect(migrateRunRecord(v1({ holdUntil: 61_000 }), ctx).state.holdUntil).toBe(61_000);
    const over = migrateRunRecord(v1({ status: 'paused', holdUntil: 500 }), ctx).state;
    expect([over.holdUntil, over.holdLeftMs]).toEqual([500, undefined]);
  });

  it('leaves a current record alone, refuses newer ones (exit 8) and unversioned ones', () => {
    const cur = { schema: STATE_SCHEMA_VERSION, id: 'r', waitingFor: 'hold until x' };
    expect(migrateRunRecord(cur, ctx)).toEqual({ state: cur, from: STATE_SCHEMA_VERSION });
    expect(cur).not.toHaveProperty('waiting');
    const newer = (() => {
      try {
        migrateRunRecord({ schema: STATE_SCHEMA_VERSION + 1, id: 'r', extra: 1 }, ctx);
      } catch (e) {
        return e;
      }
    })();
    expect(newer).toBeInstanceOf(StateError);
    expect((newer as StateError).exitCode).toBe(8);
    expect((newer as StateError).hint).toMatch(/upgrade rollout/);
    expect(() => migrateRunRecord({ id: 'r' }, ctx)).toThrow(/no schema version/);
    expect(() => migrateRunRecord({ schema: 0, id: 'r' }, ctx)).toThrow(/schema version 0/);
  });
});
