/**
 * Issue 13: who started a run. The command passes `user@host` ($ROLLOUT_USER, else the OS
 * account) into createRun; the run record and the run.started event keep it; the report
 * header, `status` and `status --json` show it.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRun } from '../../src/engine/engine.js';
import { startedBy } from '../../src/runner/session.js';
import { runRecordProblems } from '../../src/state/validate.js';
import { mkPlan, T0 } from '../unit/helpers.js';
import { quickPlan, run, tempDir, write } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await tempDir()));
afterEach(() => cleanup());

const host = hostname();

describe('startedBy', () => {
  it('createRun records who started the run in the state and the run.started event', async () => {
    const plan = await mkPlan(quickPlan());
    const d = createRun(plan, 'r1', T0, 'alice@box-1');
    expect(d.state.startedBy).toBe('alice@box-1');
    const ev = d.events.find((e) => e.type === 'run.started')!;
    expect(ev.data?.startedBy).toBe('alice@box-1');
    expect(ev.msg).toContain('started by alice@box-1');
    expect(runRecordProblems(d.state, 'r1')).toEqual([]);
    // Simulations and backtests pass nobody: the field stays absent.
    expect('startedBy' in createRun(plan, 'r2', T0).state).toBe(false);
  });

  it('is $ROLLOUT_USER, else the OS account, plus @host', () => {
    expect(startedBy({ ROLLOUT_USER: 'ci-bot' }, 'runner-7')).toBe('ci-bot@runner-7');
    expect(startedBy({ USER: 'ignored' }, 'h')).toBe(`${userInfo().username}@h`);
  });

  it('the record validator accepts it (and old records without it), and refuses a non-string', async () => {
    const plan = await mkPlan(quickPlan());
    const { startedBy: _, ...old } = createRun(plan, 'r1', T0, 'a@b').state;
    expect(runRecordProblems(old, 'r1')).toEqual([]);
    expect(runRecordProblems({ ...old, startedBy: 5 }, 'r1')).toEqual(['startedBy: expected a string, found number 5']);
  });

  it('a started run shows its starter in status, status --json and the report header', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan());
    const env = { ROLLOUT_USER: 'alice' };
    const started = await run(['start', f], { cwd: dir, env });
    expect(started.code, started.stderr).toBe(0);

    const st = await run(['status', '--json'], { cwd: dir, env: { ROLLOUT_USER: 'bob' } });
    expect(st.code, st.stderr).toBe(0);
    const json = JSON.parse(st.stdout) as { run: string; startedBy: string };
    expect(json.startedBy).toBe(`alice@${host}`);

    const text = await run(['status', json.run], { cwd: dir, env: { ROLLOUT_USER: 'bob' } });
    expect(text.code, text.stderr).toBe(0);
    const line = text.stdout.split('\n').filter((l) => /^Started\b/.test(l));
    expect(line).toHaveLength(1);
    expect(line[0]).toMatch(new RegExp(`^Started .* by alice@${host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));

    const log = await run(['log', json.run], { cwd: dir });
    expect(log.stdout).toMatch(/run\.started.*started by alice@/);

    const out = join(dir, 'report.html');
    const rep = await run(['report', json.run, '--out', out], { cwd: dir });
    expect(rep.code, rep.stderr).toBe(0);
    const html = await readFile(out, 'utf8');
    const boot = JSON.parse(/<script type="application\/json" id="rollout-data">(.*?)<\/script>/s.exec(html)![1]!) as { model: { run: { startedBy: string } } };
    expect(boot.model.run.startedBy).toBe(`alice@${host}`);
    // The header row the page draws from it (the browser test checks the drawn page).
    expect(html).toContain("(r.startedBy ? ' by ' + r.startedBy : '')");
  });

  it('a run recorded before startedBy existed shows no starter', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan());
    expect((await run(['start', f], { cwd: dir })).code).toBe(0);
    const id = (JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout) as { run: string }).run;
    const file = join(dir, '.rollout/runs', id, 'state.json');
    const rec = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    delete rec.startedBy;
    await writeFile(file, JSON.stringify(rec));
    const st = JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout) as { startedBy: unknown };
    expect(st.startedBy).toBeNull();
    const text = await run(['status', id], { cwd: dir });
    expect(text.stdout.split('\n').find((l) => /^Started\b/.test(l))).not.toMatch(/ by /);
  });
});
