/**
 * `rollout serve` and `rollout report` in a real browser (Debian's chromium via playwright-core):
 * the dashboard lists runs; a run page draws its charts with the threshold line; a CLI pause
 * shows on the open page within a second; approve is refused without the token and works with
 * it; the report file draws the same charts with every network request blocked; no secret of
 * a plan reaches a page, an API answer, /metrics or the report. Screenshots: test-artifacts/.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { cli, tempDir, write } from '../cli/helpers.js';
import { startedBy } from '../../src/runner/session.js';
import { ARTIFACTS, launchBrowser, startServe, type Served } from './helpers.js';

const SECRET = 'hook-secret-7c1f0e9a2b';
const TOKEN = 'serve-token-5d2e8a71c9f04b36';

const planA = `name: webshop
backend: { type: local }
metrics:
  sim: { type: simulated, series: { errors: 0.4 } }
defaults: { hold: 1h, interval: 1s, maxJump: 100 }
checks:
  - { name: errors, provider: sim, query: errors, max: 5, unit: '%', tier: critical }
phases:
  - { name: main, flags: [shop-v2], steps: [10, 50, 100] }
notify:
  targets:
    hook: { type: webhook, url: "http://127.0.0.1:9/hook?token=\${HOOK_TOKEN}", headers: { Authorization: "Bearer \${HOOK_TOKEN}" } }
`;
const planB = `name: gated
backend: { type: local }
metrics:
  sim: { type: simulated, series: { latency: 120 } }
defaults: { hold: 1h, interval: 1s, maxJump: 100 }
checks:
  - { name: latency, provider: sim, query: latency, max: 300, unit: ms, tier: warning }
phases:
  - { name: beta, flags: [gated-flag], approval: { message: "go for beta?" }, steps: [20, 100] }
`;

const planQ = `name: quorum
backend: { type: local }
defaults: { hold: 1h, interval: 1s, maxJump: 100 }
phases:
  - { name: ga, flags: [q-flag], approval: { message: "two sign-offs", approvers: [alice, bob, carol], quorum: 2 }, steps: [30, 100] }
`;

const planC = `name: checked
backend: { type: local }
defaults: { hold: 1h, interval: 1s, maxJump: 100 }
phases:
  - name: core
    flags: [c-flag]
    checklist:
      - { id: staging-tests, text: All tests passing in staging }
      - { id: oncall-briefed, text: On-call team briefed }
    steps: [10, 100]
`;

/** Pixels of the threshold colour (#d62728) in a chart's canvas. */
async function thresholdPixels(page: Page, chartId: string): Promise<number> {
  return page.evaluate((id) => {
    const c = document.querySelector(`#${CSS.escape(id)} canvas`) as HTMLCanvasElement | null;
    if (!c) return -1;
    const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i]! - 214) < 24 && Math.abs(d[i + 1]! - 39) < 30 && Math.abs(d[i + 2]! - 40) < 30 && d[i + 3]! > 200) n++;
    return n;
  }, chartId);
}

