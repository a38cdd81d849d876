/**
 * Secrets never leak. A full run (start → breach → rollback) whose plan takes every credential
 * from ${VAR} interpolation — the Unleash token (real Unleash), a Slack webhook URL with its
 * token in the path and a webhook target with a bearer header (both at
 * test/fakes/receiver.ts), an http-json metrics URL with ?api_key=…, a health-check URL with
 * ?token=…, and a rollback command that prints a token it gets through `env:` — plus servers
 * that echo credentials back in their error messages, and a second run against an "Unleash"
 * that echoes the Authorization header in a 500.
 *
 * Then every artifact is searched for every secret value: .rollout/** (state, events,
 * incidents, locks, plan snapshots, inbox), stdout and stderr of start / advance / status /
 * log / plan / validate, human and --json, with --debug. The count must be 0.
 */
import { randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startMetricsServer, type MetricsServer } from '../fakes/metrics-server.js';
import { startReceiver, type Receiver } from '../fakes/receiver.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cli, spawn, tempDir, write, type Run } from '../cli/helpers.js';

const unleashUrl = inject('unleashUrl');
const adminToken = inject('unleashAdminToken');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hex = (n: number) => randomBytes(n).toString('hex');

let rx: Receiver;
let metrics: MetricsServer;
let echo: Server;
let echoUrl: string;
let dir: string;
let dir2: string;
const cleanups: Array<() => Promise<void>> = [];

// The secrets (all URL-safe, so the encoded form is the same string).
const slackToken = `Zq9xSlk${hex(10)}`;
const hookPathToken = `whk_${hex(10)}`;
const hookBearer = `hooktok-${hex(10)}`;
const apiKey = `mkey-${hex(10)}`;
const healthToken = `htok-${hex(10)}`;
const cmdToken = `cmdtok-${hex(10)}`;
let slackUrl: string;
let hookUrl: string;
let metricsUrl: string;
let healthUrl: string;

