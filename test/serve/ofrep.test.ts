/**
 * OFREP on `rollout serve`, read by the official OpenFeature client: @openfeature/ofrep-provider
 * with @openfeature/server-sdk. 10,000 users get the answer `rollout evaluate` gives; a
 * percentage change made by rollout's own flag writer is seen by a polling client; the bulk
 * endpoint answers 304 to an unchanged ETag; the spec's error codes.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenFeature, type Client } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';
import { create, evaluate, readStore } from '../../src/adapters/flags/local.js';
import type { FlagBackend } from '../../src/adapters/types.js';
import { FileStore } from '../../src/state/file.js';
import { serve, type Serving } from '../../src/serve/server.js';
import { cli, tempDir } from '../cli/helpers.js';

describe('OFREP on rollout serve, through the OpenFeature SDK', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let s: Serving;
  let flags: FlagBackend;
  let client: Client;
  const file = () => join(dir, '.rollout', 'flags.json');

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    flags = create({ path: join(dir, '.rollout', 'flags.json') }, { baseDir: dir, cwd: dir, log: () => undefined, env: process.env });
    await flags.apply({ flag: 'checkout-v2', enabled: true, percentage: 37 });
    await flags.apply({ flag: 'search-v3', enabled: true, percentage: 5, rings: { internal: 100, beta: 50 } });
    await flags.apply({ flag: 'vip-only', enabled: true, percentage: 0, users: ['vip-1', 'vip-2'] });
    await flags.apply({ flag: 'dark', enabled: false, percentage: 0 });
    s = await serve({ store: new FileStore(join(dir, '.rollout')), context: { cwd: dir, stateDir: '.rollout', debug: false, interactive: false }, flagStore: file(), port: 0 });
    await OpenFeature.setProviderAndWait(new OFREPProvider({ baseUrl: s.url }));
    client = OpenFeature.getClient();
  }, 30_000);
  afterAll(async () => {
    await OpenFeature.close();
    await s?.close();
    await cleanup?.();
  });

  it('gives 10,000 users the answer `rollout evaluate` gives', async () => {
    const store = await readStore(file());
    let on = 0;
    const mismatches: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const key = `user-${i}`;
      const flag = ['checkout-v2', 'search-v3', 'vip-only', 'dark'][i % 4]!;
      const ring = flag === 'search-v3' && i % 3 === 0 ? 'beta' : undefined;
      const want = evaluate(flag, store[flag], key, { ring }).enabled;
      const got = await client.getBooleanDetails(flag, !want, { targetingKey: key, ...(ring ? { ring } : {}) });
      if (got.errorCode) mismatches.push(`${flag} ${key}: ${got.errorCode} ${got.errorMessage}`);
      else if (got.value !== want) mismatches.push(`${flag} ${key}: got ${got.value}, want ${want}`);
      if (got.value) on++;
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
    expect(on).toBeGreaterThan(500); // the comparison saw both answers
    // And the CLI itself, for a few of them.
    for (const key of ['user-0', 'user-4', 'user-8', 'user-12']) {
      const r = JSON.parse((await cli(['evaluate', 'checkout-v2', '--key', key, '--json'], { cwd: dir })).stdout) as { enabled: boolean };
      expect((await client.getBooleanDetails('checkout-v2', !r.enabled, { targetingKey: key })).value).toBe(r.enabled);
    }
  }, 120_000);

  it('says why: SPLIT, TARGETING_MATCH, DISABLED, with variant and percentage', async () => {
    expect(await client.getBooleanDetails('vip-only', false, { targetingKey: 'vip-1' })).toMatchObject({ value: true, reason: 'TARGETING_MATCH', variant: 'on' });
    expect(await client.getBooleanDetails('dark', true, { targetingKey: 'u' })).toMatchObject({ value: false, reason: 'DISABLED', variant: 'off' });
    expect(await client.getBooleanDetails('checkout-v2', false, { targetingKey: 'u' })).toMatchObject({ reason: 'SPLIT', flagMetadata: { percentage: 37 } });
  });

  it('answers with the spec error codes', async () => {
    expect(await client.getBooleanDetails('no-such-flag', true, { targetingKey: 'u' })).toMatchObject({ value: true, errorCode: 'FLAG_NOT_FOUND' });
    expect(await client.getBooleanDetails('checkout-v2', true, {})).toMatchObject({ value: true, errorCode: 'TARGETING_KEY_MISSING' });
    const bad = await fetch(`${s.url}/ofrep/v1/evaluate/flags/checkout-v2`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"context": ' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ key: 'checkout-v2', errorCode: 'PARSE_ERROR' });
    const badBulk = await fetch(`${s.url}/ofrep/v1/evaluate/flags`, { method: 'POST', body: '[1]' });
    expect(badBulk.status).toBe(400);
    expect(await badBulk.json()).toMatchObject({ errorCode: 'PARSE_ERROR' });
    const ok = await fetch(`${s.url}/ofrep/v1/evaluate/flags/dark`, { method: 'POST', body: '{"context":{"targetingKey":"u"}}' });
    expect(ok.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await ok.json()).toHaveProperty('value', false);
  });

  it('a polling client sees a percentage change made by rollout', async () => {
    // A user who is out at 37% and in at 80%.
    let key = '';
    for (let i = 0; i < 1000 && !key; i++) if (!evaluate('checkout-v2', { enabled: true, percentage: 37, updatedAt: '' }, `p-${i}`).enabled && evaluate('checkout-v2', { enabled: true, percentage: 80, updatedAt: '' }, `p-${i}`).enabled) key = `p-${i}`;
    expect(key).not.toBe('');
    expect(await client.getBooleanValue('checkout-v2', true, { targetingKey: key })).toBe(false);
    await flags.apply({ flag: 'checkout-v2', enabled: true, percentage: 80 });
    let seen = false;
    for (let i = 0; i < 20 && !seen; i++) {
      seen = await client.getBooleanValue('checkout-v2', false, { targetingKey: key });
      if (!seen) await new Promise((r) => setTimeout(r, 100)); // the client's poll interval
    }
    expect(seen).toBe(true);
    await flags.apply({ flag: 'checkout-v2', enabled: true, percentage: 37 });
  });

  it('bulk: ETag, 304 on If-None-Match while nothing changed, a new ETag after a change', async () => {
    const body = JSON.stringify({ context: { targetingKey: 'user-42' } });
    const first = await fetch(`${s.url}/ofrep/v1/evaluate/flags`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(first.status).toBe(200);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^".+"$/);
    const all = (await first.json()) as { flags: Array<{ key: string; value?: boolean; errorCode?: string }> };
    expect(all.flags.map((f) => f.key)).toEqual(['checkout-v2', 'dark', 'search-v3', 'vip-only']);
    const store = await readStore(file());
    for (const f of all.flags) expect(f.value).toBe(evaluate(f.key, store[f.key], 'user-42').enabled);

    const again = await fetch(`${s.url}/ofrep/v1/evaluate/flags`, { method: 'POST', headers: { 'content-type': 'application/json', 'if-none-match': etag }, body });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    // Another user's answer has another ETag.
    const other = await fetch(`${s.url}/ofrep/v1/evaluate/flags`, { method: 'POST', headers: { 'if-none-match': etag }, body: JSON.stringify({ context: { targetingKey: 'user-43' } }) });
    expect(other.status).toBe(200);

    await flags.apply({ flag: 'dark', enabled: true, percentage: 10 });
    const changed = await fetch(`${s.url}/ofrep/v1/evaluate/flags`, { method: 'POST', headers: { 'if-none-match': etag }, body });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
  });
});
