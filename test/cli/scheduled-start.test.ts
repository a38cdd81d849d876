/**
 * `rollout start --at` / `startAt:` through the CLI, in-process on a virtual clock (no test
 * sleeps for real): the run is `scheduled` at once, holds its flag (a second run is refused
 * naming it), writes nothing until its time, announces ahead to a real webhook receiver on
 * loopback, `status` (human, --json, --all) shows it, `advance` starts it on time, `abort`
 * cancels it (and tells those it was announced to), bad and past times exit 2 with a hint,
 * `--dry-run` and `simulate` jump the wait on their virtual clocks.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type Receiver } from '../fakes/receiver.js';
import type { RunEvent } from '../../src/engine/types.js';
import { VirtualClock } from '../../src/runner/clock.js';
import { run, tempDir, workerOnVirtualClock, write } from './helpers.js';

interface Got {
  path: string;
  body: { event?: string; text?: string; fields?: Record<string, unknown> };
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
const H = 60 * M;
const D = 24 * H;

const plan = (name = 'sched', extra = '', hold = '1h') => `name: ${name}
backend: { type: local }
metrics:
  sim: { type: simulated, series: { errors: 0.1 } }
defaults: { hold: ${hold}, interval: 1m, maxJump: 100 }
checks:
  - { name: errors, provider: sim, query: errors, max: 5, unit: '%', tier: critical }
phases:
  - { name: main, flags: [sched-flag], steps: [10, 100] }
windows: { timezone: Europe/Berlin }
notify:
  targets:
    team: { type: webhook, url: "${base}/team" }
  announce: { before: 7d }
  templates:
    run.announced: "We will begin rolling out {{flags}} on {{date}} at {{time}}."
${extra}`;

const flagsFile = (dir: string) => join(dir, '.rollout', 'flags.json');

describe('rollout start --at (in-process, virtual clock)', () => {
  it('scheduled at once, holds its flag, announces a week ahead, starts on time with advance', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await write(dir, 'p.yaml', plan());
      await write(dir, 'other.yaml', plan('other'));
      const clock = new VirtualClock(Date.parse('2026-03-01T07:00:00Z'));
      const opts = { cwd: dir, clock, env: { ROLLOUT_USER: 'ann' } };
      got.length = 0;

      // Monday 9 March 09:00 Berlin; 8 days away, so the announcement is due on 2 March 08:00 UTC.
      const start = await run(['start', 'p.yaml', '--at', '2026-03-09T09:00:00+01:00', '--detach'], opts);
      expect(start.code, start.stderr).toBe(6);
      expect(start.stdout).toMatch(/run sched-\S+: scheduled/);
      expect(start.stdout).toMatch(/scheduled: starts 2026-03-09T08:00:00.000Z; announcement due 2026-03-02T08:00:00.000Z; nothing is written to its flags until then/);
      expect(existsSync(flagsFile(dir))).toBe(false);
      expect(got).toEqual([]);

      let st = JSON.parse((await run(['status', 'sched', '--json'], opts)).stdout) as Record<string, unknown>;
      expect(st).toMatchObject({ status: 'scheduled', flags: {}, startedBy: expect.stringMatching(/^ann@/) });
      expect(st.schedule).toMatchObject({ startsAt: '2026-03-09T08:00:00.000Z', scheduledAt: '2026-03-01T07:00:00.000Z', source: 'command', announceAt: '2026-03-02T08:00:00.000Z', announcedAt: null, cancelled: false, estimatedEnd: '2026-03-09T10:00:00.000Z' });
      let human = await run(['status', 'sched', '--utc'], opts);
      expect(human.stdout).toMatch(/Status +◷ scheduled — nothing drives it/);
      expect(human.stdout).toMatch(/Starts +Mon 9 Mar 08:00:00 UTC \(in 8d1h, --at\) · scheduled by ann@\S+ at 07:00:00 UTC/);
      expect(human.stdout).toMatch(/Announce +due Mon 2 Mar 08:00:00 UTC \(in 1d1h\)/);
      expect(human.stdout).toMatch(/Waiting for +the scheduled start in 8d1h/);
      const all = await run(['status', '--all'], opts);
      expect(all.stdout).toMatch(/scheduled — nothing drives it/);
      expect(all.stdout).toMatch(/2026-03-09T08:00:00.000Z \(scheduled\)/);
      expect(all.stdout).toMatch(/in 8d1h/);

      // Another run on the same flag is refused, naming the scheduled one.
      const second = await run(['start', 'other.yaml', '--detach'], opts);
      expect(second.code).toBe(5);
      expect(second.stderr).toMatch(/flag sched-flag is locked by run sched-\S+, scheduled to start at 2026-03-09T08:00:00.000Z/);
      expect(second.stderr).toMatch(/hint: .*rollout abort sched-/);
      // …and --at on the plan that has it says so.
      const again = await run(['start', 'p.yaml', '--at', '3d'], opts);
      expect(again.code).toBe(2);
      expect(again.stderr).toMatch(/plan sched already has run sched-\S+ \(scheduled, starts 2026-03-09T08:00:00.000Z\); --at schedules a new run/);

      // A CI job before the announcement: nothing due.
      clock.t += 12 * H;
      expect((await run(['advance', 'sched'], opts)).code).toBe(6);
      expect(got).toEqual([]);
      // At the announcement time.
      clock.t = Date.parse('2026-03-02T08:00:00Z');
      expect((await run(['advance', 'sched'], opts)).code).toBe(6);
      expect(got.map((g) => [g.path, g.body.event])).toEqual([['/team', 'run.announced']]);
      expect(got[0]!.body.text).toBe('We will begin rolling out sched-flag on Mon 9 Mar 2026 at 09:00 CET.');
      // endDate: the plan's end from its start (two steps an hour apart, then the final hour), estimated when scheduled.
      expect(got[0]!.body.fields).toMatchObject({ startsAt: '2026-03-09T08:00:00.000Z', date: 'Mon 9 Mar 2026', time: '09:00 CET', lead: '7d', endDate: 'Mon 9 Mar 2026' });
      human = await run(['status', 'sched', '--utc'], opts);
      expect(human.stdout).toMatch(/Announce +sent 08:00:00 UTC to team \(7d before the start\)/);
      expect(existsSync(flagsFile(dir))).toBe(false);

      // The start: the first step at once.
      clock.t = Date.parse('2026-03-09T08:00:00Z');
      const go = await run(['advance', 'sched'], opts);
      expect(go.code, go.stderr).toBe(6);
      st = JSON.parse((await run(['status', 'sched', '--json'], opts)).stdout) as Record<string, unknown>;
      expect(st).toMatchObject({ status: 'running', flags: { 'sched-flag': { enabled: true, percentage: 10 } }, startedAt: '2026-03-09T08:00:00.000Z' });
      expect((st.schedule as Record<string, unknown>).startedAt).toBe('2026-03-09T08:00:00.000Z');
      const log = await run(['log', 'sched'], opts);
      expect(log.stdout).toMatch(/run.scheduled[\s\S]*run.announced[\s\S]*run.started .*as scheduled \(2026-03-09T08:00:00.000Z\)[\s\S]*step.applied/);
    } finally {
      await cleanup();
    }
  });

  it('abort cancels it: nothing written, the cancellation goes where the announcement went, the flag is free again', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await write(dir, 'p.yaml', plan());
      await write(dir, 'other.yaml', plan('other'));
      const clock = new VirtualClock(Date.parse('2026-03-05T07:00:00Z'));
      const opts = { cwd: dir, clock, env: { ROLLOUT_USER: 'ann' } };
      got.length = 0;
      // Four days ahead: announced at once, and it says the lead is shorter than asked.
      const start = await run(['start', 'p.yaml', '--at', 'mon 09:00', '--detach'], opts);
      expect(start.code, start.stderr).toBe(6);
      expect(start.stdout).toMatch(/announced at once: the run starts at 2026-03-09T08:00:00.000Z, 4d1h from now — less than the 7d ahead/);
      expect(got.map((g) => g.body.event)).toEqual(['run.announced']);

      const abort = await run(['abort', 'sched', '--reason', 'moved to April'], opts);
      expect(abort.code, abort.stderr).toBe(0);
      expect(abort.stdout).toMatch(/aborted — moved to April by ann; the scheduled start \(2026-03-09T08:00:00.000Z\) is cancelled and no flag was written/);
      expect(got.map((g) => [g.path, g.body.event])).toEqual([
        ['/team', 'run.announced'],
        ['/team', 'run.cancelled'],
      ]);
      expect(got[1]!.body.text).toMatch(/the rollout of sched-flag announced for Mon 9 Mar 2026 at 09:00 CET will not start/);
      const st = JSON.parse((await run(['status', 'sched', '--json'], opts)).stdout) as Record<string, unknown>;
      expect(st).toMatchObject({ status: 'aborted', flags: {} });
      expect(st.schedule).toMatchObject({ cancelled: true, startedAt: null });
      expect((await run(['status', 'sched'], opts)).stdout).toMatch(/Cancelled +was to start/);
      expect(existsSync(flagsFile(dir))).toBe(false);
      // The flag is free: another plan's run starts on it.
      const other = await run(['advance', 'other.yaml'], opts);
      expect(other.code, other.stderr).toBe(6);
    } finally {
      await cleanup();
    }
  });

  it('startAt in the plan; --at wins; --at now starts at once; past and unreadable times exit 2 with a hint', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await write(dir, 'p.yaml', plan('sched', 'startAt: { day: mon, at: "09:00" }\n'));
      await write(dir, 'bad.yaml', plan('bad', 'startAt: "2026-03-09 09:00"\n'));
      const clock = new VirtualClock(Date.parse('2026-03-05T07:00:00Z')); // a Thursday
      const opts = { cwd: dir, clock, env: { ROLLOUT_USER: 'ann' } };

      const past = await run(['start', 'p.yaml', '--at', '2026-03-01T09:00:00Z'], opts);
      expect(past.code).toBe(2);
      expect(past.stderr).toMatch(/--at 2026-03-01T09:00:00Z is in the past \(2026-03-01T09:00:00.000Z; it is now 2026-03-05T07:00:00.000Z\)/);
      expect(past.stderr).toMatch(/hint: Give a time ahead/);
      const zoneless = await run(['start', 'p.yaml', '--at', '2026-03-09T09:00'], opts);
      expect(zoneless.code).toBe(2);
      expect(zoneless.stderr).toMatch(/--at: "2026-03-09T09:00" has no time zone/);
      expect(zoneless.stderr).toMatch(/"2026-03-09T09:00:00\+01:00" for Europe\/Berlin/);
      const junk = await run(['start', 'p.yaml', '--at', 'soonish'], opts);
      expect(junk.code).toBe(2);
      expect(junk.stderr).toMatch(/hint: Give an ISO 8601 time with its zone .*, or "now"\./);

      const bad = await run(['validate', 'bad.yaml'], opts);
      expect(bad.code).toBe(2);
      expect(bad.stdout + bad.stderr).toMatch(/bad\.yaml:\d+:\d+: error: startAt: "2026-03-09 09:00" has no time zone[^\n]*"2026-03-09T09:00:00\+01:00" for Europe\/Berlin/);

      // The plan's startAt: next Monday 09:00 Berlin.
      const planned = await run(['start', 'p.yaml', '--detach', '--json'], opts);
      expect(planned.code, planned.stderr).toBe(6);
      expect(JSON.parse(planned.stdout)).toMatchObject({ status: 'scheduled', schedule: { startsAt: '2026-03-09T08:00:00.000Z', source: 'plan' } });
      expect((await run(['abort', 'sched', '--reason', 'x'], opts)).code).toBe(0);
      // --at wins (and says so); --at now starts at once.
      const moved = await run(['start', 'p.yaml', '--at', '2h', '--detach', '--json'], opts);
      expect(moved.stderr).toMatch(/note: --at 2h overrides the plan's startAt \(mon 09:00\)/);
      expect(JSON.parse(moved.stdout)).toMatchObject({ schedule: { startsAt: '2026-03-05T09:00:00.000Z', source: 'command' } });
      expect((await run(['abort', 'sched', '--reason', 'x'], opts)).code).toBe(0);
      const now = await run(['start', 'p.yaml', '--at', 'now', '--detach', '--json'], opts);
      expect(JSON.parse(now.stdout)).toMatchObject({ status: 'running', schedule: null, flags: { 'sched-flag': { percentage: 10 } } });
    } finally {
      await cleanup();
    }
  });

  it('a worker starts a scheduled run on time (virtual clock)', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await write(dir, 'p.yaml', plan());
      const t0 = Date.parse('2026-03-05T07:00:00Z');
      const clock = new VirtualClock(t0);
      got.length = 0;
      const start = await run(['start', 'p.yaml', '--at', '2h', '--detach'], { cwd: dir, clock });
      expect(start.code, start.stderr).toBe(6);
      expect(start.stdout).toMatch(/no worker is alive: nothing drives run sched-/);
      const seen: RunEvent[] = [];
      const why = await workerOnVirtualClock(dir, clock, {
        pollMs: 60_000,
        stop: (e) => {
          seen.push(e);
          return e.type === 'step.applied' ? 'first step' : undefined;
        },
      });
      expect(why).toBe('first step');
      expect(seen.find((e) => e.type === 'run.started')!.at).toBe(t0 + 2 * H);
      expect(seen.find((e) => e.type === 'step.applied')!.at).toBe(t0 + 2 * H);
      expect(got.map((g) => g.body.event).slice(0, 2)).toEqual(['run.announced', 'run.started']); // announced at once (2h < 7d), then started
    } finally {
      await cleanup();
    }
  });

  it('a foreground start waits for the time and goes on; --dry-run and simulate jump the wait', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      // Short holds: after the start, a foreground run polls its inbox every (virtual) second.
      await write(dir, 'p.yaml', plan('sched', '', '2m'));
      const clock = new VirtualClock(Date.parse('2026-03-05T07:00:00Z'));
      const opts = { cwd: dir, clock, env: { ROLLOUT_USER: 'ann' } };

      const dry = await run(['start', 'p.yaml', '--at', '3d', '--dry-run'], opts);
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stderr).toMatch(/dry run: the wait until the scheduled start 2026-03-08T07:00:00.000Z is skipped on a virtual clock/);
      expect(dry.stdout).toMatch(/announced at once[\s\S]*of plan sched started[\s\S]*10%[\s\S]*completed/);
      expect((await run(['status', '--all'], opts)).stdout).toMatch(/no runs yet/);

      const sim = await run(['simulate', 'p.yaml', '--start', '2026-03-01T07:00:00Z', '--at', '2026-03-09T09:00:00+01:00'], opts);
      expect(sim.code, sim.stderr).toBe(0);
      expect(sim.stdout).toMatch(/T-8d1h +run \S+ of plan sched scheduled to start at 2026-03-09T08:00:00.000Z/);
      expect(sim.stdout).toMatch(/T-7d +announced: the run starts at 2026-03-09T08:00:00.000Z, 7d from now/);
      expect(sim.stdout).toMatch(/T\+0 +run \S+ of plan sched started/);
      expect(sim.stdout).toMatch(/T\+2m +main: 100%/);

      const timeline = await run(['plan', 'p.yaml', '--start', '2026-03-01T07:00:00Z', '--at', '2026-03-09T09:00:00+01:00'], opts);
      expect(timeline.code, timeline.stderr).toBe(0);
      expect(timeline.stdout).toMatch(/announcement: Mon 02 Mar, 09:00, 7d before the start/);
      expect(timeline.stdout).toMatch(/scheduled start: Mon 09 Mar, 09:00 \(--at\)/);

      // The foreground start sleeps on the clock until the start, then follows the run to its end.
      const fg = await run(['start', 'p.yaml', '--at', '10m', '--yes'], opts);
      expect(fg.code, fg.stderr).toBe(0);
      expect(fg.stdout).toMatch(/scheduled[\s\S]*of plan sched started[\s\S]*completed/);
      expect(clock.t).toBeGreaterThanOrEqual(Date.parse('2026-03-05T07:10:00Z') + 2 * M);
    } finally {
      await cleanup();
    }
  });

  it('--dry-run --at: the notices are stamped on the same (virtual) clock as the events, not the wall clock', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await write(dir, 'p.yaml', plan('dry', '', '2m').replace(`team: { type: webhook, url: "${base}/team" }`, 'team: { type: log }'));
      const clock = new VirtualClock(Date.parse('2026-03-05T07:00:00Z'));
      const dry = await run(['start', 'p.yaml', '--at', '2026-03-05T09:30:00Z', '--dry-run'], { cwd: dir, clock, env: { ROLLOUT_USER: 'ann' } });
      expect(dry.code, dry.stderr).toBe(0);
      const lines = dry.stdout.split('\n');
      const started = lines.find((l) => /of plan dry started/.test(l));
      expect(started).toMatch(/^09:30:0\d /);
      const notices = lines.filter((l) => /^\S+ \[notify\] /.test(l));
      expect(notices.map((l) => l.replace(/ .*/, '').slice(0, 4))).toEqual(expect.arrayContaining(['07:0', '09:3'])); // announced at once, then the start
      expect(lines.find((l) => /\[notify\] \S+ run\.started/.test(l))).toMatch(/^09:3\d:\d\d /);
      for (const l of notices) expect(l).toMatch(/^(07:0|09:3)\d:\d\d /);
    } finally {
      await cleanup();
    }
  });
});
