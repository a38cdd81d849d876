/** Bulk turn-off (rollback of many flags) against the real Unleash, and the runner's fallback. */
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { create } from '../../src/adapters/flags/unleash.js';
import type { AdapterContext } from '../../src/adapters/types.js';

const ctx: AdapterContext = { baseDir: process.cwd(), cwd: process.cwd(), log: () => undefined, env: process.env };

describe('unleash disableMany', () => {
  it('turns every flag off in bulk and keeps their strategies', async () => {
    const b = create({ url: inject('unleashUrl'), token: inject('unleashAdminToken'), create: true, environment: 'development' }, ctx);
    const tag = randomBytes(3).toString('hex');
    const flags = Array.from({ length: 30 }, (_, i) => `bulk-${tag}-${i}`);
    for (const flag of flags) await b.apply({ flag, enabled: true, percentage: 30 });
    expect((await b.read(flags[7]!)).enabled).toBe(true);
    await b.disableMany!(flags);
    for (const flag of flags) {
      const s = await b.read(flag);
      expect(s.enabled).toBe(false);
      expect(s.exists).toBe(true);
    }
    // Idempotent: again is fine.
    await b.disableMany!(flags);
  }, 120_000);

  it('a flag unknown to Unleash fails the bulk call with its message (the runner then writes flags one by one)', async () => {
    const b = create({ url: inject('unleashUrl'), token: inject('unleashAdminToken'), environment: 'development' }, ctx);
    await expect(b.disableMany!([`missing-${randomBytes(3).toString('hex')}`])).rejects.toThrow(/unleash \(http:\/\/127\.0\.0\.1:\d+\)/);
  });
});
