import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { create, options } from '../../src/adapters/notify/webhook.js';
import type { AdapterContext, Notice } from '../../src/adapters/types.js';
import { BackendError } from '../../src/errors.js';
import { renderNotice } from '../../src/util/template.js';
import { startReceiver, type Receiver } from '../fakes/receiver.js';
import { selfSigned, startHttpsServer } from '../fakes/tls.js';

const HOOK_PATH = '/hooks/alerts/9f8e7d6c5b4a3210fedcba98';
const PATH_TOKEN = '9f8e7d6c5b4a3210fedcba98';
const BEARER = 'Bearer s3cr3t-t0ken-abcdef';

let rx: Receiver;
const ctx: AdapterContext = { baseDir: '/tmp', cwd: '/tmp', log: () => {}, env: {} };

beforeAll(async () => {
  rx = await startReceiver();
});
afterAll(async () => {
  await rx.close();
});
afterEach(() => rx.reset());

const vars = { plan: 'checkout', run: 'r-7', phase: 'ga', flags: 'new_checkout', percentage: 50, nextPercentage: 75, nextAt: '09:00', checks: 'ok' };

async function failure(p: Promise<unknown>): Promise<BackendError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BackendError);
  return err as BackendError;
}

function expectNoSecret(err: BackendError): void {
  for (const s of [err.message, err.hint ?? '', String(err)]) {
    expect(s).not.toContain(PATH_TOKEN);
    expect(s).not.toContain(HOOK_PATH);
    expect(s).not.toContain('s3cr3t-t0ken-abcdef');
  }
}

describe('webhook notifier', () => {
  it('options: strict, defaults POST / 5 s / no headers; PUT allowed, PATCH not', () => {
    expect(options.parse({ url: 'https://x.example/h' })).toEqual({ url: 'https://x.example/h', headers: {}, method: 'POST', timeoutMs: 5000, insecureTls: false });
    expect(options.safeParse({ url: 'https://x.example/h', method: 'PUT' }).success).toBe(true);
    expect(options.safeParse({ url: 'https://x.example/h', method: 'PATCH' }).success).toBe(false);
    expect(options.safeParse({ url: 'https://x.example/h', type: 'webhook' }).success).toBe(false);
    expect(options.safeParse({ url: 'https://x.example/h', headers: { a: 1 } }).success).toBe(false);
  });

  it('POSTs the notice as JSON {event, severity, title, text, fields} with the headers', async () => {
    const n = create({ url: rx.url(HOOK_PATH), headers: { Authorization: BEARER, 'X-Team': 'payments' } }, ctx);
    expect(n.name).toBe(`webhook (127.0.0.1:${rx.port})`);
    const nt = renderNotice('step.applied', vars);
    await n.send(nt);
    const r = rx.requests[0]!;
    expect(r.method).toBe('POST');
    expect(r.path).toBe(HOOK_PATH);
    expect(r.headers.authorization).toBe(BEARER);
    expect(r.headers['x-team']).toBe('payments');
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(r.body).toEqual({ event: nt.event, severity: nt.severity, title: nt.title, text: nt.text, fields: nt.fields });
    expect((r.body as Notice).text).toContain('Current: 50% enabled');
    expect((r.body as Notice).fields.percentage).toBe(50);
  });

  it('PUT when configured', async () => {
    await create({ url: rx.url(HOOK_PATH), method: 'PUT' }, ctx).send(renderNotice('run.completed', vars));
    expect(rx.requests[0]!.method).toBe('PUT');
    expect((rx.requests[0]!.body as Notice).event).toBe('run.completed');
  });

  it('server echoing the Authorization header in its error → redacted; status and message kept', async () => {
    rx.respond = (req) => ({ status: 401, body: JSON.stringify({ error: `invalid credentials: ${String(req.headers.authorization)}` }), headers: { 'content-type': 'application/json' } });
    const err = await failure(create({ url: rx.url(HOOK_PATH), headers: { Authorization: BEARER } }, ctx).send(renderNotice('rollback.started', { ...vars, reason: 'x' })));
    expect(err.backend).toBe('webhook');
    expect(err.status).toBe(401);
    expect(err.message).toMatch(/^webhook: HTTP 401: rollback\.started notice not delivered: invalid credentials: \*\*\*/);
    expect(err.hint).toMatch(/credentials/);
    expect(rx.requests).toHaveLength(1);
    expectNoSecret(err);
  });

  it('404 → BackendError with status and a hint naming only the host', async () => {
    rx.mode = 'noService';
    const err = await failure(create({ url: rx.url(HOOK_PATH) }, ctx).send(renderNotice('run.started', vars)));
    expect(err.status).toBe(404);
    expect(err.message).toContain('no_service');
    expect(err.hint).toContain(`127.0.0.1:${rx.port}`);
    expectNoSecret(err);
  });

  it('5xx twice → two attempts, then BackendError', async () => {
    rx.mode = 'error500';
    const err = await failure(create({ url: rx.url(HOOK_PATH) }, ctx).send(renderNotice('run.started', vars)));
    expect(err.status).toBe(500);
    expect(rx.requests).toHaveLength(2);
    expectNoSecret(err);
  });

  it('hang → times out within the bound, one attempt', async () => {
    rx.mode = 'hang';
    const t0 = Date.now();
    const err = await failure(create({ url: rx.url(HOOK_PATH), timeoutMs: 250 }, ctx).send(renderNotice('run.started', vars)));
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(err.message).toMatch(/timed out after 250 ms/);
    expect(rx.requests).toHaveLength(1);
    expectNoSecret(err);
  });
});

const tls = selfSigned();
if (!tls) console.warn('notify-webhook: openssl not available: TLS tests skipped');

describe.skipIf(!tls)('webhook over HTTPS with a self-signed certificate', () => {
  let srv: Awaited<ReturnType<typeof startHttpsServer>>;
  const got: string[] = [];
  beforeAll(async () => {
    srv = await startHttpsServer(tls!, (req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        got.push(body);
        res.writeHead(200).end('ok');
      });
    });
  });
  afterAll(() => srv.close());
  const notice: Notice = { event: 'run.started', severity: 'info', title: 't', text: 'hello', fields: {} };

  it('is refused by default (verification on), delivered with insecureTls: true after a warning', async () => {
    await expect(create({ url: `${srv.url}/hook` }, ctx).send(notice)).rejects.toThrow(/self[- ]signed|certificate/i);
    expect(got).toHaveLength(0);
    const logs: string[] = [];
    const n = create({ url: `${srv.url}/hook`, insecureTls: true }, { ...ctx, log: (m) => logs.push(m) });
    expect(logs.join('\n')).toMatch(/WARNING: webhook \(127\.0\.0\.1:\d+\): TLS certificate verification is OFF/);
    await n.send(notice);
    expect(JSON.parse(got[0]!)).toMatchObject({ event: 'run.started', text: 'hello' });
  });
});
