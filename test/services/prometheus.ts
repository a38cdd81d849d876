/**
 * A throwaway Prometheus: generated config (scrape and evaluation every 1 s), fresh TSDB dir,
 * 127.0.0.1:PORT. Ready means /-/ready answers AND every target has been scraped successfully
 * once (`up == 1`), which takes 5–6 s after start (target discovery is throttled to 5 s inside
 * Prometheus): start it once per test run.
 */
import { access, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { cleanupAll, freePort, onProcessExit, probeHttp, removeDir, removeDirSync, spawnChild, tempDir, waitFor } from './util.js';

export const PROMETHEUS_BIN = process.env.ROLLOUT_PROMETHEUS_BIN ?? '/usr/bin/prometheus';

export interface Prometheus {
  /** http://127.0.0.1:PORT */
  url: string;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** Extra command-line flags, e.g. --web.enable-remote-write-receiver. */
  extraArgs?: string[];
  /** Called with the TSDB dir before start (e.g. to backfill with promtool). */
  beforeStart?: (dataDir: string) => Promise<void>;
  /** Bound for the whole start, ms (default 30 s). */
  timeoutMs?: number;
}

export async function startPrometheus(targets: string[], opts: PrometheusOptions = {}): Promise<Prometheus> {
  try {
    await access(PROMETHEUS_BIN, constants.X_OK);
  } catch {
    throw new Error(`prometheus not found at ${PROMETHEUS_BIN}: \`npm test\` installs it as root on Debian, else run: sudo apt-get install -y --no-install-recommends prometheus`);
  }
  for (const t of targets) if (!/^[\w.-]+:\d+$/.test(t)) throw new Error(`prometheus: bad target ${JSON.stringify(t)} (want host:port)`);

  const dir = await tempDir('prom');
  const data = join(dir, 'data');
  const unhookDir = onProcessExit(() => removeDirSync(dir));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'scrape_configs:',
    '  - job_name: rollout-test',
    '    static_configs:',
    `      - targets: [${targets.map((t) => `'${t}'`).join(', ')}]`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'prometheus.yml'), config);

  let child: ReturnType<typeof spawnChild> | undefined;
  const stop = () => cleanupAll([() => child?.stop(5000), () => removeDir(dir), () => void unhookDir()]);
  try {
    await opts.beforeStart?.(data);
    child = spawnChild(PROMETHEUS_BIN, [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${data}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      ...(opts.extraArgs ?? []),
    ]);
    const c = child;
    const abort = () => (c.exited() ? `prometheus ${c.exited()}\n${c.tail}` : undefined);
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const t0 = Date.now();
    await waitFor('prometheus /-/ready', async () => ((await probeHttp(`${url}/-/ready`, 1000)).status === 200 ? true : undefined), {
      timeoutMs,
      abort,
    });
    if (targets.length) {
      await waitFor(
        `prometheus: first successful scrape of ${targets.join(', ')}`,
        async () => {
          const r = await probeHttp(`${url}/api/v1/query?query=${encodeURIComponent('up == 1')}`, 1000);
          if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.text.slice(0, 200)}`);
          const body = JSON.parse(r.text) as { data?: { result?: unknown[] } };
          const n = body.data?.result?.length ?? 0;
          if (n >= targets.length) return true;
          throw new Error(`${n}/${targets.length} targets up`);
        },
        { timeoutMs: Math.max(1000, timeoutMs - (Date.now() - t0)), intervalMs: 200, abort },
      );
    }
  } catch (err) {
    const tail = child?.tail.toString();
    await stop().catch(() => undefined);
    const msg = (err as Error).message;
    throw new Error(`prometheus failed to start: ${msg}${tail && !msg.includes(tail) ? `\n${tail.slice(-1500)}` : ''}`);
  }
  return { url, stop };
}
