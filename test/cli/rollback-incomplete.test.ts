/**
 * An incomplete rollback is not an end state (issue 8, item 1), through the built binary on
 * the `command` flag backend (test/fixtures/flag-command.mjs: a JSON file, made to fail while
 * `<store>.fail` exists): the run keeps its flag locks, status says what failed and how to
 * retry, a new run on its flags is refused (exit 5), and `rollback`, `resume` and `advance`
 * retry the failed steps until the flags are off.
 */
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli, tempDir, write } from './helpers.js';

const FLAGCTL = resolve(import.meta.dirname, '../fixtures/flag-command.mjs');

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

/** A plan on the command backend; its rollback command fails until the file `ok` exists. */
function plan(o: { name?: string; flag?: string; failingCommand?: boolean } = {}): string {
  return `name: ${o.name ?? 'inc'}
backend:
  type: command
  apply: [node, ${FLAGCTL}, flags.json, set, '{flag}', '{enabled}', '{percentage}']
  read: [node, ${FLAGCTL}, flags.json, get, '{flag}']
metrics:
  sim: { type: simulated, series: { errors: 0.1 } }
defaults: { hold: 1h, interval: 100ms, maxJump: 100 }
checks:
  - { name: errors, provider: sim, query: errors, max: 5, unit: '%', tier: critical }
phases:
  - { name: main, flags: [${o.flag ?? 'inc-flag'}], steps: [10, 50, 100] }
rollback:
  commands:
    - { name: record, run: [node, -e, "require('fs').appendFileSync('reasons.log', JSON.stringify(process.env.ROLLOUT_REASON) + '\\\\n')"] }
${o.failingCommand ? `    - { name: needs-ok, run: [node, -e, "require('fs').appendFileSync('needs-ok.log', 'x'); process.exit(require('fs').existsSync('ok') ? 0 : 3)"] }\n` : ''}  healthCheck:
    command: [node, -e, "require('fs').appendFileSync('health.log', 'x')"]
    retries: 0
`;
}

const flagsFile = () => join(dir, 'flags.json');
const flags = async () => JSON.parse(await readFile(flagsFile(), 'utf8')) as Record<string, { enabled: boolean; percentage: number }>;
const statusJson = async () => {
  const r = await cli(['status', '--json'], { cwd: dir });
  return JSON.parse(r.stdout) as { run: string; status: string; reason: string; rollback: { failures: string[]; retries?: number; by?: string; reason: string }; rollbackIncomplete: { failures: string[]; failed: Array<{ step: string; name?: string }>; retry: string } | null };
};
const lines = async (f: string) => (existsSync(join(dir, f)) ? (await readFile(join(dir, f), 'utf8')).split('\n').filter(Boolean) : []);

