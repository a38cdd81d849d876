/**
 * Issue 10's four features used together, as a new user and a CI job would (found by trying
 * them): what the CLI tells a person to do next must work, and every record stays visible.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { quickPlan, run, tempDir, write } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => cleanup());

describe('next steps the CLI prints', () => {
  it('a run paused at its end with a segment rolled back says how to restore it, not "resume" (which only pauses again)', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '1h', steps: '[10, 100]' }));
    expect((await run(['advance', f], { cwd: dir })).code).toBe(6);
    expect((await run(['rollback', '--segment', 'eu-users', '--reason', 'timeouts'], { cwd: dir })).code).toBe(0);
    expect((await run(['promote'], { cwd: dir })).code).toBe(0);
    expect((await run(['advance'], { cwd: dir })).code).toBe(6);
    expect((await run(['promote'], { cwd: dir })).code).toBe(0);
    const end = await run(['advance'], { cwd: dir });
    expect(end.code).toBe(4);
    expect(end.stdout).not.toMatch(/resume with/);
    expect(end.stdout).toMatch(/restore with: rollout rollback \S+ --segment eu-users --undo --reason … \(the run then completes\), or end it as it is: rollout abort \S+/);
    // And resuming really does only pause it again there.
    const again = await run(['resume', '--detach'], { cwd: dir });
    expect(again.code).toBe(4);
    expect(again.stdout).toMatch(/restore with:/);
  });

  it('the checklist notice lists its items readably (no literal "\\n" between them)', async () => {
    const plan = quickPlan({ steps: '[10, 100]', extra: 'notify:\n  targets: { team: { type: log } }\n' }).replace('    steps: [10, 100]', '    checklist: [Tests green, Docs updated]\n    steps: [10, 100]');
    const f = await write(dir, 'plan.yaml', plan);
    const r = await run(['advance', f], { cwd: dir });
    expect(r.code).toBe(4);
    const out = r.stdout + r.stderr;
    const notice = out.slice(out.indexOf('approval.requested'));
    expect(notice).toMatch(/To decide: confirm each item: rollout confirm \S+ <item> \[--as <name>\] — pre-rollout checklist for phase main: ☐ tests-green: Tests green; ☐ docs-updated: Docs updated/);
    expect(notice).not.toContain('\\n');
  });
});

describe('validate: typos in the new keys', () => {
  it('a misspelt key of a checklist item (inside a step) gets its "did you mean", line and caret, not "Invalid input"', async () => {
    const f = await write(
      dir,
      'plan.yaml',
      `name: typo
backend: { type: local }
phases:
  - name: main
    flags: [f]
    checklist: [ { id: a, text: b, bi: qa-lead } ]
    steps: [10, { percent: 20, checklist: [ { id: c, txt: d } ] }, 30]
`,
    );
    const r = await run(['validate', f], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/Invalid input/);
    expect(r.stderr).toMatch(/plan\.yaml:6:36: error: unknown key "bi" — did you mean "by"\? \(phases\.0\.checklist\.0\.bi\)/);
    expect(r.stderr).toMatch(/plan\.yaml:7:54: error: unknown key "txt" — did you mean "text"\? \(phases\.0\.steps\.1\.checklist\.0\.txt\)\n\s+7 \| .*\n\s+\| +\^/);
  });
});

describe('confirm --list after the checklist', () => {
  it('shows who confirmed a checklist the run got past (not ☐ as if never ticked), and nothing "next" on a run that ended', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '1h', steps: '[10, 100]' }).replace('    steps: [10, 100]', '    checklist: [Tests green]\n    steps: [10, 100]'));
    expect((await run(['advance', f], { cwd: dir })).code).toBe(4);
    expect((await run(['confirm', 'tests-green', '--as', 'alice'], { cwd: dir })).code).toBe(0);
    const during = await run(['confirm', '--list'], { cwd: dir });
    expect(during.stdout).toMatch(/pre-rollout checklist for phase main: confirmed\n {2}☑ tests-green — alice, /);
    expect(during.stdout).not.toMatch(/☐/);
    expect((await run(['abort', '--reason', 'stop'], { cwd: dir })).code).toBe(0);
    const after = await run(['confirm', '--list', '--json'], { cwd: dir });
    expect(after.code).toBe(0);
    expect(JSON.parse(after.stdout)).toMatchObject({ waiting: false, next: null, done: [{ key: 'checklist:p0', items: [{ id: 'tests-green', name: 'alice' }] }] });
  });
});

describe('a segment left rolled back by an aborted run', () => {
  it('the next run of the plan takes it over: status shows it, and --undo restores it (it was stuck out: the new run kept the backend\'s exclusion and refused --undo)', async () => {
    const f = await write(dir, 'plan.yaml', quickPlan({ hold: '1h', steps: '[10, 100]' }));
    expect((await run(['advance', f], { cwd: dir })).code).toBe(6);
    expect((await run(['rollback', '--segment', 'beta', '--reason', 'broken'], { cwd: dir })).code).toBe(0);
    expect((await run(['abort', '--reason', 'start over'], { cwd: dir })).code).toBe(0);

    expect((await run(['advance', f], { cwd: dir })).code).toBe(6);
    const st = JSON.parse((await run(['status', '--json'], { cwd: dir })).stdout);
    expect(st).toMatchObject({ status: 'running', excluded: [{ kind: 'segment', name: 'beta', reason: 'broken' }] });
    const log = JSON.parse((await run(['log', '--json'], { cwd: dir })).stdout) as { events: Array<{ type: string; msg: string }> };
    expect(log.events.find((e) => e.type === 'rollback.cohort')!.msg).toMatch(/segment beta still rolled back on the backend from run quick-\S+: this run keeps it out until `rollout rollback \S+ --segment beta --undo`/);
    const undo = await run(['rollback', '--segment', 'beta', '--undo', '--reason', 'fixed'], { cwd: dir });
    expect(undo.code, undo.stderr).toBe(0);
    const ev = JSON.parse((await run(['evaluate', 'quick-flag', '--key', 'user-1', '--segment', 'beta', '--json'], { cwd: dir })).stdout);
    expect(ev.reason).not.toMatch(/rolled back/);
  });
});
