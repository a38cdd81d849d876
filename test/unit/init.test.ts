/**
 * `rollout init`: every generated plan loads with the real loader (schema, lint, adapter
 * options, programs), the wizard answers real keystrokes on injected streams, the CLI writes
 * without questions off a terminal and never overwrites without being told.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import init, { ask, fromOptions, schemaRef } from '../../src/commands/init.js';
import { createContext, type Context } from '../../src/commands/context.js';
import { BACKENDS, CHECKS, GATES, METRICS, PRESETS, RING_BACKENDS, programsToProvide, renderPlan, requiredEnv, splitArgv, type InitAnswers } from '../../src/init/template.js';
import { loadPlan } from '../../src/plan/load.js';
import { cli } from '../cli/helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rollout-init-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function provide(base: string, programs: string[]) {
  for (const p of programs) {
    const f = join(base, p);
    await mkdir(dirname(f), { recursive: true });
    await writeFile(f, '#!/bin/sh\necho 0\n');
    await chmod(f, 0o755);
  }
}

function ctx(out: string[], err: string[], interactive = false): Context {
  return createContext({ cwd: dir, stateDir: '.rollout', json: false, debug: false, interactive, stdout: (s) => void out.push(s), stderr: (s) => void err.push(s) });
}

describe('every generated plan validates as written', () => {
  const combos: InitAnswers[] = [];
  let i = 0;
  for (const backend of BACKENDS)
    for (const metrics of METRICS)
      for (const preset of PRESETS.filter((p) => p !== 'rings' || RING_BACKENDS.includes(backend)))
        for (const check of CHECKS) {
          const gate = GATES[i % GATES.length]!;
          const rollback = i % 2 ? ['./scripts/rollback.sh', '--reason-from-env'] : [];
          combos.push({ name: `p-${i++}`, flag: 'new-checkout', backend, metrics, check, preset, hold: '30m', gate, rollback, schema: '../schema/plan.schema.json' });
        }

  it(`${combos.length} combinations of backend × metrics × steps × check (gates and rollback commands cycled) load with the real loader`, async () => {
    expect(combos.length).toBeGreaterThan(200);
    const env = { ...process.env, ...Object.fromEntries(['UNLEASH_TOKEN', 'LD_API_TOKEN', 'FLAG_API_TOKEN', 'DD_API_KEY', 'DD_APP_KEY'].map((v) => [v, 'secret-value'])) };
    for (const a of combos) {
      const base = join(dir, 'combos', a.name);
      await mkdir(base, { recursive: true });
      await provide(base, programsToProvide(a));
      const file = join(base, 'plan.yaml');
      await writeFile(file, renderPlan(a));
      const { plan, warnings } = await loadPlan(file, { env }).catch((e: { issues?: unknown }) => {
        throw new Error(`${a.backend} × ${a.metrics} × ${a.preset}: ${JSON.stringify(e.issues ?? e)}\n${renderPlan(a)}`);
      });
      expect(warnings, `${a.backend} × ${a.metrics} × ${a.preset}`).toEqual([]);
      expect(plan.name).toBe(a.name);
      expect(plan.backend.type).toBe(a.backend);
      expect(plan.flags).toEqual(['new-checkout']);
      expect(plan.phases[0]!.checks.map((c) => c.name)).toEqual(a.metrics === 'none' ? [] : [a.check]);
      expect(plan.phases[0]!.steps.length).toBe(a.preset === 'careful' ? 6 : a.preset === 'fast' ? 3 : 5);
      expect(plan.rollback.commands.map((c) => c.argv)).toEqual(a.rollback.length ? [a.rollback] : []);
    }
  });

  it('names the variables it needs and fails to load without them (no secret is written into the plan)', async () => {
    const a = combos.find((c) => c.backend === 'unleash' && c.metrics === 'datadog')!;
    expect(requiredEnv(a)).toEqual(['UNLEASH_TOKEN', 'DD_API_KEY', 'DD_APP_KEY']);
    const text = renderPlan(a);
    expect(text).toContain('token: ${UNLEASH_TOKEN}');
    expect(text).toContain('# Needs in the environment: UNLEASH_TOKEN, DD_API_KEY, DD_APP_KEY');
    const file = join(dir, 'needs-env.yaml');
    await writeFile(file, text);
    await expect(loadPlan(file, { env: {} })).rejects.toMatchObject({ issues: expect.arrayContaining([expect.objectContaining({ message: expect.stringContaining('UNLEASH_TOKEN is not set') })]) });
  });

  it('starts with the JSON Schema modeline, pointing at the package schema from where the plan is', () => {
    const text = renderPlan({ ...combos[0]!, schema: schemaRef(join(process.cwd(), 'plans/x.yaml')) });
    expect(text.split('\n')[0]).toBe('# yaml-language-server: $schema=../schema/plan.schema.json');
    expect(schemaRef(join(process.cwd(), 'x.yaml'))).toBe('./schema/plan.schema.json');
  });

  it('splits a typed command into argv with quotes grouping words', () => {
    expect(splitArgv(`./rb.sh --msg "two words" 'x y'`)).toEqual(['./rb.sh', '--msg', 'two words', 'x y']);
  });
});

/** Drive the prompts: wait for each question to appear, then type the answer. Bounded. */
async function typeAnswers<T>(run: (io: { input: PassThrough; output: PassThrough }) => Promise<T>, script: Array<[RegExp, string]>, timeoutMs = 10_000): Promise<{ result: T; screen: string }> {
  const input = new PassThrough();
  const output = new PassThrough();
  // Like process.stdout, which a pipe never ends: each prompt pipes into it and ends its pipe.
  output.end = (() => output) as never;
  let screen = '';
  let seen = 0;
  output.on('data', (d: Buffer) => (screen += d.toString()));
  const p = run({ input, output });
  const deadline = Date.now() + timeoutMs;
  for (const [question, keys] of script) {
    for (;;) {
      const at = screen.slice(seen).search(question);
      if (at >= 0) {
        seen += at + 1;
        break;
      }
      if (Date.now() > deadline) throw new Error(`no prompt ${question} within ${timeoutMs} ms; screen so far:\n${screen.slice(-800)}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    input.write(keys);
  }
  const result = await Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`wizard did not finish; screen:\n${screen.slice(-800)}`)), Math.max(1, deadline - Date.now())))]);
  return { result, screen };
}

const DOWN = '\x1b[B';

describe('the wizard, with keystrokes', () => {
  it('asks every question and turns the answers into a plan', async () => {
    const { result } = await typeAnswers((io) => ask(fromOptions({}, 'checkout.yaml'), io), [
      [/Plan name/, '\r'],
      [/Flag to roll out/, 'new-checkout\r'],
      [/Flag backend/, `${DOWN}\r`], // local → unleash
      [/Metrics provider/, '\r'], // default for unleash: prometheus
      [/First check/, `${DOWN}\r`], // latency
      [/Steps/, `${DOWN}${DOWN}\r`], // rings
      [/Hold after each step/, '\r'], // 1d, the rings default
      [/Go\/no-go gate/, `${DOWN}\r`], // before-start
      [/Run a command on rollback/, 'y\r'],
      [/Rollback command/, `${'\x7f'.repeat(40)}./scripts/rollback.sh --page "on call"\r`],
    ]);
    expect(result).toEqual({
      name: 'checkout',
      flag: 'new-checkout',
      backend: 'unleash',
      metrics: 'prometheus',
      check: 'latency',
      preset: 'rings',
      hold: '1d',
      gate: 'before-start',
      rollback: expect.any(Array),
    });
    expect(result.rollback.at(-1)).toBe('on call');
  });

  it('offers rings only for backends that write them', async () => {
    const { result, screen } = await typeAnswers((io) => ask(fromOptions({ backend: 'env-file' }, 'x.yaml'), io), [
      [/Plan name/, '\r'],
      [/Flag to roll out/, '\r'],
      [/Flag backend/, '\r'],
      [/Metrics provider/, '\r'],
      [/First check/, '\r'],
      [/Steps/, `${DOWN}${DOWN}${DOWN}\r`], // wraps around: careful, fast only
      [/Hold after each step/, '\r'],
      [/Go\/no-go gate/, '\r'],
      [/Run a command on rollback/, 'n\r'],
    ]);
    expect(screen).not.toContain('internal ring');
    expect(['careful', 'fast']).toContain(result.preset);
    expect(result.rollback).toEqual([]);
  });

  it('asks before overwriting an existing file, and leaves it alone on no', async () => {
    const file = join(dir, 'exists.yaml');
    await writeFile(file, 'name: mine\n');
    const out: string[] = [];
    const err: string[] = [];
    const { result } = await typeAnswers((io) => init(ctx(out, err, true), 'exists.yaml', {}, io), [
      [/Plan name/, '\r'],
      [/Flag to roll out/, '\r'],
      [/Flag backend/, '\r'],
      [/Metrics provider/, '\r'],
      [/First check/, '\r'],
      [/Steps/, '\r'],
      [/Hold after each step/, '\r'],
      [/Go\/no-go gate/, '\r'],
      [/Run a command on rollback/, '\r'],
      [/exists\.yaml exists\. Overwrite it\?/, 'n\r'],
    ]);
    expect(result).toBe(1);
    expect(await readFile(file, 'utf8')).toBe('name: mine\n');
    expect(err.join('\n')).toContain('left exists.yaml as it was');
  });
});

describe('rollout init on the command line', () => {
  it('writes a plan without questions off a terminal and prints the next three commands', async () => {
    const r = await cli(['init', 'plans/checkout.yaml', '--backend', 'unleash', '--metrics', 'prometheus', '--yes'], { cwd: dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('wrote plans/checkout.yaml');
    expect(r.stdout).toContain('export UNLEASH_TOKEN=');
    expect(r.stdout.trim().split('\n').slice(-3)).toEqual(['  rollout validate plans/checkout.yaml', '  rollout simulate plans/checkout.yaml', '  rollout start plans/checkout.yaml']);
    const v = await cli(['validate', 'plans/checkout.yaml'], { cwd: dir, env: { UNLEASH_TOKEN: 't0ken' } });
    expect(v.code).toBe(0);
    expect(v.stderr).toBe('');
  });

  it('without --yes and without a terminal (stdin not a TTY) it still asks nothing', async () => {
    const r = await cli(['init', 'quiet.yaml'], { cwd: dir });
    expect(r.code).toBe(0);
    const s = await cli(['simulate', 'quiet.yaml'], { cwd: dir });
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/completed/);
  });

  it('never overwrites without --force', async () => {
    await writeFile(join(dir, 'taken.yaml'), 'name: mine\n');
    const r = await cli(['init', 'taken.yaml', '--yes'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('taken.yaml already exists');
    expect(await readFile(join(dir, 'taken.yaml'), 'utf8')).toBe('name: mine\n');
    const f = await cli(['init', 'taken.yaml', '--yes', '--force'], { cwd: dir });
    expect(f.code).toBe(0);
    expect(await readFile(join(dir, 'taken.yaml'), 'utf8')).toContain('name: taken');
  });

  it('refuses rings on a backend that ignores them, and unknown choices, with exit 2', async () => {
    const r = await cli(['init', 'r.yaml', '--backend', 'env-file', '--steps', 'rings', '--yes'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('does not write rings');
    const u = await cli(['init', 'u.yaml', '--backend', 'consul', '--yes'], { cwd: dir });
    expect(u.code).toBe(2);
  });
});