beforeAll(async () => {
  rx = await startReceiver();
  metrics = await startMetricsServer();
  const a = await tempDir();
  const b = await tempDir();
  dir = a.dir;
  dir2 = b.dir;
  cleanups.push(a.cleanup, b.cleanup);
  slackUrl = rx.url(`/services/T0SECRET1/B0SECRET2/${slackToken}`);
  hookUrl = rx.url(`/hooks/${hookPathToken}`);
  metricsUrl = `${metrics.url}?api_key=${apiKey}`;
  healthUrl = rx.url(`/health?token=${healthToken}`);
  // An "Unleash" that echoes credentials in its error answers.
  echo = createServer((req, res) => {
    const body = JSON.stringify({ message: `internal error for token ${String(req.headers.authorization)} at ${req.url}` });
    res.writeHead(500, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', () => r()));
  echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await rx?.close();
  await metrics?.close();
  await new Promise<void>((r) => (echo ? echo.close(() => r()) : r()));
  echo?.closeAllConnections();
  for (const c of cleanups) await c();
});

function plan(name: string, flags: string[], hold = '1s'): string {
  return `name: ${name}
backend:
  type: unleash
  url: \${SEC_UNLEASH_URL}
  token: \${SEC_UNLEASH_TOKEN}
  create: true
  timeoutMs: 3000
  retryBudgetMs: 500
metrics:
  api:
    type: http-json
    url: \${SEC_METRICS_URL}
    timeoutMs: 2000
    retryBudgetMs: 0
defaults: { hold: ${hold}, interval: 500ms, maxJump: 100 }
checks:
  - { name: error-rate, provider: api, query: .error_rate, max: 5, unit: '%', tier: critical }
phases:
  - name: main
    flags: [${flags.join(', ')}]
    steps: [10, 20, 30, 40, 50, 100]
rollback:
  commands:
    - name: uses-a-token
      run: [node, -e, "console.log('calling the API with', process.env.API_TOKEN); console.error('token was', process.env.API_TOKEN); process.exit(1)"]
      env: { API_TOKEN: "\${SEC_CMD_TOKEN}" }
  healthCheck:
    http: { url: "\${SEC_HEALTH_URL}" }
    retries: 0
notify:
  targets:
    slack:
      type: slack
      url: \${SEC_SLACK_WEBHOOK_URL}
    hook:
      type: webhook
      url: \${SEC_HOOK_URL}
      headers: { Authorization: "Bearer \${SEC_HOOK_TOKEN}" }
`;
}

async function filesUnder(root: string): Promise<Array<{ path: string; text: string }>> {
  const out: Array<{ path: string; text: string }> = [];
  const walk = async (d: string, depth: number) => {
    if (depth > 10) return;
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      out.push({ path: `${p} (name)`, text: e.name });
      if (e.isDirectory()) await walk(p, depth + 1);
      else if (e.isFile()) out.push({ path: p, text: await readFile(p, 'utf8') });
    }
  };
  await walk(root, 0);
  return out;
}

describe('secrets never leak', () => {
  it('a full run with breach and rollback, failing calls that echo credentials: 0 occurrences of any secret in any artifact', async () => {
    const tag = hex(3);
    const flags = [`sec-${tag}-a`, `sec-${tag}-b`];
    const env = {
      SEC_UNLEASH_URL: unleashUrl,
      SEC_UNLEASH_TOKEN: adminToken,
      SEC_METRICS_URL: metricsUrl, // the name does not look secret: the adapter must see ?api_key= itself
      SEC_SLACK_WEBHOOK_URL: slackUrl,
      SEC_HOOK_URL: hookUrl,
      SEC_HOOK_TOKEN: hookBearer,
      SEC_HEALTH_URL: healthUrl,
      SEC_CMD_TOKEN: cmdToken,
    };
    const secrets: Record<string, string> = {
      'unleash admin token': adminToken,
      'unleash token (after the prefix)': adminToken.split('.').pop()!,
      'slack webhook URL': slackUrl,
      'slack webhook path': new URL(slackUrl).pathname,
      'slack token (path segment)': slackToken,
      'webhook URL': hookUrl,
      'webhook path token': hookPathToken,
      'webhook bearer token': hookBearer,
      'metrics URL': metricsUrl,
      'metrics api_key': apiKey,
      'health URL': healthUrl,
      'health token': healthToken,
      'command env token': cmdToken,
    };

    // Servers that fail once each, echoing the credential they were given.
    metrics.set({ error_rate: 0.2 });
    // (The echo first: its message is the one the first check.changed event carries.)
    metrics.fail({ status: 500, body: { error: `invalid api_key ${apiKey} (url ${metricsUrl})` } });
    metrics.fail({ destroy: true });
    let slackFailed = false;
    let hookFailed = false;
    rx.respond = (req) => {
      if (req.path.startsWith('/services/') && !slackFailed) {
        slackFailed = true;
        return { status: 404, body: `no_service for ${req.path}` };
      }
      if (req.path.startsWith('/hooks/') && !hookFailed) {
        hookFailed = true;
        return { status: 401, body: JSON.stringify({ error: `bad credentials ${String(req.headers.authorization)} for ${req.path}` }) };
      }
      return { status: 200, body: 'ok' };
    };

    const outputs: Array<{ what: string; run: Run }> = [];
    const record = async (what: string, args: string[], cwd: string, e: Record<string, string> = env) => {
      const r = await cli(args, { cwd, env: e, timeoutMs: 60_000 });
      outputs.push({ what, run: r });
      return r;
    };

    // ——— run 1: start → breach → rollback (the rollback command fails, printing its token) ———
    const file = await write(dir, 'plan.yaml', plan(`secrets-${tag}`, flags));
    await record('validate', ['validate', file], dir);
    await record('validate --json', ['validate', file, '--json'], dir);
    await record('plan', ['plan', file], dir);
    await record('plan --json', ['plan', file, '--json'], dir);
    const child = spawn(['start', file, '--debug'], { cwd: dir, env, timeoutMs: 90_000 });
    // Breach once the second step is applied (state.json, bounded).
    const deadline = Date.now() + 40_000;
    let step = -1;
    while (Date.now() < deadline && step < 1) {
      await sleep(200);
      try {
        const runs = await readdir(join(dir, '.rollout/runs'));
        if (runs[0]) step = (JSON.parse(await readFile(join(dir, '.rollout/runs', runs[0], 'state.json'), 'utf8')) as { step: number }).step;
      } catch {
        /* not written yet */
      }
    }
    expect(step, 'the run reached its second step').toBeGreaterThanOrEqual(1);
    await record('status (running)', ['status'], dir);
    await record('status --json (running)', ['status', '--json'], dir);
    metrics.set({ error_rate: 9.9 });
    const started = await child;
    outputs.push({ what: 'start --debug', run: { code: started.exitCode ?? -1, stdout: String(started.stdout), stderr: String(started.stderr) } });
    expect(started.exitCode, `${String(started.stdout)}\n${String(started.stderr)}`).toBe(7); // rolled back; the command failed on purpose
    for (const [what, args] of [
      ['status', ['status']],
      ['status --json', ['status', '--json']],
      ['status --all --json', ['status', '--all', '--json']],
      ['log', ['log']],
      ['log --json', ['log', '--json']],
    ] as const)
      await record(what, [...args], dir);

    // ——— run 2: the flag backend echoes the token in a 500 (a deliberately failing call) ———
    const file2 = await write(dir2, 'plan.yaml', plan(`secrets2-${tag}`, [`sec-${tag}-c`], '200ms'));
    const env2 = { ...env, SEC_UNLEASH_URL: echoUrl };
    metrics.set({ error_rate: 0.2 });
    const adv = await record('advance --debug (backend echoes the token)', ['advance', file2, '--debug'], dir2, env2);
    expect(adv.code, adv.stdout + adv.stderr).toBe(4); // paused: the step could not be applied
    await record('advance --json --debug', ['advance', file2, '--json', '--debug'], dir2, env2);
    await record('status (run 2)', ['status'], dir2, env2);
    await record('status --json (run 2)', ['status', '--json'], dir2, env2);
    await record('log --json (run 2)', ['log', '--json'], dir2, env2);
    await record('rollback --json (run 2)', ['rollback', '--reason', 'secrets test', '--json', '--debug'], dir2, env2);

    // The secrets were really used.
    expect(metrics.requests.some((r) => r.query.api_key === apiKey)).toBe(true);
    expect(rx.requests.some((r) => r.path.includes(slackToken))).toBe(true);
    expect(rx.requests.some((r) => r.headers.authorization === `Bearer ${hookBearer}`)).toBe(true);
    expect(rx.requests.some((r) => r.path.includes(healthToken))).toBe(true);
    const log1 = JSON.parse(outputs.find((o) => o.what === 'log --json')!.run.stdout) as { events: Array<{ type: string; msg: string; data?: { output?: string } }> };
    const types = log1.events.map((e) => e.type);
    expect(types).toContain('rollback.flags-off');
    expect(types).toContain('notify.failed');
    expect(types).toContain('command.failed');
    // The command's output is kept (redacted), and the failing calls' messages are there too.
    expect(log1.events.find((e) => e.type === 'command.failed')?.data?.output ?? '').toMatch(/calling the API with \*\*\*/);
    expect(log1.events.some((e) => /invalid api_key/.test(e.msg))).toBe(true);

    // ——— count ———
    const artifacts = [
      ...(await filesUnder(join(dir, '.rollout'))),
      ...(await filesUnder(join(dir2, '.rollout'))),
      ...outputs.flatMap((o) => [
        { path: `${o.what}: stdout`, text: o.run.stdout },
        { path: `${o.what}: stderr`, text: o.run.stderr },
      ]),
    ];
    const found: string[] = [];
    let total = 0;
    for (const a of artifacts) {
      for (const [name, value] of Object.entries(secrets)) {
        const n = a.text.split(value).length - 1;
        if (n) {
          total += n;
          const i = a.text.indexOf(value);
          found.push(`${name} ×${n} in ${a.path}: …${a.text.slice(Math.max(0, i - 80), i + value.length + 40)}…`);
        }
      }
    }
    console.log(`secrets: ${Object.keys(secrets).length} secret values searched in ${artifacts.length} artifacts (${artifacts.filter((a) => a.path.includes('.rollout')).length} under .rollout, ${outputs.length * 2} command outputs): ${total} occurrence(s) found`);
    expect(found, found.join('\n')).toEqual([]);
    expect(total).toBe(0);
  }, 180_000);
});
