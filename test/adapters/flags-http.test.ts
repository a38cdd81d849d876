import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { create, options, renderBody } from '../../src/adapters/flags/http.js';
import type { AdapterContext, FlagBackend } from '../../src/adapters/types.js';
import { BackendError, UsageError } from '../../src/errors.js';
import { startFlagApiFake, type FlagApiFake } from '../fakes/flag-api.js';
import { CONTRACT_FLAGS, flagBackendContract } from './flag-contract.js';
import { cli, tempDir, write } from '../cli/helpers.js';

const TOKEN = 'flagapi-7d3f9a1c2b-secret';
let fake: FlagApiFake;
const logs: string[] = [];
const ctx: AdapterContext = {
  baseDir: process.cwd(),
  cwd: process.cwd(),
  log: (m) => logs.push(m),
  env: { ...process.env, FLAG_API_TOKEN: TOKEN },
};

beforeAll(async () => {
  fake = await startFlagApiFake({ token: TOKEN });
});
afterAll(async () => {
  await fake.close();
});

function preset(extra: Record<string, unknown> = {}): FlagBackend {
  return create(
    { preset: 'feature-flags-api', baseUrl: fake.url, auth: { tokenEnv: 'FLAG_API_TOKEN' }, timeoutMs: 2_000, retryBudgetMs: 3_000, ...extra },
    ctx,
  );
}

const puts = () => fake.requests.filter((r) => r.method === 'PUT');

flagBackendContract(
  'http preset feature-flags-api (fake seed-004 API)',
  async () => {
    fake.reset();
    return { backend: preset() };
  },
  {
    decimals: true,
    failure: async (_inst, call) => {
      if (call === 'apply') {
        // a real refusal of the API: the flag is frozen
        fake.seed(CONTRACT_FLAGS[0], { enabled: true, percentage: 10, frozen: true });
        return { status: 409, message: `flag ${CONTRACT_FLAGS[0]} is frozen` };
      }
      fake.failNext(1, { status: 401 });
      return { status: 401, message: 'invalid or missing API token' };
    },
  },
);

flagBackendContract(
  'http custom templates (fractions, nested JSON, toggle endpoint)',
  async () => {
    fake.reset();
    return {
      backend: create(
        {
          baseUrl: `${fake.url}/`,
          headers: { Authorization: `Bearer ${TOKEN}` },
          apply: { method: 'PUT', path: '/feature-flags/{{flag}}', body: '{"enabled": "{{enabled}}", "percentage": "{{percentage}}"}' },
          disable: { method: 'POST', path: '/feature-flags/toggle', body: { flag: '{{flag}}', enabled: false }, idempotent: true },
          read: {
            path: '/feature-flags',
            existsPath: '$.flags[?(@.name=="{{flag}}")]',
            enabledPath: '$.flags[?(@.name=="{{flag}}")].enabled',
            percentagePath: '$.flags[?(@.name=="{{flag}}")].percentage',
          },
          timeoutMs: 2_000,
          retryBudgetMs: 2_000,
        },
        ctx,
      ),
    };
  },
  {},
);

