/**
 * `rollout confirm` in-process (issue 10): a checklist gate's items ticked one by one from the
 * command line — who and when in status (human and --json), the log and the report; unknown
 * items with did-you-mean; --undo; --yes never ticks; on a terminal the items are asked.
 */
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run, tempDir, write } from './helpers.js';

const PLAN = `name: ck
backend: { type: local }
defaults: { hold: 0s, interval: 1s, maxJump: 100 }
phases:
  - name: core
    flags: [f]
    checklist:
      - { id: staging-tests, text: All tests passing in staging }
      - { id: rollback-script, text: Rollback script tested, by: [sre, devops-lead] }
      - On-call team briefed
    steps: [100]
`;

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
  await write(dir, 'p.yaml', PLAN);
});
afterEach(() => cleanup());

const json = (s: string) => JSON.parse(s) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('rollout confirm', () => {
  it('start --yes does not tick a checklist: the run waits (exit 4) and says how to confirm', async () => {
    const r = await run(['start', 'p.yaml', '--yes', '--detach'], { cwd: dir });
    expect(r.code).toBe(4);
    expect(r.stdout).toContain('--yes does not tick checklist items');
    expect(r.stdout).toMatch(/confirm with: rollout confirm ck-\S+ <item> \(open: staging-tests, rollback-script, on-call-team-briefed\)/);
    const st = json((await run(['status', '--json'], { cwd: dir })).stdout);
    expect(st.status).toBe('awaiting-approval');
    expect(st.checklist.items.map((i: { id: string; confirmed: unknown }) => [i.id, i.confirmed])).toEqual([
      ['staging-tests', null],
      ['rollback-script', null],
      ['on-call-team-briefed', null],
    ]);
  });

  it('ticks items one by one (who, when, note), refuses unknown items with did-you-mean, unticks with --undo, opens the gate at the last item', async () => {
    expect((await run(['start', 'p.yaml', '--detach'], { cwd: dir })).code).toBe(4);
    // TAB after `rollout confirm ck ` completes the open items.
    const tab = await run(['__complete', '3', 'rollout', 'confirm', 'ck', ''], { cwd: dir });
    expect(tab.stdout.split('\n')).toEqual(['staging-tests', 'rollback-script', 'on-call-team-briefed']);
    const typo = await run(['confirm', 'staging-test'], { cwd: dir });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain('"staging-test" is not an item of the pre-rollout checklist for phase core — did you mean "staging-tests"?');
    const a = await run(['confirm', 'ck', 'staging-tests', 'on-call-team-briefed', '--by', 'alice', '--note', 'CI #812 green'], { cwd: dir });
    expect(a.code).toBe(0);
    const notAllowed = await run(['confirm', 'rollback-script', '--by', 'alice'], { cwd: dir });
    expect(notAllowed.code).toBe(2);
    expect(notAllowed.stderr).toContain('item "rollback-script" is confirmed by sre or devops-lead, not "alice"');
    // approve is not the way through a checklist
    const ap = await run(['approve', '--by', 'alice'], { cwd: dir });
    expect(ap.code).toBe(2);
    expect(ap.stderr).toMatch(/waits at a checklist, not a go\/no-go: 1 item\(s\) still to confirm \(rollback-script\)/);
    // Ticked by mistake: untick it.
    expect((await run(['confirm', 'on-call-team-briefed', '--undo', '--by', 'bob'], { cwd: dir })).code).toBe(0);
    const list = await run(['confirm', '--list'], { cwd: dir });
    expect(list.stdout).toMatch(/waits at this checklist \(1 of 3 confirmed\):/);
    expect(list.stdout).toMatch(/☑ staging-tests: All tests passing in staging — alice, \d{4}-\d\d-\d\dT[\d:.]+Z: CI #812 green/);
    expect(list.stdout).toContain('☐ rollback-script: Rollback script tested — by sre or devops-lead');
    expect(list.stdout).toContain('☐ on-call-team-briefed: On-call team briefed');
    const human = (await run(['status'], { cwd: dir })).stdout;
    expect(human).toMatch(/Waiting for\s+the checklist: 1 of 3 items confirmed; confirm each with `rollout confirm ck-\S+ <item>` \(open: rollback-script, on-call-team-briefed\)/);
    expect(human).toMatch(/Checklist\n\s+☑ staging-tests\s+All tests passing in staging\s+alice, .* — CI #812 green\n\s+☐ rollback-script\s+Rollback script tested\s+by sre or devops-lead\n\s+☐ on-call-team-briefed/);
    expect((await run(['confirm', 'on-call-team-briefed', '--by', 'carol'], { cwd: dir })).code).toBe(0);
    const last = await run(['confirm', 'rollback-script', '--as', 'sre', '--by', 'dave', '--json'], { cwd: dir });
    expect(last.code).toBe(0);
    // The gate opened and the run went on to its step (and completed: hold 0s).
    const st = json((await run(['status', '--json'], { cwd: dir })).stdout);
    expect(st.status).toBe('completed');
    expect(st.flags.f).toMatchObject({ enabled: true, percentage: 100 });
    const log = json((await run(['log', '--json'], { cwd: dir })).stdout);
    const ev = (log.events as Array<{ type: string; data?: Record<string, unknown> }>).filter((e) => e.type.startsWith('checklist.'));
    expect(ev.map((e) => [e.type, e.data?.item ?? null, e.data?.name ?? e.data?.by ?? null])).toEqual([
      ['checklist.requested', null, null],
      ['checklist.confirmed', 'staging-tests', 'alice'],
      ['checklist.confirmed', 'on-call-team-briefed', 'alice'],
      ['checklist.unconfirmed', 'on-call-team-briefed', 'bob'],
      ['checklist.confirmed', 'on-call-team-briefed', 'carol'],
      ['checklist.confirmed', 'rollback-script', 'sre'],
      ['checklist.completed', null, null],
    ]);
    // The report lists every item with who confirmed it.
    const rep = await run(['report'], { cwd: dir });
    expect(rep.code).toBe(0);
    expect(rep.stdout).toContain('"checklists":[{"key":"checklist:p0"');
    expect(rep.stdout).toMatch(/"id":"rollback-script","text":"Rollback script tested","name":"sre","by":"dave"/);
  });

  it('TAB completion offers the open items only (not those confirmed, nor those already on the line); with --undo the confirmed ones', async () => {
    expect((await run(['start', 'p.yaml', '--detach'], { cwd: dir })).code).toBe(4);
    const tab = async (...words: string[]) => (await run(['__complete', String(words.length), 'rollout', ...words], { cwd: dir })).stdout.split('\n').filter(Boolean);
    expect((await run(['confirm', 'staging-tests', '--by', 'alice'], { cwd: dir })).code).toBe(0);
    expect(await tab('confirm', 'ck', '')).toEqual(['rollback-script', 'on-call-team-briefed']);
    // No run named: the active run's open items (after the run refs).
    const first = await tab('confirm', '');
    expect(first).toEqual(expect.arrayContaining(['ck', 'rollback-script', 'on-call-team-briefed']));
    expect(first).not.toContain('staging-tests');
    expect(await tab('confirm', 'rollback-script', '')).toEqual(['on-call-team-briefed']);
    expect(await tab('confirm', 'ck', 'on-call-team-briefed', 'r')).toEqual(['rollback-script']);
    expect(await tab('confirm', 'ck', '--undo', '')).toEqual(['staging-tests']);
    expect(await tab('confirm', '--undo', 'ck', 's')).toEqual(['staging-tests']);
  });

  it('`rollout plan` names the checklist in the gate column', async () => {
    const plan = json((await run(['plan', 'p.yaml', '--json'], { cwd: dir })).stdout);
    expect(plan.steps[0].gate).toBe('checklist (3 items)');
  });

  it('--list on a run that is not at a checklist shows the next one; confirm there is refused with where to look', async () => {
    await write(dir, 'p2.yaml', PLAN.replace('name: ck', 'name: ck2').replace(/    checklist:[\s\S]*?    steps: \[100\]/, '    steps: [10, { percent: 100, checklist: [{ id: load-test, text: Load testing completed }] }]').replace('hold: 0s', 'hold: 1h'));
    expect((await run(['start', 'p2.yaml', '--detach'], { cwd: dir })).code).toBe(6);
    const l = await run(['confirm', '--list'], { cwd: dir });
    expect(l.stdout).toMatch(/is not at a checklist \(running\); the next one, before phase core, step 2:\n\s+☐ load-test: Load testing completed/);
    const no = await run(['confirm', 'load-test'], { cwd: dir });
    expect(no.code).toBe(2);
    expect(no.stderr).toMatch(/is not waiting at a checklist \(it is running/);
  });

  it('start on a terminal walks the checklist item by item (as the user) and, all confirmed, goes on to the end', async () => {
    const { main } = await import('../../src/cli.js');
    const asked: string[] = [];
    const env = { ...process.env, NO_COLOR: '1', ROLLOUT_USER: 'sre' } as Record<string, string>;
    delete env.CI;
    const code = await main(['start', 'p.yaml'], {
      cwd: dir,
      env,
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      tty: true,
      signals: () => () => undefined,
      prompt: async (message) => {
        asked.push(message);
        return true;
      },
      exit: () => undefined,
    });
    expect(code).toBe(0);
    expect(asked).toEqual(['Checklist: All tests passing in staging — confirmed?', 'Checklist: Rollback script tested — confirmed?', 'Checklist: On-call team briefed — confirmed?']);
    const log = json((await run(['log', '--json'], { cwd: dir })).stdout);
    expect((log.events as Array<{ type: string; data?: { name?: string } }>).filter((e) => e.type === 'checklist.confirmed').map((e) => e.data?.name)).toEqual(['sre', 'sre', 'sre']);
  });

  it('approve on a terminal at a checklist walks its items instead of refusing', async () => {
    expect((await run(['start', 'p.yaml', '--detach'], { cwd: dir })).code).toBe(4);
    const { main } = await import('../../src/cli.js');
    const asked: string[] = [];
    const env = { ...process.env, NO_COLOR: '1', ROLLOUT_USER: 'devops-lead' } as Record<string, string>;
    delete env.CI;
    const code = await main(['approve'], { cwd: dir, env, stdout: new PassThrough(), stderr: new PassThrough(), tty: true, signals: () => () => undefined, prompt: async (m) => (asked.push(m), true), exit: () => undefined });
    expect(code).toBe(0);
    expect(asked).toHaveLength(3);
    expect(json((await run(['status', '--json'], { cwd: dir })).stdout).status).toBe('completed');
  });

  it('on a terminal, with no item named, it asks item by item as the user; a "no" leaves the item open', async () => {
    expect((await run(['start', 'p.yaml', '--detach'], { cwd: dir })).code).toBe(4);
    const { main } = await import('../../src/cli.js');
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (b: Buffer) => chunks.push(b));
    const asked: string[] = [];
    const env = { ...process.env, NO_COLOR: '1', ROLLOUT_USER: 'erin' } as Record<string, string>;
    delete env.CI;
    const code = await main(['confirm'], {
      cwd: dir,
      env,
      stdout: out,
      stderr: new PassThrough(),
      tty: true,
      signals: () => () => undefined,
      prompt: async (message) => {
        asked.push(message);
        return !message.includes('On-call');
      },
      exit: () => undefined,
    });
    expect(code).toBe(0);
    expect(asked).toEqual(['Checklist: All tests passing in staging — confirmed?', 'Checklist: On-call team briefed — confirmed?']);
    const text = Buffer.concat(chunks).toString();
    expect(text).toContain('☐ rollback-script: to be confirmed by sre or devops-lead');
    const st = json((await run(['status', '--json'], { cwd: dir })).stdout);
    expect(st.checklist.items.map((i: { id: string; confirmed: { name: string } | null }) => [i.id, i.confirmed?.name ?? null])).toEqual([
      ['staging-tests', 'erin'],
      ['rollback-script', null],
      ['on-call-team-briefed', null],
    ]);
  });
});