describe('rollout serve and report in chromium', () => {
  const runId = async (plan: string) => ((await (await fetch(served.url + '/api/runs/' + plan)).json()) as { run: string }).run;
  let dir: string;
  let cleanup: () => Promise<void>;
  let served: Served;
  let browser: Awaited<ReturnType<typeof launchBrowser>>;
  const env = { HOOK_TOKEN: SECRET };

  beforeAll(async () => {
    ({ dir, cleanup } = await tempDir());
    await write(dir, 'a.yaml', planA);
    await write(dir, 'b.yaml', planB);
    await write(dir, 'q.yaml', planQ);
    await write(dir, 'c.yaml', planC);
    expect((await cli(['advance', 'c.yaml'], { cwd: dir, env })).code).toBe(4); // waits at its checklist
    expect((await cli(['advance', 'a.yaml'], { cwd: dir, env })).code).toBe(6); // 10% applied, holding 1h
    expect((await cli(['advance', 'q.yaml'], { cwd: dir, env })).code).toBe(4);
    expect((await cli(['advance', 'b.yaml'], { cwd: dir, env })).code).toBe(4); // waits at its gate
    served = await startServe(dir, { ...env, ROLLOUT_SERVE_TOKEN: TOKEN });
    browser = await launchBrowser();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await served?.stop();
    await cleanup?.();
  });

  it('lists every run on the dashboard', async () => {
    const page = await browser.context.newPage();
    await page.goto(served.url + '/');
    await page.waitForSelector('body[data-ready="1"]');
    const rows = await page.$$eval('#runs tr', (trs) => trs.map((t) => t.textContent ?? ''));
    expect(rows).toHaveLength(4);
    expect(rows.join('\n')).toMatch(/checked[\s\S]*awaiting-approval[\s\S]*checklist for phase core: 0 of 2 confirmed/);
    expect(rows.join('\n')).toMatch(/webshop[\s\S]*running[\s\S]*shop-v2 10%/);
    expect(rows.join('\n')).toMatch(/gated[\s\S]*awaiting-approval/);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    await page.close();
  });

  it('draws the run page charts with the threshold line, and shows a CLI pause within a second', async () => {
    const page = await browser.context.newPage();
    await page.goto(served.url + '/runs/webshop');
    await page.waitForSelector('body[data-ready="1"]');
    await page.waitForSelector('body[data-live="open"]');
    const charts = await page.evaluate(() => Object.fromEntries(Object.entries((window as never as { __rolloutCharts: Record<string, { series: string[]; points: number; threshold?: boolean }> }).__rolloutCharts).map(([k, v]) => [k, { series: v.series, points: v.points, threshold: v.threshold }])));
    expect(charts.flags!.series).toEqual(['shop-v2 %']);
    expect(charts['check:errors']).toMatchObject({ threshold: true, series: ['errors (%)', 'max 5%'] });
    expect(await thresholdPixels(page, 'chart-check-errors')).toBeGreaterThan(100);
    await page.screenshot({ path: join(ARTIFACTS, 'run-page.png'), fullPage: true });

    const r = await cli(['pause', 'webshop', '--reason', 'looking at a spike'], { cwd: dir, env });
    expect(r.code).toBe(0);
    const t0 = Date.now();
    await page.waitForSelector('#root[data-status="paused"]', { timeout: 1000 });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await page.textContent('#root')).toContain('looking at a spike');
    await page.screenshot({ path: join(ARTIFACTS, 'run-page-paused.png'), fullPage: true });
    await page.close();
  });

  it('refuses approve without the token (401, nothing changed) and approves with it', async () => {
    const page = await browser.context.newPage();
    await page.goto(served.url + '/runs/gated');
    await page.waitForSelector('body[data-live="open"]');
    await page.fill('#token', '');
    await page.click('#btn-approve');
    await page.waitForSelector('#action-result[data-http="401"]');
    const still = (await (await fetch(served.url + '/api/runs/gated')).json()) as { status: string };
    expect(still.status).toBe('awaiting-approval');
    const log1 = await cli(['log', 'gated', '--json'], { cwd: dir, env });
    expect(log1.stdout).not.toContain('approval.granted');

    await page.fill('#token', TOKEN);
    await page.fill('#by', 'tester');
    await page.click('#btn-approve');
    await page.waitForSelector('#action-result[data-http="200"]', { timeout: 15_000 });
    await page.waitForSelector('#root[data-status="running"]', { timeout: 2000 });
    const log2 = JSON.parse((await cli(['log', 'gated', '--json'], { cwd: dir, env })).stdout) as { events: Array<{ type: string; data?: { by?: string } }> };
    expect(log2.events.find((e) => e.type === 'approval.granted')?.data?.by).toBe('tester (rollout serve)');
    await page.screenshot({ path: join(ARTIFACTS, 'run-page-approved.png'), fullPage: true });
    await page.close();
  });

  it('signs a named-approver gate from the page as the name given, and shows who has signed', async () => {
    const approve = (by: string) => fetch(served.url + '/api/runs/quorum/approve', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ by }) });
    const first = await approve('alice');
    expect(first.status).toBe(200);
    const page = await browser.context.newPage();
    await page.goto(served.url + '/runs/quorum');
    await page.waitForSelector('body[data-live="open"]');
    expect(await page.textContent('#root')).toMatch(/approvers: alice, bob, carol \(2 must sign\) — signed: alice/);
    expect(((await (await fetch(served.url + '/api/runs/quorum')).json()) as { status: string }).status).toBe('awaiting-approval');
    expect((await approve('mallory')).status).toBe(409); // not an approver: refused, as on the CLI
    expect((await approve('bob')).status).toBe(200);
    await page.waitForSelector('#root[data-status="running"]', { timeout: 2000 });
    expect(await page.textContent('#root')).toMatch(/sign-off: bob/);
    await page.close();
  });

  it('shows the checklist the run waits at and confirms its items from the page (token and name), who and when recorded', async () => {
    const confirm = (body: unknown, token = TOKEN) => fetch(served.url + '/api/runs/checked/confirm', { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
    expect((await confirm({ items: ['staging-tests'], by: 'alice' }, 'wrong')).status).toBe(401);
    const typo = await confirm({ items: ['staging-test'], by: 'alice' });
    expect(typo.status).toBe(409);
    expect(((await typo.json()) as { error: string }).error).toMatch(/did you mean "staging-tests"/);
    expect((await confirm({ items: ['staging-tests'], by: 'alice' })).status).toBe(200);
    const page = await browser.context.newPage();
    await page.goto(served.url + '/runs/checked');
    await page.waitForSelector('body[data-live="open"]');
    expect(await page.textContent('tr[data-item="staging-tests"]')).toMatch(/☑staging-tests: All tests passing in stagingalice/);
    expect(await page.textContent('#root')).toMatch(/1 of 2 confirmed — ☑ staging-tests \(alice\) · ☐ oncall-briefed/);
    await page.fill('#token', TOKEN);
    await page.fill('#by', 'bob');
    await page.click('#confirm-oncall-briefed');
    await page.waitForSelector('#action-result[data-http="200"]', { timeout: 15_000 });
    await page.waitForSelector('#root[data-status="running"]', { timeout: 5000 });
    const log = JSON.parse((await cli(['log', 'checked', '--json'], { cwd: dir, env })).stdout) as { events: Array<{ type: string; data?: { name?: string; by?: string } }> };
    expect(log.events.filter((e) => e.type === 'checklist.confirmed').map((e) => [e.data?.name, e.data?.by])).toEqual([
      ['alice', 'alice (rollout serve)'],
      ['bob', 'bob (rollout serve)'],
    ]);
    await page.screenshot({ path: join(ARTIFACTS, 'run-page-checklist.png'), fullPage: true });
    await page.close();
  });

  it('updates a dashboard row within a second of a change made from the CLI', async () => {
    const page = await browser.context.newPage();
    await page.goto(served.url + '/');
    await page.waitForSelector('body[data-live="open"]');
    expect(await page.getAttribute('#run-' + (await runId('webshop')) + ' .badge', 'data-status')).toBe('paused');
    const r = await cli(['resume', 'webshop', '--detach'], { cwd: dir, env });
    expect(r.code, r.stderr).not.toBe(1);
    const t0 = Date.now();
    await page.waitForSelector(`#run-${await runId('webshop')} [data-status="running"]`, { timeout: 1000 });
    expect(Date.now() - t0).toBeLessThan(1000);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-live.png'), fullPage: true });
    await page.close();
  });

  it('opens the report file offline and draws the same charts', async () => {
    const out = join(dir, 'report.html');
    expect((await cli(['report', 'webshop', '--out', out], { cwd: dir, env })).code).toBe(0);
    const page = await browser.context.newPage();
    const requests: string[] = [];
    await page.route('**/*', (route) => (route.request().url().startsWith('file:') ? route.continue() : route.abort()));
    page.on('request', (r) => requests.push(r.url()));
    await browser.context.setOffline(true);
    try {
      await page.goto('file://' + out);
      await page.waitForSelector('body[data-ready="1"]');
      expect(requests.filter((u) => !u.startsWith('file:'))).toEqual([]);
      const series = await page.evaluate(() => (window as never as { __rolloutCharts: Record<string, { series: string[] }> }).__rolloutCharts['check:errors']?.series);
      expect(series).toEqual(['errors (%)', 'max 5%']);
      expect(await thresholdPixels(page, 'chart-check-errors')).toBeGreaterThan(100);
      expect(await page.textContent('#log')).toContain('run.paused');
      // Issue 13: the header says who started the run (`advance` here, as a CI job would).
      const starter = startedBy({ ...process.env, ...env });
      expect(await page.$$eval('table.kv tr', (trs) => trs.map((t) => t.textContent ?? '').find((t) => t.startsWith('started')))).toContain(` by ${starter}`);
      await page.screenshot({ path: join(ARTIFACTS, 'report-offline.png'), fullPage: true });
    } finally {
      await browser.context.setOffline(false);
      await page.close();
    }
  });

  it('never shows a secret: pages, API answers, /metrics, the report', async () => {
    const bodies: string[] = [];
    for (const p of ['/', '/runs/webshop', '/runs/gated', '/api/runs', '/api/runs/webshop', '/api/runs/webshop/events', '/api/runs/webshop/report', '/api/runs/webshop/report.html', '/api/flags', '/metrics']) {
      const res = await fetch(served.url + p);
      expect(res.status, p).toBe(200);
      bodies.push(await res.text());
    }
    bodies.push(await readFile(join(dir, 'report.html'), 'utf8'));
    // The notice to the webhook failed (nothing listens there): its error is in the log, redacted.
    expect(bodies.join('\n')).toContain('notify.');
    for (const b of bodies) {
      expect(b).not.toContain(SECRET);
      expect(b).not.toContain(TOKEN);
    }
  });

  it('answers 401 to a wrong token and 404 to an unknown action, changing nothing', async () => {
    const before = await (await fetch(served.url + '/api/runs/webshop')).json();
    const wrong = await fetch(served.url + '/api/runs/webshop/resume', { method: 'POST', headers: { authorization: 'Bearer not-the-token' } });
    expect(wrong.status).toBe(401);
    const none = await fetch(served.url + '/api/runs/webshop/rollback', { method: 'POST', body: '{"reason":"x"}' });
    expect(none.status).toBe(401);
    const unknown = await fetch(served.url + '/api/runs/webshop/delete', { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(unknown.status).toBe(404);
    expect(await (await fetch(served.url + '/api/runs/webshop')).json()).toEqual(before);
  });
});

describe('rollout serve without ROLLOUT_SERVE_TOKEN', () => {
  it('is read-only and says so, on the page and to the API', async () => {
    const { dir, cleanup } = await tempDir();
    let served: Served | undefined;
    let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
    try {
      await write(dir, 'b.yaml', planB);
      expect((await cli(['advance', 'b.yaml'], { cwd: dir })).code).toBe(4);
      served = await startServe(dir, {});
      const res = await fetch(served.url + '/api/runs/gated/approve', { method: 'POST', headers: { authorization: 'Bearer anything' } });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: string }).error).toMatch(/read-only/);
      browser = await launchBrowser();
      const page = await browser.context.newPage();
      await page.goto(served.url + '/runs/gated');
      await page.waitForSelector('#readonly');
      expect(await page.$('#btn-approve')).toBeNull();
      expect(((await (await fetch(served.url + '/api/runs/gated')).json()) as { status: string }).status).toBe('awaiting-approval');
    } finally {
      await browser?.close();
      await served?.stop();
      await cleanup();
    }
  });
});