describe('http flag backend', () => {
  beforeEach(() => {
    fake.reset();
    logs.length = 0;
  });

  it('validates options strictly', () => {
    expect(() => options.parse({ preset: 'feature-flags-api', baseUrl: 'http://x', bogus: 1 })).toThrow();
    expect(() => options.parse({ baseUrl: 'http://x' })).toThrow(/apply\.path is required/);
    expect(() => options.parse({ baseUrl: 'http://x', apply: { path: '/f/{{flag}}', body: { p: '{{pct}}' } }, read: { path: '/f/{{flag}}' } })).toThrow(/unknown placeholder \{\{pct\}\}/);
    expect(() => options.parse({ baseUrl: 'http://x', apply: { path: '/f', body: '{"a": {{enabled}}}' }, read: { path: '/f' } })).toThrow(/not valid JSON/);
    expect(() => options.parse({ preset: 'nope', baseUrl: 'http://x' })).toThrow();
    expect(() => options.parse({ preset: 'feature-flags-api', baseUrl: 'file:///etc/passwd' })).toThrow(/must be an http\(s\) URL/);
    expect(() => options.parse({ preset: 'feature-flags-api', baseUrl: 'ftp://flags.example' })).toThrow(/must be an http\(s\) URL/);
    const o = options.parse({ preset: 'feature-flags-api', baseUrl: 'http://x' });
    expect(o.timeoutMs).toBe(10_000);
    expect(o.insecureTls).toBe(false);
  });

  it('renders body templates as JSON values, dropping absent ones', () => {
    const t = { a: '{{percentage}}', b: '{{enabled}}', c: 'to {{percentage}}% for {{flag}}', d: ['{{users}}', '{{rings}}'], e: { f: '{{fraction}}' }, n: 1 };
    expect(renderBody(t, { flag: 'x', percentage: 12.5, enabled: true, users: ['u1'], fraction: 0.125 })).toEqual({
      a: 12.5,
      b: true,
      c: 'to 12.5% for x',
      d: [['u1']],
      e: { f: 0.125 },
      n: 1,
    });
    expect(renderBody(t, { flag: 'x', enabled: false })).toEqual({ b: false, c: 'to % for x', d: [], e: {}, n: 1 });
  });

  it('preset: sends seed 004 PUT /feature-flags/{flag} with the bearer token', async () => {
    const b = preset();
    await b.apply({ flag: 'use_state_persistence', enabled: true, percentage: 1 });
    const put = puts()[0]!;
    expect(put.path).toBe('/feature-flags/use_state_persistence');
    expect(put.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(put.headers['content-type']).toBe('application/json');
    expect(JSON.parse(put.body)).toEqual({ enabled: true, percentage: 1 }); // exactly the guide's example
    expect(fake.flags.get('use_state_persistence')).toMatchObject({ enabled: true, percentage: 1 });
    expect(b.name).toBe(`http feature-flags-api (${fake.url})`);
  });

  it('preset: disabling uses the guide\'s emergency toggle and keeps the percentage server-side', async () => {
    const b = preset();
    await b.apply({ flag: 'f', enabled: true, percentage: 30 });
    await b.apply({ flag: 'f', enabled: false });
    const last = fake.requests.at(-1)!;
    expect([last.method, last.path]).toEqual(['POST', '/feature-flags/toggle']);
    expect(JSON.parse(last.body)).toEqual({ flag: 'f', enabled: false });
    expect(await b.read('f')).toMatchObject({ exists: true, enabled: false, percentage: 30 });
  });

  it('preset: a rollback of several flags is one bulk-update, exactly the guide\'s body', async () => {
    const b = preset();
    for (const f of ['use_state_persistence', 'enable_state_snapshots', 'enable_state_recovery']) await b.apply({ flag: f, enabled: true, percentage: 25 });
    fake.requests.length = 0;
    await b.disableMany!(['use_state_persistence', 'enable_state_snapshots', 'enable_state_recovery']);
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /feature-flags/bulk-update']);
    expect(JSON.parse(fake.requests[0]!.body)).toEqual([
      { name: 'use_state_persistence', enabled: false },
      { name: 'enable_state_snapshots', enabled: false },
      { name: 'enable_state_recovery', enabled: false },
    ]);
    for (const f of ['use_state_persistence', 'enable_state_snapshots', 'enable_state_recovery']) expect(fake.flags.get(f)).toMatchObject({ enabled: false, percentage: 25 });
    // all-or-nothing on the server: an unknown flag fails the whole call, with the API's message
    await expect(b.disableMany!(['use_state_persistence', 'nope'])).rejects.toThrow(/404.*flag nope not found|flag nope not found/);
  });

  it('preset: freeze holds the percentage (the API refuses changes) until unfreeze', async () => {
    const b = preset();
    await b.apply({ flag: 'f', enabled: true, percentage: 10 });
    await b.freeze!('f', true);
    expect(fake.requests.at(-1)).toMatchObject({ method: 'POST', path: '/feature-flags/freeze/f' });
    expect(fake.flags.get('f')!.frozen).toBe(true);
    await expect(b.apply({ flag: 'f', enabled: true, percentage: 25 })).rejects.toThrow(/409.*frozen|frozen/);
    await b.freeze!('f', true); // idempotent
    await b.freeze!('f', false);
    expect(fake.requests.at(-1)).toMatchObject({ method: 'DELETE', path: '/feature-flags/freeze/f' });
    await b.apply({ flag: 'f', enabled: true, percentage: 25 });
    expect(fake.flags.get('f')).toMatchObject({ frozen: false, percentage: 25 });
  });

  it('a backend without bulk or freeze requests does not offer them; freeze needs unfreeze', () => {
    const b = create({ baseUrl: fake.url, apply: { path: '/feature-flags/{{flag}}' }, read: { path: '/feature-flags/{{flag}}' } }, ctx);
    expect(b.disableMany).toBeUndefined();
    expect(b.freeze).toBeUndefined();
    expect(() => options.parse({ baseUrl: 'http://x', apply: { path: '/f' }, read: { path: '/f' }, freeze: { path: '/freeze/{{flag}}' } })).toThrow(/unfreeze/);
    expect(() => options.parse({ baseUrl: 'http://x', apply: { path: '/f' }, read: { path: '/f' }, bulkDisable: { path: '/bulk', item: { n: '{{nme}}' } } })).toThrow(/unknown placeholder \{\{nme\}\}/);
  });

  it('preset: ring rollouts send strategy ring with the rings, and read them back', async () => {
    const b = preset();
    await b.apply({ flag: 'enable_state_snapshots', enabled: true, rings: { internal: 100, beta: 0, ga: 0 } });
    expect(JSON.parse(puts()[0]!.body)).toEqual({ enabled: true, percentage: 100, strategy: 'ring', rings: { internal: 100, beta: 0, ga: 0 } });
    expect(fake.flags.get('enable_state_snapshots')!.strategy).toBe('ring');
    expect((await b.read('enable_state_snapshots')).rings).toEqual({ internal: 100, beta: 0, ga: 0 });
    // back to a plain percentage rollout
    await b.apply({ flag: 'enable_state_snapshots', enabled: true, percentage: 50 });
    expect(fake.flags.get('enable_state_snapshots')).toMatchObject({ strategy: 'percentage', percentage: 50 });
  });

  it('says when users are given but the template cannot send them', async () => {
    await preset().apply({ flag: 'f', enabled: true, percentage: 5, users: ['alice'] });
    expect(logs.join('\n')).toMatch(/users not sent/);
  });

  it('retries a PUT on 503 within the budget', async () => {
    fake.failNext(2, { status: 503, method: 'PUT' });
    await preset().apply({ flag: 'f', enabled: true, percentage: 5 });
    expect(puts().length).toBe(3);
    expect(fake.flags.get('f')!.percentage).toBe(5);
  });

  it('honours 429 Retry-After on a PUT', async () => {
    fake.failNext(1, { status: 429, retryAfterSec: 1, method: 'PUT' });
    const t0 = Date.now();
    await preset().apply({ flag: 'f', enabled: true, percentage: 15 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(puts().length).toBe(2);
    expect(fake.flags.get('f')!.percentage).toBe(15);
  });

  it('gives up when the 5xx outlasts the budget, naming backend, status, message and attempts', async () => {
    fake.failNext(50, { status: 502, message: 'upstream flag store unreachable', method: 'PUT' });
    const b = preset({ retryBudgetMs: 600 });
    const err = (await b.apply({ flag: 'f', enabled: true, percentage: 5 }).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(502);
    expect(err.message).toContain(b.name);
    expect(err.message).toContain('HTTP 502');
    expect(err.message).toContain('upstream flag store unreachable');
    expect(err.message).toMatch(/gave up after \d+ attempts/);
    expect(puts().length).toBeGreaterThan(1);
    expect(puts().length).toBeLessThan(50);
  });

  it('fails fast on 401 with the server message, never showing the token', async () => {
    const b = create({ preset: 'feature-flags-api', baseUrl: fake.url, headers: { Authorization: 'Bearer wrong-token-0123456789' } }, ctx);
    const err = (await b.apply({ flag: 'f', enabled: true, percentage: 5 }).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(401);
    expect(err.message).toBe(`${b.name}: HTTP 401: invalid or missing API token`);
    expect(err.hint).toMatch(/token/);
    expect(err.message).not.toContain('wrong-token-0123456789');
    expect(fake.requests.length).toBe(1);
  });

  it('surfaces 400 validation errors of the API without retrying', async () => {
    const b = create({ baseUrl: fake.url, auth: { tokenEnv: 'FLAG_API_TOKEN' }, apply: { path: '/feature-flags/{{flag}}', body: { enabled: '{{enabled}}', pct: '{{percentage}}' } }, read: { path: '/feature-flags/{{flag}}' } }, ctx);
    const err = (await b.apply({ flag: 'f', enabled: true, percentage: 5 }).catch((e: unknown) => e)) as BackendError;
    expect(err.status).toBe(400);
    expect(err.message).toContain('unknown field "pct"');
    expect(fake.requests.length).toBe(1);
  });

  it('does not retry a POST by default, but does when marked idempotent', async () => {
    const mk = (idempotent?: boolean) =>
      create(
        {
          baseUrl: fake.url,
          auth: { tokenEnv: 'FLAG_API_TOKEN' },
          apply: { method: 'POST', path: '/feature-flags/bulk-update', body: [{ name: '{{flag}}', enabled: '{{enabled}}', percentage: '{{percentage}}' }], ...(idempotent === undefined ? {} : { idempotent }) },
          read: { path: '/feature-flags/{{flag}}' },
          retryBudgetMs: 2_000,
        },
        ctx,
      );
    fake.seed('f');
    fake.failNext(1, { status: 503, method: 'POST' });
    const err = (await mk().apply({ flag: 'f', enabled: true, percentage: 5 }).catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.status).toBe(503);
    expect(fake.requests.filter((r) => r.method === 'POST').length).toBe(1);

    fake.failNext(1, { status: 503, method: 'POST' });
    await mk(true).apply({ flag: 'f', enabled: true, percentage: 7 });
    expect(fake.requests.filter((r) => r.method === 'POST').length).toBe(3);
    expect(fake.flags.get('f')!.percentage).toBe(7);
  });

  it('reads retry 503 by default, not when marked non-idempotent', async () => {
    fake.seed('f', { enabled: true, percentage: 5 });
    fake.failNext(1, { status: 503, method: 'GET' });
    expect(await preset().read('f')).toMatchObject({ percentage: 5 });
    fake.failNext(1, { status: 503, method: 'GET' });
    await expect(preset({ read: { idempotent: false } }).read('f')).rejects.toThrow(/HTTP 503: service temporarily unavailable/);
  });

  it('times out a hung request; an idempotent one is retried', async () => {
    fake.failNext(1, { kind: 'timeout', delayMs: 3_000, method: 'GET' });
    const noRetry = preset({ timeoutMs: 250, retryBudgetMs: 0 });
    const t0 = Date.now();
    const err = (await noRetry.read('f').catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toContain(noRetry.name);
    // util/http.ts means to say "timed out after 250 ms"; undici's abort error carries a numeric
    // code (23), so it currently says "…aborted due to timeout (23)". Either names the timeout.
    expect(err.message).toMatch(/timed out after 250 ms|due to timeout/);
    expect(Date.now() - t0).toBeLessThan(2_000);

    fake.failNext(1, { kind: 'timeout', delayMs: 3_000, method: 'PUT' });
    await preset({ timeoutMs: 250, retryBudgetMs: 2_000 }).apply({ flag: 'f', enabled: true, percentage: 9 });
    expect(fake.flags.get('f')!.percentage).toBe(9);
  });

  it('retries a PUT after a dropped connection', async () => {
    fake.failNext(1, { kind: 'reset', method: 'PUT' });
    await preset().apply({ flag: 'f', enabled: true, percentage: 11 });
    expect(puts().length).toBe(2);
  });

  it('reports malformed JSON on read as a backend error', async () => {
    fake.seed('f', { enabled: true, percentage: 5 });
    fake.failNext(1, { kind: 'malformed', method: 'GET' });
    const b = preset();
    const err = (await b.read('f').catch((e: unknown) => e)) as BackendError;
    expect(err).toBeInstanceOf(BackendError);
    expect(err.message).toContain(b.name);
    expect(err.message).toMatch(/not valid JSON/);
  });

  it('says which JSONPath found nothing', async () => {
    fake.seed('f', { enabled: true, percentage: 5 });
    const b = create({ preset: 'feature-flags-api', baseUrl: fake.url, auth: { tokenEnv: 'FLAG_API_TOKEN' }, read: { enabledPath: '$.state.on' } }, ctx);
    await expect(b.read('f')).rejects.toThrow(/expected a boolean at \$\.state\.on, got nothing/);
  });

  it('scales fractions and reads nested documents', async () => {
    fake.seed('f', { enabled: true, percentage: 0.25 });
    const b = create({ preset: 'feature-flags-api', baseUrl: fake.url, auth: { tokenEnv: 'FLAG_API_TOKEN' }, read: { percentageScale: 100 } }, ctx);
    expect(await b.read('f')).toMatchObject({ enabled: true, percentage: 25 });
  });

  it('URL-encodes the flag into the path', async () => {
    await preset().apply({ flag: 'a/b c', enabled: true, percentage: 1 });
    expect(puts()[0]!.path).toBe('/feature-flags/a%2Fb%20c');
  });

  it('requires the auth token variable to be set, and warns about insecure TLS', () => {
    expect(() => create({ preset: 'feature-flags-api', baseUrl: fake.url, auth: { tokenEnv: 'NO_SUCH_TOKEN_VAR' } }, ctx)).toThrow(UsageError);
    preset({ insecureTls: true });
    expect(logs.join('\n')).toMatch(/WARNING: .*TLS certificate verification is OFF/);
  });
});

describe('fake seed-004 API (the guide\'s other endpoints)', () => {
  beforeEach(() => fake.reset());
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${fake.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('increase, freeze, toggle, bulk-update and evaluate behave as the guide shows', async () => {
    expect((await call('PUT', '/feature-flags/use_state_persistence', { enabled: true, percentage: 1 })).status).toBe(200);
    expect((await call('POST', '/feature-flags/rollout/use_state_persistence/increase', { increase_by: 4 })).body).toMatchObject({ percentage: 5 });
    expect((await call('POST', '/feature-flags/rollout/use_state_persistence/increase')).body).toMatchObject({ percentage: 15 });
    expect((await call('POST', '/feature-flags/freeze/use_state_persistence')).body).toMatchObject({ frozen: true });
    expect(await call('PUT', '/feature-flags/use_state_persistence', { percentage: 50 })).toEqual({ status: 409, body: { error: 'flag use_state_persistence is frozen' } });
    // emergency disable still works on a frozen flag
    expect((await call('POST', '/feature-flags/toggle', { flag: 'use_state_persistence', enabled: false })).body).toMatchObject({ enabled: false, percentage: 15 });
    await call('DELETE', '/feature-flags/freeze/use_state_persistence');
    await call('PUT', '/feature-flags/enable_state_snapshots', { enabled: true, percentage: 100 });
    const bulk = await call('POST', '/feature-flags/bulk-update', [
      { name: 'use_state_persistence', enabled: false },
      { name: 'enable_state_snapshots', enabled: false },
    ]);
    expect(bulk.status).toBe(200);
    expect(fake.flags.get('enable_state_snapshots')!.enabled).toBe(false);
    // all-or-nothing: one unknown flag → nothing changes
    expect((await call('POST', '/feature-flags/bulk-update', [{ name: 'enable_state_snapshots', enabled: true }, { name: 'nope', enabled: true }])).status).toBe(404);
    expect(fake.flags.get('enable_state_snapshots')!.enabled).toBe(false);
    await call('PUT', '/feature-flags/enable_state_snapshots', { enabled: true, percentage: 100 });
    expect((await call('POST', '/feature-flags/evaluate', { context: { user_id: 'test-user' } })).body).toEqual({
      flags: { use_state_persistence: false, enable_state_snapshots: true },
    });
    expect((await call('PUT', '/feature-flags/x', { percentage: 101 })).status).toBe(400);
    expect((await call('GET', '/feature-flags/missing')).body).toEqual({ error: 'flag missing not found' });
  });
});

describe('http preset through the CLI: a breach pause freezes, resume unfreezes, a rollback is one bulk-update', () => {
  it('seed 004 procedure end to end against the fake API', async () => {
    fake.reset();
    const { dir, cleanup } = await tempDir();
    try {
      await write(dir, 'err.txt', '1');
      const f = await write(
        dir,
        'plan.yaml',
        `name: sp
backend: { type: http, preset: feature-flags-api, baseUrl: "${fake.url}", auth: { tokenEnv: FLAG_API_TOKEN }, timeoutMs: 2000 }
metrics:
  sh: { type: command, argv: [cat, err.txt] }
defaults: { hold: 1h, interval: 100ms, maxJump: 100 }
checks:
  - { name: error-rate, provider: sh, query: errors, max: 5, tier: warning, action: pause, freeze: true }
phases:
  - { name: core, flags: [a, b], steps: [10, 50] }
  - { name: more, flags: [c], steps: [100] }
`,
      );
      const env = { FLAG_API_TOKEN: TOKEN };
      const freezeCalls = () => fake.requests.filter((r) => r.path.startsWith('/feature-flags/freeze/')).map((r) => `${r.method} ${r.path}`);
      // 10% applied, holding
      expect((await cli(['advance', f], { cwd: dir, env })).code).toBe(6);
      expect(fake.flags.get('a')).toMatchObject({ enabled: true, percentage: 10 });
      // the error rate passes 5%: paused (exit 4) and both live flags frozen on the server
      await write(dir, 'err.txt', '7');
      const paused = await cli(['advance', 'sp', '--json'], { cwd: dir, env });
      expect(paused.code).toBe(4);
      expect(freezeCalls()).toEqual(['POST /feature-flags/freeze/a', 'POST /feature-flags/freeze/b']);
      expect(fake.flags.get('a')!.frozen && fake.flags.get('b')!.frozen).toBe(true);
      const st = await cli(['status', 'sp'], { cwd: dir, env });
      expect(st.stdout).toMatch(/a: 10% — frozen/);
      expect(JSON.parse((await cli(['status', 'sp', '--json'], { cwd: dir, env })).stdout).frozen).toEqual(['a', 'b']);
      const log = JSON.parse((await cli(['log', 'sp', '--json'], { cwd: dir, env })).stdout) as { events: Array<{ type: string; msg: string }> };
      expect(log.events.find((e) => e.type === 'flags.frozen')!.msg).toMatch(/freeze a, b: 2 flag\(s\) frozen/);
      // fixed; resume unfreezes before the next step, which the API would refuse on a frozen flag
      await write(dir, 'err.txt', '1');
      expect((await cli(['resume', 'sp', '--detach'], { cwd: dir, env })).code).toBe(6);
      expect(freezeCalls().slice(2)).toEqual(['DELETE /feature-flags/freeze/a', 'DELETE /feature-flags/freeze/b']);
      expect((await cli(['promote', 'sp'], { cwd: dir, env })).code).toBe(0);
      expect((await cli(['advance', 'sp'], { cwd: dir, env })).code).toBe(6);
      expect(fake.flags.get('a')).toMatchObject({ frozen: false, percentage: 50 });
      // the emergency: one bulk-update turns every flag of the plan off
      fake.seed('c', { enabled: false });
      fake.requests.length = 0;
      expect((await cli(['rollback', 'sp', '--reason', 'error rate 7% at 50%'], { cwd: dir, env })).code).toBe(0);
      expect(fake.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}`)).toEqual(['POST /feature-flags/bulk-update']);
      for (const n of ['a', 'b', 'c']) expect(fake.flags.get(n)!.enabled).toBe(false);
    } finally {
      await cleanup();
    }
  });
});
