/**
 * The report of a run with pages, opened offline in a real browser (Debian's chromium via
 * playwright-core): the Pages table says who was paged in order, and who acknowledged.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/runner/clock.js';
import { run, tempDir, write } from '../cli/helpers.js';
import { launchBrowser } from './helpers.js';

const plan = `name: paged
backend: { type: local }
metrics:
  sim: { type: simulated, series: { errors: 9 } }
defaults: { hold: 1h, interval: 1m, maxJump: 100 }
checks:
  - { name: errors, provider: sim, query: errors, max: 5, tier: critical, action: pause, severity: P0 }
phases:
  - { name: main, flags: [paged-flag], steps: [10, 100] }
notify:
  targets: { oncall: { type: log }, cto: { type: log } }
  escalation:
    P0: { ackWithin: 15m, chain: [oncall, cto] }
`;

describe('report: pages', () => {
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => browser?.close());

  it('lists each page: who was paged in order, and who acknowledged it', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      await write(dir, 'paged.yaml', plan);
      const clock = new VirtualClock(Date.parse('2026-03-02T09:00:00Z'));
      const opts = { cwd: dir, clock };
      expect((await run(['advance', 'paged.yaml'], opts)).code).toBe(4);
      clock.t += 16 * 60_000;
      expect((await run(['advance', 'paged'], opts)).code).toBe(4);
      expect((await run(['ack', 'paged', '--as', 'erin', '--note', 'mitigating'], opts)).code).toBe(0);
      const out = join(dir, 'report.html');
      expect((await run(['report', 'paged', '--out', out], opts)).code).toBe(0);
      const page = await browser.context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      try {
        await page.goto('file://' + out);
        await page.waitForSelector('body[data-ready="1"]');
        const text = (await page.textContent('#pages')) ?? '';
        expect(text).toMatch(/P0/);
        expect(text).toMatch(/oncall 2026-03-02 09:00:00Z → cto 2026-03-02 09:16:00Z/);
        expect(text).toMatch(/acknowledged by erin at 2026-03-02 09:16:00Z: mitigating/);
        expect(errors).toEqual([]);
      } finally {
        await page.close();
      }
    } finally {
      await cleanup();
    }
  });
});
