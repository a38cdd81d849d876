#!/usr/bin/env node
// npm run bench: figures, not assertions. Cold start of `rollout status` / `rollout validate`
// as a ratio to `node -e 0` (target ≤ 2.0×), and the wall time to simulate
// plans/state-persistence.yaml (target < 0.3 s). The live figures (breach→off, 500-flag
// rollback against real Unleash) come from bench/live.bench.test.ts, run after this.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

const root = resolve(import.meta.dirname, '..');
const bin = join(root, 'bin/rollout.js');
const N = Number(process.env.BENCH_RUNS ?? 15);

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
function time(args, cwd) {
  const out = [];
  for (let i = 0; i < N + 2; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { cwd, env: { ...process.env, NO_COLOR: '1', CI: '1' }, stdio: 'ignore' });
    const ms = performance.now() - t0;
    if (r.status !== 0 && r.status !== 6) throw new Error(`${args.join(' ')} exited ${r.status}`);
    if (i >= 2) out.push(ms); // two warm-up runs (disk cache)
  }
  return median(out);
}

const dir = mkdtempSync(join(tmpdir(), 'rollout-bench-'));
try {
  // A run to look at: one `advance` of a plan with a long hold leaves it in progress.
  writeFileSync(
    join(dir, 'plan.yaml'),
    'name: bench\nbackend: { type: local }\ndefaults: { hold: 1h, maxJump: 100 }\nphases:\n  - name: main\n    flags: [bench-flag]\n    steps: [10, 100]\n',
  );
  spawnSync(process.execPath, [bin, 'advance', 'plan.yaml'], { cwd: dir, stdio: 'ignore' });

  const base = time(['-e', '0'], dir);
  const status = time([bin, 'status'], dir);
  const validate = time([bin, 'validate', join(root, 'plans/demo.yaml')], dir);
  const help = time([bin, '--help'], dir);
  console.log('cold start (median of %d, node %s)', N, process.version);
  console.log('  node -e 0                 %s ms', base.toFixed(1));
  console.log('  rollout --help            %s ms  %s× node   (target ≤ 2.0×)', help.toFixed(1), (help / base).toFixed(2));
  console.log('  rollout status            %s ms  %s× node   (target ≤ 2.0×)', status.toFixed(1), (status / base).toFixed(2));
  console.log('  rollout validate demo     %s ms  %s× node   (target ≤ 2.0×)', validate.toFixed(1), (validate / base).toFixed(2));

  // Simulation of the longest seed plan, in-process (what the engine costs) and via the CLI.
  const { loadPlan } = await import(join(root, 'dist/plan/load.js'));
  const { simulatePlan } = await import(join(root, 'dist/runner/simulate.js'));
  const file = join(root, 'plans/state-persistence.yaml');
  const { plan } = await loadPlan(file, { adapters: false });
  const sims = [];
  let r;
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    r = await simulatePlan(plan, { start: Date.parse('2026-12-01T08:00:00Z') });
    sims.push(performance.now() - t0);
  }
  const events = r.events.length;
  const virtual = (r.endedAt - r.startedAt) / 3600_000;
  console.log('simulate plans/state-persistence.yaml');
  console.log('  in-process   %s ms median (target < 300 ms): %s, %d events, %s h of virtual time', median(sims).toFixed(1), r.state.status, events, virtual.toFixed(1));
  const cliSim = time([bin, 'simulate', file], dir);
  console.log('  CLI (spawn)  %s ms median, including start-up', cliSim.toFixed(1));
  const rss = process.memoryUsage().rss / 1024 / 1024;
  console.log('  RSS after %d in-process simulations: %s MiB', sims.length, rss.toFixed(0));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
