import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { create, options, slackPayload } from '../../src/adapters/notify/slack.js';
import type { AdapterContext, Notice } from '../../src/adapters/types.js';
import { BackendError } from '../../src/errors.js';
import { redact } from '../../src/util/redact.js';
import { DEFAULT_TEMPLATES, renderNotice, renderTemplate } from '../../src/util/template.js';
import { deadUrl, startReceiver, type Receiver } from '../fakes/receiver.js';

// Shaped like a real Slack webhook path: /services/<team>/<bot>/<token>.
const HOOK_PATH = '/services/T0FAKE1234/B0FAKE5678/qZ7xK2pL9mN4vR8tY3wS6uE1';
const TOKEN = 'qZ7xK2pL9mN4vR8tY3wS6uE1';

let rx: Receiver;
const logs: string[] = [];
const ctx: AdapterContext = { baseDir: '/tmp', cwd: '/tmp', log: (m) => logs.push(m), env: {} };

beforeAll(async () => {
  rx = await startReceiver();
});
afterAll(async () => {
  await rx.close();
});
afterEach(() => {
  rx.reset();
  logs.length = 0;
});

const vars = {
  plan: 'checkout',
  run: 'r-42',
  phase: 'canary',
  flags: 'new_checkout',
  percentage: 25,
  nextPercentage: 50,
  nextAt: '15:00 UTC',
  status: 'green',
  checks: 'error_rate 0.3% (< 1%) ok',
};

function notice(event = 'step.applied'): Notice {
  return renderNotice(event, vars);
}

/** The failure must not leak the webhook URL or any part of its secret path. */
function expectNoSecret(err: unknown): void {
  const e = err as BackendError;
  for (const s of [e.message, e.hint ?? '', String(e), JSON.stringify({ m: e.message, h: e.hint })]) {
    expect(s).not.toContain(HOOK_PATH);
    expect(s).not.toContain(TOKEN);
    expect(s).not.toContain('B0FAKE5678');
    expect(s).not.toContain('/services/');
    expect(s).not.toContain(rx.url(HOOK_PATH));
  }
}

async function failure(p: Promise<unknown>): Promise<BackendError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendError);
  return err as BackendError;
}

describe('slack notifier: options', () => {
  it('is strict, needs an http(s) url, has a default timeout and no `type`', () => {
    expect(options.parse({ url: 'https://hooks.slack.com/services/T/B/x' })).toEqual({ url: 'https://hooks.slack.com/services/T/B/x', timeoutMs: 5000 });
    expect(options.safeParse({ type: 'slack', url: 'https://hooks.slack.com/x' }).success).toBe(false);
    expect(options.safeParse({ url: 'https://hooks.slack.com/x', chanel: 'x' }).success).toBe(false);
    expect(options.safeParse({}).success).toBe(false);
    expect(options.safeParse({ url: 'ftp://hooks.slack.com/x' }).success).toBe(false);
    expect(options.safeParse({ url: 'not a url' }).success).toBe(false);
  });

  it('registers the URL as a secret and never names it', () => {
    const n = create({ url: rx.url(HOOK_PATH), channel: 'critical-alerts' }, ctx);
    expect(n.name).toBe('slack (#critical-alerts)');
    expect(redact(`posting to ${rx.url(HOOK_PATH)} failed`)).not.toContain(TOKEN);
    expect(redact(`path ${HOOK_PATH}`)).not.toContain(TOKEN);
    expect(redact(`token ${TOKEN}`)).toBe('token ***');
    const n2 = create({ url: rx.url(HOOK_PATH) }, ctx);
    expect(n2.name).toBe(`slack (127.0.0.1:${rx.port})`);
  });

  it('warns when the URL would travel over plain http to a remote host', () => {
    create({ url: 'http://hooks.example.com/services/T0FAKE1234/B0FAKE5678/abcdefabcdefabcdef' }, ctx);
    expect(logs.join('\n')).toMatch(/plain http to hooks\.example\.com/);
    expect(logs.join('\n')).not.toContain('abcdefabcdefabcdef');
  });
});

