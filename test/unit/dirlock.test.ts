import { mkdir, mkdtemp, rm, utimes, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withDirLock } from '../../src/util/dirlock.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'dirlock-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const opts = { staleMs: 1_000, waitMs: 10_000, busy: () => new Error('busy') };
/** A lock directory left by a holder that died `ageMs` ago. */
async function leftover(dir: string, ageMs: number) {
  await mkdir(dir);
  const t = new Date(Date.now() - ageMs);
  await utimes(dir, t, t);
}

describe('withDirLock', () => {
  it('one holder at a time among many contenders', async () => {
    const dir = join(root, 'lock');
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 20 }, () =>
        withDirLock(dir, opts, async () => {
          most = Math.max(most, ++inside);
          await sleep(2);
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
    await expect(stat(dir)).rejects.toThrow();
  });

  it('a stale lock is broken once: contenders that all saw it stale never share the lock', async () => {
    for (let round = 0; round < 5; round++) {
      const dir = join(root, `stale-${round}`);
      await leftover(dir, 60_000);
      let inside = 0;
      let most = 0;
      let ran = 0;
      await Promise.all(
        Array.from({ length: 20 }, () =>
          withDirLock(dir, opts, async () => {
            most = Math.max(most, ++inside);
            ran++;
            await sleep(5);
            inside--;
          }),
        ),
      );
      expect(ran).toBe(20);
      expect(most).toBe(1);
    }
  });

  it('a fresh lock is not broken: the waiter gives up with busy()', async () => {
    const dir = join(root, 'fresh');
    await mkdir(dir);
    await expect(withDirLock(dir, { ...opts, waitMs: 300 }, async () => 1)).rejects.toThrow('busy');
    expect((await stat(dir)).isDirectory()).toBe(true);
  });

  it('a breaker that died is cleared after staleMs too', async () => {
    const dir = join(root, 'l');
    await leftover(dir, 60_000);
    await leftover(`${dir}.break`, 60_000);
    expect(await withDirLock(dir, opts, async () => 'got it')).toBe('got it');
  });
});