describe('an incomplete rollback', () => {
  it('flags-off failed: keeps its locks, status says what to retry, new runs are refused (5); rollback retries until the flags are off', async () => {
    const f = await write(dir, 'plan.yaml', plan());
    expect((await cli(['advance', f], { cwd: dir })).code).toBe(6);
    expect((await flags())['inc-flag']).toMatchObject({ enabled: true, percentage: 10 });

    // The flag service goes down; the rollback cannot turn the flag off.
    await writeFile(`${flagsFile()}.fail`, 'connect ECONNREFUSED 127.0.0.1:4242');
    const rb = await cli(['rollback', '--reason', 'errors up', '--by', 'alice'], { cwd: dir });
    expect(rb.code, rb.stdout + rb.stderr).toBe(7);
    expect(rb.stdout).toMatch(/rollback-incomplete/);
    expect((await flags())['inc-flag']).toMatchObject({ enabled: true, percentage: 10 });

    const st = await statusJson();
    expect(st.status).toBe('rollback-incomplete');
    expect(st.rollbackIncomplete!.failed.map((x) => x.step)).toEqual(['flags']);
    expect(st.rollbackIncomplete!.retry).toBe(`rollout rollback ${st.run} --reason "…"`);
    const human = await cli(['status'], { cwd: dir });
    expect(human.stdout).toMatch(/rollback-incomplete/);
    expect(human.stdout).toMatch(/rollback incomplete/);
    expect(human.stdout).toMatch(/flag write failed: .*ECONNREFUSED/);
    expect(human.stdout).toMatch(new RegExp(`Retry with +rollout rollback ${st.run} --reason`));

    // Not an end state: the plan cannot be started again, nor another plan on the same flag.
    const again = await cli(['start', f], { cwd: dir });
    expect(again.code, again.stdout + again.stderr).toBe(5);
    expect(again.stderr).toContain(`run ${st.run}, whose rollback is INCOMPLETE`);
    expect(again.stderr).toMatch(/hint: Retry it: `rollout rollback /);
    const other = await write(dir, 'other.yaml', plan({ name: 'other' }));
    const o2 = await cli(['start', other], { cwd: dir });
    expect(o2.code, o2.stdout + o2.stderr).toBe(5);
    expect(o2.stderr).toContain(st.run);
    expect((await flags())['inc-flag']).toMatchObject({ enabled: true, percentage: 10 });

    // Still down: advance retries (and says what is left), exit 7.
    const adv = await cli(['advance'], { cwd: dir });
    expect(adv.code, adv.stdout + adv.stderr).toBe(7);
    expect(adv.stdout + adv.stderr).toMatch(/retrying the rollback \(retry 1/);
    expect(adv.stdout + adv.stderr).toMatch(/Still to do: flags off, the health check/);
    expect((await statusJson()).rollback.retries).toBe(1);

    // Back up: `rollback --reason` finishes it.
    await rm(`${flagsFile()}.fail`);
    const fin = await cli(['rollback', '--reason', 'service is back', '--by', 'bob'], { cwd: dir });
    expect(fin.code, fin.stdout + fin.stderr).toBe(0);
    expect((await flags())['inc-flag']).toMatchObject({ enabled: false, percentage: 0 });
    const done = await statusJson();
    expect(done.status).toBe('rolled-back');
    expect(done.reason).toMatch(/completed on retry 2/);
    // The rollback command ran once (it succeeded the first time) with exactly the reason given.
    expect(await lines('reasons.log')).toEqual(['"errors up"']);
    const log = JSON.parse((await cli(['log', '--json'], { cwd: dir })).stdout) as { events: Array<{ type: string }> };
    expect(log.events.filter((e) => e.type === 'rollback.retry')).toHaveLength(2);
    expect(log.events.filter((e) => e.type === 'rollback.escalated')).toHaveLength(1);

    // Finished: the locks are released, a new run of the other plan may start.
    const o3 = await cli(['advance', other], { cwd: dir });
    expect(o3.code, o3.stdout + o3.stderr).toBe(6);
  }, 90_000);

  it('a failed rollback command: resume retries that command and the health check, not the others', async () => {
    const f = await write(dir, 'plan.yaml', plan({ failingCommand: true }));
    expect((await cli(['advance', f], { cwd: dir })).code).toBe(6);
    const rb = await cli(['rollback', '--reason', 'why'], { cwd: dir });
    expect(rb.code, rb.stdout + rb.stderr).toBe(7);
    expect((await flags())['inc-flag']).toMatchObject({ enabled: false });
    let st = await statusJson();
    expect(st.status).toBe('rollback-incomplete');
    expect(st.rollbackIncomplete!.failed).toEqual([expect.objectContaining({ step: 'command', name: 'needs-ok' })]);

    await writeFile(join(dir, 'ok'), '');
    const res = await cli(['resume'], { cwd: dir });
    // resume exits like start, with where the run stands: rolled back (3), no longer 7.
    expect(res.code, res.stdout + res.stderr).toBe(3);
    st = await statusJson();
    expect(st.status).toBe('rolled-back');
    expect(await lines('reasons.log')).toHaveLength(1); // `record` succeeded the first time: not repeated
    expect((await readFile(join(dir, 'needs-ok.log'), 'utf8')).length).toBe(2);
    expect((await readFile(join(dir, 'health.log'), 'utf8')).length).toBe(2);
    // Finished: `resume` has nothing more to do.
    expect((await cli(['resume'], { cwd: dir })).code).toBe(2);
  }, 60_000);

  it('$ROLLOUT_REASON is exactly the reason given (who asked is recorded apart)', async () => {
    const f = await write(dir, 'plan.yaml', plan());
    expect((await cli(['advance', f], { cwd: dir })).code).toBe(6);
    const reason = 'p95 > 2s since 14:02; see INC-4411';
    const rb = await cli(['rollback', '--reason', reason, '--by', 'carol'], { cwd: dir });
    expect(rb.code, rb.stdout + rb.stderr).toBe(0);
    expect(await lines('reasons.log')).toEqual([JSON.stringify(reason)]);
    const st = await statusJson();
    expect(st.rollback).toMatchObject({ reason, by: 'carol' });
    expect(st.reason).toBe(`${reason} by carol`);
  });

  it('abort gives an incomplete rollback up deliberately: the run ends, says the flags may be on, and releases them', async () => {
    const f = await write(dir, 'plan.yaml', plan());
    expect((await cli(['advance', f], { cwd: dir })).code).toBe(6);
    await writeFile(`${flagsFile()}.fail`, 'down');
    expect((await cli(['rollback', '--reason', 'x'], { cwd: dir })).code).toBe(7);
    expect((await cli(['pause'], { cwd: dir })).code).toBe(2);
    const ab = await cli(['abort', '--reason', 'flag removed by hand'], { cwd: dir });
    expect(ab.code, ab.stdout + ab.stderr).toBe(0);
    const st = await statusJson();
    expect(st.status).toBe('aborted');
    expect(st.reason).toMatch(/INCOMPLETE rollback was abandoned .*check the flags inc-flag by hand/);
  });
});
