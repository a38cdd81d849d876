/**
 * `rollout rollback --segment/--ring` in-process: a partial rollback for some users (seed 002
 * "Partial Rollback (Specific User Segments)"), on the local flag store — what the store holds,
 * what `evaluate` answers, what `status` (human and --json) and `log` say, `--undo`, and the
 * clear errors where a backend cannot do it (command time) or a plan asks for it (validate).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inRollout } from '../../src/util/bucket.js';
import { quickPlan, run, tempDir, write } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

const store = async () => JSON.parse(await readFile(join(dir, '.rollout', 'flags.json'), 'utf8')) as Record<string, { percentage: number; exclude?: unknown }>;
/** A user inside the 50 % bucket of quick-flag. */
const IN = Array.from({ length: 100 }, (_, i) => `user-${i}`).find((u) => inRollout(u, 'quick-flag', 50))!;

describe('rollout rollback --segment / --ring (partial rollback for some users)', () => {
  it('the segment is off, everybody else keeps 50 %; status, log and evaluate say so; the run goes on, waits at the end, and --undo lets it complete', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '1h', steps: '[10, 50, 100]', extra: 'rings:\n  internal: { segments: [staff] }\n  ga: {}\n' }));
    expect((await run(['advance', f], { cwd: dir })).code).toBe(6);
    expect((await run(['promote'], { cwd: dir })).code).toBe(0);
    expect((await run(['advance'], { cwd: dir })).code).toBe(6);

    const r = await run(['rollback', '--segment', 'eu-users', '--reason', 'EU users see timeouts', '--by', 'alice'], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect((await store())['quick-flag']).toMatchObject({ enabled: true, percentage: 50, exclude: { segments: ['eu-users'] } });
    const off = JSON.parse((await run(['evaluate', 'quick-flag', '--key', IN, '--segment', 'eu-users', '--json'], { cwd: dir })).stdout);
    expect(off).toMatchObject({ enabled: false, reason: 'segment eu-users is rolled back' });
    expect(JSON.parse((await run(['evaluate', 'quick-flag', '--key', IN, '--json'], { cwd: dir })).stdout).enabled).toBe(true);
    const table = (await run(['flags'], { cwd: dir })).stdout;
    expect(table).toMatch(/rolled back for/);
    expect(table).toMatch(/segment:eu-users/);

    const st = JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout);
    expect(st).toMatchObject({ status: 'running', flags: { 'quick-flag': { percentage: 50 } }, excluded: [{ kind: 'segment', name: 'eu-users', reason: 'EU users see timeouts', by: 'alice', trigger: 'manual', check: null }] });
    const human = (await run(['status', '--utc'], { cwd: dir })).stdout;
    expect(human).toMatch(/Rolled back\s+segment eu-users since .*, by alice — EU users see timeouts/);
    const log = JSON.parse((await run(['log', '--json'], { cwd: dir })).stdout) as { events: Array<{ type: string; msg: string }> };
    expect(log.events.find((e) => e.type === 'rollback.cohort')!.msg).toMatch(/PARTIAL ROLLBACK for segment eu-users \(by alice\): quick-flag off for them; everybody else keeps quick-flag 50%/);

    // A ring too; refused: the same segment again, an unknown ring, --undo of one that is not out.
    expect((await run(['rollback', '--ring', 'internal', '--reason', 'staff builds crash'], { cwd: dir })).code).toBe(0);
    const again = await run(['rollback', '--segment', 'eu-users', '--reason', 'x'], { cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/segment eu-users is already rolled back/);
    const unknown = await run(['rollback', '--ring', 'nope', '--reason', 'x'], { cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown ring "nope"[^]*internal, ga/);
    expect((await run(['rollback', '--segment', 'apac', '--undo'], { cwd: dir })).stderr).toMatch(/segment apac is not rolled back/);

    // The next step keeps both out; at the end the run waits for them (exit 4).
    expect((await run(['promote'], { cwd: dir })).code).toBe(0);
    expect((await run(['advance'], { cwd: dir })).code).toBe(6);
    expect((await store())['quick-flag']).toMatchObject({ percentage: 100, exclude: { segments: ['eu-users'], rings: ['internal'] } });
    expect((await run(['promote'], { cwd: dir })).code).toBe(0);
    expect((await run(['advance'], { cwd: dir })).code).toBe(4);
    expect(JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout).waitingFor).toMatch(/segment eu-users, ring internal to be restored/);

    const undo = await run(['rollback', '--segment', 'eu-users', '--ring', 'internal', '--undo', '--reason', 'fixed in 2.3.1'], { cwd: dir });
    expect(undo.code, undo.stderr).toBe(0);
    expect((await store())['quick-flag']!.exclude).toBeUndefined();
    expect((await run(['advance'], { cwd: dir })).code).toBe(0);
    expect(JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout)).toMatchObject({ status: 'completed', excluded: [] });
  });

  it('usage errors: --undo/--pause without a cohort, --segment with --to or --mode', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '1h' }));
    expect((await run(['advance', f], { cwd: dir })).code).toBe(6);
    const undo = await run(['rollback', '--undo'], { cwd: dir });
    expect(undo.code).toBe(2);
    expect(undo.stderr).toMatch(/--undo goes with --segment or --ring/);
    expect((await run(['rollback', '--segment', 'x', '--to', '5', '--reason', 'r'], { cwd: dir })).code).toBe(2);
    expect((await run(['rollback', '--segment', 'x', '--mode', 'gradual', '--reason', 'r'], { cwd: dir })).code).toBe(2);
    expect((await run(['rollback', '--segment', 'x'], { cwd: dir })).stderr).toMatch(/a reason is required/);
  });

  it('a backend that cannot: refused at command time (exit 2, with the backends that can), and at validate time when a check asks for it', async () => {
    const envPlan = quickPlan({ hold: '1h' }).replace('backend: { type: local }', 'backend: { type: env-file, path: flags.env }');
    const f = await write(dir, 'plan.yaml', envPlan);
    expect((await run(['advance', f], { cwd: dir })).code).toBe(6);
    const r = await run(['rollback', '--segment', 'eu-users', '--reason', 'r'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/the env-file backend of plan quick cannot turn a flag off for some users only/);
    expect(r.stderr).toMatch(/local, unleash, flagd, launchdarkly/);
    expect(JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout).excluded).toEqual([]);

    const g = await write(dir, 'check.yaml', envPlan.replace("tier: critical }", "tier: critical, rollbackSegments: [eu-users] }"));
    const v = await run(['validate', g], { cwd: dir });
    expect(v.code).toBe(2);
    expect(v.stdout + v.stderr).toMatch(/check "errors": the env-file backend cannot turn a flag off for some users only[^]*\(checks.0.rollbackSegments\)/);
    // The same check on the local backend validates.
    const ok = await write(dir, 'ok.yaml', quickPlan().replace("tier: critical }", "tier: critical, rollbackSegments: [eu-users] }"));
    expect((await run(['validate', ok], { cwd: dir })).code).toBe(0);
  });
});
