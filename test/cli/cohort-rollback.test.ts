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

  it('on a finished run (completed, aborted, rolled back) a cohort rollback or --undo is refused (exit 2) saying what can be done instead', async () => {
    const plans = { done: 'completed', gone: 'aborted', back: 'rolled-back' } as const;
    for (const [name, status] of Object.entries(plans)) {
      const f = await write(dir, `${name}.yaml`, quickPlan({ name, flags: [`${name}-flag`], hold: '1h', steps: '[100]' }));
      expect((await run(['advance', f], { cwd: dir })).code).toBe(6);
      if (status === 'completed') {
        expect((await run(['promote', name], { cwd: dir })).code).toBe(0);
        expect((await run(['advance', name], { cwd: dir })).code).toBe(0);
      } else if (status === 'aborted') expect((await run(['abort', name, '--reason', 'stop'], { cwd: dir })).code).toBe(0);
      else expect((await run(['rollback', name, '--reason', 'bad'], { cwd: dir })).code).toBe(0);
      expect(JSON.parse((await run(['status', name, '--json'], { cwd: dir })).stdout).status).toBe(status);
    }
    const msg = async (ref: string, ...more: string[]) => {
      const r = await run(['rollback', ref, '--segment', 'eu-users', '--reason', 'x', ...more], { cwd: dir });
      expect(r.code, r.stderr).toBe(2);
      return r.stderr;
    };
    const done = await msg('done');
    expect(done).toMatch(/run done-\S+ is completed: a cohort rollback \(--segment\/--ring\) acts on a run in progress/);
    expect(done).toMatch(/hint: .*exclude segment eu-users on the local backend itself.*`rollout rollback done-\S+ --reason …` turns done-flag off for everybody/);
    const gone = await msg('gone');
    expect(gone).toMatch(/run gone-\S+ is aborted: a cohort rollback/);
    expect(gone).toMatch(/hint: .*left its flags as they were.*exclude segment eu-users on the local backend itself.*`rollout rollback gone-\S+ --reason …` turns gone-flag off for everybody/);
    const back = await msg('back');
    expect(back).toMatch(/run back-\S+ is rolled-back: a cohort rollback/);
    expect(back).toMatch(/hint: .*back-flag is already off for everybody, segment eu-users included.*`rollout start \S*back.yaml`/);
    expect(await msg('back', '--undo')).toMatch(/run back-\S+ is rolled-back: a cohort restore \(--segment\/--ring --undo\) acts on a run in progress/);
    // What the hints offer works: a full rollback of the completed and the aborted run.
    expect((await run(['rollback', 'done', '--reason', 'x'], { cwd: dir })).code).toBe(0);
    expect((await run(['rollback', 'gone', '--reason', 'x'], { cwd: dir })).code).toBe(0);
    // An aborted run that left the segment out: --undo points at the plan's next run, which takes it over.
    const f = await write(dir, 'left.yaml', quickPlan({ name: 'left', flags: ['left-flag'], hold: '1h', steps: '[100]' }));
    expect((await run(['advance', f], { cwd: dir })).code).toBe(6);
    expect((await run(['rollback', 'left', '--segment', 'eu-users', '--reason', 'x'], { cwd: dir })).code).toBe(0);
    expect((await run(['abort', 'left', '--reason', 'stop'], { cwd: dir })).code).toBe(0);
    const left = await msg('left', '--undo');
    expect(left).toMatch(/run left-\S+ is aborted: a cohort restore/);
    expect(left).toMatch(/hint: .*still left out on the backend; the plan's next run takes it over: start it \(`rollout start \S*left.yaml`\) and run `rollout rollback --segment eu-users --undo` on it/);
  });

  it("TAB completion after --segment / --ring offers the active run's plan's segments and rings (with --undo: the cohorts rolled back)", async () => {
    const tab = async (...words: string[]) => (await run(['__complete', String(words.length), 'rollout', ...words], { cwd: dir })).stdout.split('\n').filter(Boolean);
    const f = await write(
      dir,
      'plan.yaml',
      quickPlan({ hold: '1h', extra: 'rings:\n  internal: { segments: [staff] }\n  beta: { users: [u1], segments: [beta-testers] }\n  ga: {}\n' }).replace('tier: critical }', 'tier: critical, rollbackSegments: [android-legacy] }'),
    );
    expect(await tab('rollback', '--segment', '')).toEqual([]); // no run yet
    expect((await run(['advance', f], { cwd: dir })).code).toBe(6);
    expect(await tab('rollback', '--segment', '')).toEqual(['android-legacy', 'beta-testers', 'staff']);
    expect(await tab('rollback', 'quick', '--segment', 'b')).toEqual(['beta-testers']);
    expect(await tab('rollback', '--ring', '')).toEqual(['beta', 'internal']); // not ga: everybody else
    expect((await run(['rollback', '--segment', 'eu-users', '--ring', 'internal', '--reason', 'x'], { cwd: dir })).code).toBe(0);
    expect(await tab('rollback', '--undo', '--segment', '')).toEqual(['eu-users']);
    expect(await tab('rollback', '--undo', '--ring', '')).toEqual(['internal']);
    expect(await tab('rollback', '--segment', '')).toEqual(['android-legacy', 'beta-testers', 'staff']);
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