describe('slack notifier: delivery', () => {
  it('POSTs the rendered template in Slack incoming-webhook format', async () => {
    const n = create({ url: rx.url(HOOK_PATH), channel: 'critical-alerts', username: 'rollout' }, ctx);
    const nt = notice();
    await n.send(nt);
    expect(rx.requests).toHaveLength(1);
    const r = rx.requests[0]!;
    expect(r.method).toBe('POST');
    expect(r.path).toBe(HOOK_PATH);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const body = r.body as { text: string; channel: string; username: string; blocks: Array<{ type: string; text?: { text: string }; elements?: Array<{ text: string }> }> };
    expect(body.channel).toBe('#critical-alerts');
    expect(body.username).toBe('rollout');
    // Slack control characters are escaped (the "< 1%" in the checks summary).
    const rendered = renderTemplate(DEFAULT_TEMPLATES['step.applied'], vars).replace(/</g, '&lt;');
    expect(body.text).toBe(`checkout: 25% enabled\n${rendered}`);
    expect(body.text).toContain('Current: 25% enabled');
    expect(body.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'checkout: 25% enabled', emoji: true } });
    expect(body.blocks[1]).toEqual({ type: 'section', text: { type: 'mrkdwn', text: rendered } });
    expect(body.blocks[2]?.type).toBe('context');
    expect(body.blocks[2]?.elements?.[0]?.text).toContain('run: r-42');
  });

  it('sends the emergency rollback alert', async () => {
    const n = create({ url: rx.url(HOOK_PATH), channel: '#critical-alerts' }, ctx);
    await n.send(renderNotice('rollback.started', { ...vars, reason: 'error_rate 2.1% > 1% for 5m' }));
    const body = rx.requests[0]!.body as { text: string; channel: string };
    expect(body.channel).toBe('#critical-alerts');
    expect(body.text).toContain('🚨 EMERGENCY ROLLBACK: error_rate 2.1% &gt; 1% for 5m');
  });

  it('omits channel/username when not set, and keeps within Slack limits', () => {
    const long: Notice = { event: 'x', severity: 'info', title: 'T'.repeat(400), text: '<&>'.repeat(2000), fields: {} };
    const p = slackPayload(long) as { channel?: string; username?: string; blocks: Array<{ type: string; text: { text: string } }> };
    expect(p.channel).toBeUndefined();
    expect(p.username).toBeUndefined();
    expect([...p.blocks[0]!.text.text].length).toBeLessThanOrEqual(150);
    const section = p.blocks[1]!.text.text;
    expect([...section].length).toBeLessThanOrEqual(3000);
    expect(section).toMatch(/(&lt;|&amp;|&gt;)…$/);
    expect(p.blocks).toHaveLength(2); // no context block without fields
  });

  it('redacts registered secrets from the message itself', async () => {
    const n = create({ url: rx.url(HOOK_PATH) }, ctx);
    await n.send({ ...notice(), text: `oops ${TOKEN} leaked` });
    expect(rx.requests[0]!.raw).not.toContain(TOKEN);
  });
});

describe('slack notifier: failures', () => {
  it('404 no_service → BackendError naming slack, with status, code and hint, no URL', async () => {
    rx.mode = 'noService';
    const n = create({ url: rx.url(HOOK_PATH) }, ctx);
    const err = await failure(n.send(notice()));
    expect(err.backend).toBe('slack');
    expect(err.status).toBe(404);
    expect(err.message).toMatch(/^slack: HTTP 404: step\.applied notice not delivered: no_service/);
    expect(err.hint).toMatch(/revoked/);
    expect(err.retryable).toBe(false);
    expectNoSecret(err);
    expect(rx.requests).toHaveLength(1); // 4xx: no retry
  });

  it('400 invalid_payload is not retried and points at a bug', async () => {
    rx.mode = 'invalidPayload';
    const err = await failure(create({ url: rx.url(HOOK_PATH) }, ctx).send(notice()));
    expect(err.status).toBe(400);
    expect(err.message).toContain('invalid_payload');
    expect(err.hint).toMatch(/bug/);
    expect(rx.requests).toHaveLength(1);
    expectNoSecret(err);
  });

  it('500 → retried once, then BackendError with the attempt count', async () => {
    rx.mode = 'error500';
    const err = await failure(create({ url: rx.url(HOOK_PATH) }, ctx).send(notice()));
    expect(err.status).toBe(500);
    expect(err.message).toMatch(/rollup_error \(after 2 attempts in \d+ ms\)/);
    expect(rx.requests).toHaveLength(2);
    expectNoSecret(err);
  });

  it('500 then ok → delivered by the retry (at-least-once)', async () => {
    rx.script(['error500', 'ok']);
    await create({ url: rx.url(HOOK_PATH) }, ctx).send(notice());
    expect(rx.requests).toHaveLength(2);
    expect(rx.requests[1]!.body).toEqual(rx.requests[0]!.body);
  });

  it('429 with Retry-After 1 s is retried once after the wait', async () => {
    rx.script(['rateLimited', 'ok']);
    const t0 = Date.now();
    await create({ url: rx.url(HOOK_PATH) }, ctx).send(notice());
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(rx.requests).toHaveLength(2);
  });

  it('hanging receiver → bounded timeout, not retried, no URL', async () => {
    rx.mode = 'hang';
    const n = create({ url: rx.url(HOOK_PATH), timeoutMs: 300 }, ctx);
    const t0 = Date.now();
    const err = await failure(n.send(notice()));
    const took = Date.now() - t0;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(2_000);
    expect(err.message).toMatch(/timed out after 300 ms/);
    expect(err.hint).toMatch(/may or may not have been posted/);
    expect(err.message).toContain(`POST 127.0.0.1:${rx.port}`);
    expect(err.status).toBeUndefined();
    expect(rx.requests).toHaveLength(1);
    expectNoSecret(err);
  });

  it('connection refused → retried once, then BackendError without the URL', async () => {
    const url = await deadUrl(HOOK_PATH);
    const n = create({ url, timeoutMs: 1_000 }, ctx);
    const t0 = Date.now();
    const err = await failure(n.send(notice()));
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(err.message).toMatch(/ECONNREFUSED/);
    expect(err.message).toMatch(/after 2 attempts/);
    expect(err.message).not.toContain(url);
    expect(err.message).not.toContain(TOKEN);
  });
});