describe('rollout serve --worker', () => {
  // Holds of an hour: nothing moves by itself while the test runs, however slow the machine;
  // each step is the page's promote, carried out by the worker that holds the run.
  it('drives the runs itself: pause, resume and promote from the page reach its worker', async () => {
    const { dir, cleanup } = await tempDir();
    let served: Served | undefined;
    let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
    try {
      await write(dir, 'w.yaml', `name: worked\nbackend: { type: local }\ndefaults: { hold: 1h, interval: 200ms, maxJump: 100 }\nphases:\n  - { name: main, flags: [w-flag], steps: [10, 50, 100] }\n`);
      expect((await cli(['advance', 'w.yaml'], { cwd: dir })).code).toBe(6); // started at 10%; nobody drives it
      served = await startServe(dir, { ROLLOUT_SERVE_TOKEN: TOKEN }, ['--worker']);
      const api = async () => (await (await fetch(served!.url + '/api/runs/worked')).json()) as { status: string; reason: string | null; driver: { pid: number } | null; flags: Record<string, { percentage: number }> };
      // The worker picks the run up (its lease makes it the run's driver).
      for (let i = 0; i < 100 && !(await api()).driver; i++) await new Promise((r) => setTimeout(r, 100));
      expect((await api()).driver).not.toBeNull();
      browser = await launchBrowser();
      const page = await browser.context.newPage();
      page.on('dialog', (d) => void d.accept('checking dashboards'));
      await page.goto(served.url + '/runs/worked');
      await page.waitForSelector('body[data-live="open"]');
      await page.fill('#token', TOKEN);
      const act = async (name: string, expectStatus: string, pct: number) => {
        await page.click('#btn-' + name);
        await page.waitForSelector(`#action-result[data-http="200"]:has-text("${name}: ")`, { timeout: 30_000 });
        await page.waitForSelector(`#root[data-status="${expectStatus}"]`, { timeout: 10_000 });
        // The page answers when the worker took the request; the flag write it leads to (promote:
        // the next step) may land a tick later, so wait for it, bounded.
        for (let i = 0; i < 100 && (await api()).flags['w-flag']?.percentage !== pct; i++) await new Promise((r) => setTimeout(r, 100));
        expect((await api()).flags['w-flag']?.percentage).toBe(pct);
      };
      await act('pause', 'paused', 10);
      expect((await api()).reason).toContain('checking dashboards');
      await act('resume', 'running', 10);
      await act('promote', 'running', 50);
      await page.waitForSelector('#root:has-text("w-flag 50%")', { timeout: 10_000 });
      await page.screenshot({ path: join(ARTIFACTS, 'run-page-worker.png'), fullPage: true });
      const log = JSON.parse((await cli(['log', 'worked', '--json'], { cwd: dir })).stdout) as { events: Array<{ type: string; msg: string }> };
      expect(log.events.map((e) => e.type)).toEqual(expect.arrayContaining(['run.paused', 'run.resumed', 'run.promoted']));
    } finally {
      await browser?.close();
      await served?.stop();
      await cleanup();
    }
  }, 90_000);
});
