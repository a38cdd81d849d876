/** For serve/report tests: a `rollout serve` child on a free port, and Debian's chromium via playwright-core. */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { BIN } from '../cli/helpers.js';

export const ARTIFACTS = resolve(import.meta.dirname, '../../test-artifacts');
export const CHROMIUM = process.env.ROLLOUT_CHROMIUM ?? '/usr/bin/chromium';

export interface Served {
  url: string;
  child: ResultPromise;
  stop(): Promise<void>;
}

/** `rollout serve --port 0` in `cwd`; resolves with its URL once it listens. */
export async function startServe(cwd: string, env: Record<string, string> = {}, args: string[] = []): Promise<Served> {
  const child = execa('node', [BIN, 'serve', '--port', '0', '--json', ...args], { cwd, env: { NO_COLOR: '1', CI: '1', ...env }, reject: false, stdin: 'ignore', buffer: false });
  const url = await new Promise<string>((ok, fail) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error(`rollout serve did not start in 15 s: ${out}`)), 15_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"url":"([^"]+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    });
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    void child.then((r) => {
      clearTimeout(timer);
      fail(new Error(`rollout serve exited ${r.exitCode}: ${out}`));
    });
  });
  return {
    url,
    child,
    async stop() {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await child;
      clearTimeout(t);
    },
  };
}

/** Headless chromium with a fresh profile; never downloads a browser. */
export async function launchBrowser() {
  const { chromium } = await import('playwright-core');
  const profile = await mkdtemp(join(tmpdir(), 'rollout-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1200, height: 900 },
  });
  await mkdir(ARTIFACTS, { recursive: true });
  return {
    context,
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}
