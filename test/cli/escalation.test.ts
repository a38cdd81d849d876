/**
 * Escalation through the CLI, in-process on a virtual clock (no test sleeps for real): a breach
 * of a P0 check pages on-call (webhook) and the log; `advance` 16 minutes later, with nobody
 * acknowledging, pages the CTO (Slack) and says whom it skipped past; `rollout ack` stops it;
 * `status` (human and --json) shows who is paged, the deadline and who acknowledged; ack with no
 * open page exits 2 with a clear message. Notices go to real webhook and Slack receivers on
 * loopback.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type Receiver } from '../fakes/receiver.js';
import { VirtualClock } from '../../src/runner/clock.js';
import type { RunEvent } from '../../src/engine/types.js';
import { join } from 'node:path';
import { ROOT, run, tempDir, workerOnVirtualClock, write } from './helpers.js';

interface Got {
  path: string;
  body: Record<string, unknown>;
}

// The webhook and Slack targets post to a recording receiver on 127.0.0.1 (test/fakes/receiver.ts).
let rx: Receiver;
let base = '';
let got: Got[] = [];

beforeAll(async () => {
  rx = await startReceiver();
  base = rx.base;
  got = rx.requests as unknown as Got[]; // the receiver's own array: \`got.length = 0\` clears it
});
afterAll(() => rx.close());

const M = 60_000;

const plan = () => `name: esc
backend: { type: local }
metrics:
  sim: { type: simulated, series: { errors: 9 } }
defaults: { hold: 1h, interval: 1m, maxJump: 100 }
checks:
  - { name: errors, provider: sim, query: errors, max: 5, unit: '%', tier: critical, action: pause, severity: P0 }
phases:
  - { name: main, flags: [esc-flag], steps: [10, 100] }
notify:
  targets:
    oncall: { type: webhook, url: "${base}/oncall" }
    cto: { type: slack, url: "${base}/cto" }
    log: { type: log, format: json }
  events: { run.paused: [log] }
  escalation:
    P0: { description: "system down", ackWithin: 15m, chain: [[oncall, log], cto] }
`;

describe('rollout ack and escalation (in-process, virtual clock)', () => {
  it('pages on-call, escalates to the CTO after 15 minutes without an ack, and ack stops it', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await write(dir, 'esc.yaml', plan());
      const clock = new VirtualClock(Date.parse('2026-03-02T09:00:00Z'));
      const opts = { cwd: dir, clock, env: { ROLLOUT_USER: 'ci' } };
      got.length = 0;

      const first = await run(['advance', 'esc.yaml'], opts);
      expect(first.code, first.stderr).toBe(4); // paused: a No-Go waits for a human
      expect(got.map((g) => [g.path, g.body.event])).toEqual([['/oncall', 'page.opened']]);
      expect(got[0]!.body.fields).toMatchObject({ severity: 'P0', page: 1, paged: 'oncall, log', next: 'cto', ackWithin: '15m', ackBy: '2026-03-02T09:15:00.000Z' });
      expect(first.stdout + first.stderr).toMatch(/"event":"page.opened"/); // the log target is on the first level too

      let st = await run(['status', 'esc', '--json'], opts);
      const page = (JSON.parse(st.stdout) as { pages: Array<Record<string, unknown>> }).pages[0]!;
      expect(page).toMatchObject({ id: 1, severity: 'P0', open: true, paging: ['oncall', 'log'], deadline: '2026-03-02T09:15:00.000Z', acknowledged: null, check: 'errors' });

      // 10 minutes on: not yet due, nobody else is paged
      clock.t += 10 * M;
      expect((await run(['advance', 'esc'], opts)).code).toBe(4);
      expect(got).toHaveLength(1);

      // 16 minutes after the page: the CTO is paged, and told it is an escalation past on-call
      clock.t += 6 * M;
      const second = await run(['advance', 'esc'], opts);
      expect(second.code).toBe(4);
      const slack = got.find((g) => g.path === '/cto')!;
      expect(slack).toBeTruthy();
      expect(JSON.stringify(slack.body)).toMatch(/ESCALATION P0/);
      expect(JSON.stringify(slack.body)).toMatch(/Skipped past \(no acknowledgement\): oncall, log/);
      expect(JSON.stringify(slack.body)).toMatch(/Waiting since: 2026-03-02T09:00:00.000Z/);

      st = await run(['status', 'esc'], opts);
      expect(st.stdout).toMatch(/Pages/);
      expect(st.stdout).toMatch(/#1 P0 paging cto since .*no answer from oncall, log/);

      clock.t += 2 * M;
      const ack = await run(['ack', 'esc', '--as', 'alice', '--note', 'on it', '--by', 'alice-laptop'], opts);
      expect(ack.code, ack.stderr).toBe(0);
      expect(ack.stdout).toMatch(/acknowledged P0 page #1 as alice \(paged: oncall, log, cto\); escalation stopped/);
      const acks = got.filter((g) => g.body.event === 'page.acknowledged' || (g.body as { text?: string }).text?.includes('acknowledged by alice'));
      expect(acks.map((g) => g.path).sort()).toEqual(['/cto', '/oncall']);

      st = await run(['status', 'esc', '--json'], opts);
      expect((JSON.parse(st.stdout) as { pages: Array<Record<string, unknown>> }).pages[0]).toMatchObject({ open: false, acknowledged: { by: 'alice', typedBy: 'alice-laptop', note: 'on it', via: 'ack' }, deadline: null });
      st = await run(['status', 'esc'], opts);
      expect(st.stdout).toMatch(/#1 P0 acknowledged by alice at .*: on it/);

      // an hour on, nothing more is paged
      const before = got.length;
      clock.t += 60 * M;
      await run(['advance', 'esc'], opts);
      expect(got).toHaveLength(before);

      const again = await run(['ack', 'esc'], opts);
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/run esc-\S+ has no open page: nobody is being paged; page #1 \(P0\) was acknowledged by alice/);
      expect(again.stderr).toMatch(/hint: .*rollout status/);
    } finally {
      await cleanup();
    }
  });

  it('a worker moves the escalation on time: the CTO is paged at exactly 15 minutes (virtual clock)', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await write(dir, 'esc.yaml', plan());
      const t0 = Date.parse('2026-03-02T09:00:00Z');
      const clock = new VirtualClock(t0);
      got.length = 0;
      expect((await run(['advance', 'esc.yaml'], { cwd: dir, clock })).code).toBe(4);
      const escalated: RunEvent[] = [];
      const why = await workerOnVirtualClock(dir, clock, {
        pollMs: 1000,
        stop: (e) => {
          if (e.type === 'page.escalated') escalated.push(e);
          return e.type === 'notify.sent' && e.msg.startsWith('notice page.escalated') ? 'escalated' : undefined;
        },
      });
      expect(why).toBe('escalated');
      expect(escalated[0]!.at - t0).toBe(15 * 60_000);
      expect(got.find((g) => g.path === '/cto')).toBeTruthy();
    } finally {
      await cleanup();
    }
  });

  it('simulate shows the escalation on its timeline (seed 003: P0 pages on-call and the CTO, again every 15 minutes unanswered)', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const sc = await write(dir, 'sc.yaml', 'checks:\n  system-down: [{ after: 0s, value: 1 }, { after: 1d, value: 0 }]\ncontrols:\n  - { after: 1d20m, kind: ack, as: oncall-engineer }\n  - { after: 1d1h, kind: abort, reason: end of the drill }\n');
      const r = await run(['simulate', join(ROOT, 'plans/dojopool.yaml'), '--scenario', sc], { cwd: dir });
      expect(r.stdout).toMatch(/T\+1d +P0 page #1: paging oncall, cto, stakeholders — check "system-down" breached/);
      expect(r.stdout).toMatch(/T\+1d15m +P0 page #1 not acknowledged within 15m .*paging oncall, cto, stakeholders again/);
      expect(r.stdout).toMatch(/T\+1d20m +P0 page #1 acknowledged by oncall-engineer/);
      expect(r.stdout).not.toMatch(/T\+1d30m +P0 page #1 not acknowledged/);
    } finally {
      await cleanup();
    }
  });

  it('validate refuses an unknown severity and an unknown target in a chain', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await write(dir, 'bad.yaml', plan().replace('severity: P0', 'severity: P9').replace('chain: [[oncall, log], cto]', 'chain: [[oncall, log], ctoo]'));
      const r = await run(['validate', 'bad.yaml', '--no-programs'], { cwd: dir });
      expect(r.code).toBe(2);
      expect(r.stdout + r.stderr).toMatch(/unknown severity "P9" \(notify.escalation has: P0\)/);
      expect(r.stdout + r.stderr).toMatch(/unknown notify target "ctoo"/);
    } finally {
      await cleanup();
    }
  });
});

describe('rollout serve: ack from the page', () => {
  it('POST …/ack takes the open page in the name given; a second one answers 409 (nothing paged)', async () => {
    const { runAction } = await import('../../src/serve/actions.js');
    const { dir, cleanup } = await tempDir();
    try {
      await write(dir, 'esc.yaml', plan());
      const clock = new VirtualClock(Date.parse('2026-03-02T09:00:00Z'));
      expect((await run(['advance', 'esc.yaml'], { cwd: dir, clock })).code).toBe(4);
      const st = JSON.parse((await run(['status', 'esc', '--json'], { cwd: dir, clock })).stdout) as { run: string };
      const base = { cwd: dir, clock, env: { ...process.env, NO_COLOR: '1', CI: '1' } };
      const r = await runAction(base, 'ack', st.run, { by: 'frank', note: 'from the dashboard' });
      expect(r.status).toBe(200);
      const pages = (r.body as { pages: Array<{ acknowledged: { by: string; typedBy: string | null; note: string } }> }).pages;
      expect(pages[0]!.acknowledged).toMatchObject({ by: 'frank', typedBy: 'frank (rollout serve)', note: 'from the dashboard' });
      const again = await runAction(base, 'ack', st.run, { by: 'frank' });
      expect(again.status).toBe(409);
      expect(again.body.error).toMatch(/no open page/);
    } finally {
      await cleanup();
    }
  });
});
