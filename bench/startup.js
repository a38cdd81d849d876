#!/usr/bin/env node
// npm run bench:startup — figures, not assertions. How each way of loading the CLI compares
// with `node -e 0` for `validate plans/demo.yaml`, `status` and `--help` (target ≤ 2.0×).
// Runs are interleaved (one of each per round) so a busy machine slows every variant alike.
//
//   tsc output        dist/cli.js as tsc emits it: ~300 ES module files resolved and compiled
//   esm chunks        rolldown, ESM with code splitting: fewer files, each command loads its chunks
//   one file          rolldown, one CommonJS file, compiled from source every time
//   one file + cache  the same file with V8's code cache (what bin/rollout.js ships)
//   snapshot          the one file in a V8 startup snapshot (`node --snapshot-blob`); needs a
//                     node flag, so `node bin/rollout.js` cannot use it — measured to compare
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';

const root = resolve(import.meta.dirname, '..');
const bin = join(root, 'bin/rollout.js');
const N = Number(process.env.BENCH_RUNS ?? 15);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (!existsSync(join(root, 'dist/rollout.cjs'))) {
  console.error('no dist/rollout.cjs: run `npm run build` first');
  process.exit(1);
}
const tmp = mkdtempSync(join(tmpdir(), 'rollout-startup-'));
try {
  // A run to look at: one `advance` of a plan with a long hold leaves it in progress.
  writeFileSync(join(tmp, 'plan.yaml'), 'name: bench\nbackend: { type: local }\ndefaults: { hold: 1h, maxJump: 100 }\nphases:\n  - name: main\n    flags: [bench-flag]\n    steps: [10, 100]\n');
  spawnSync(process.execPath, [bin, 'advance', 'plan.yaml'], { cwd: tmp, stdio: 'ignore' });

  const { build } = await import('rolldown');
  const EXTERNAL = ['undici', 'execa', 'ora', '@inquirer/prompts']; // as in scripts/bundle.js
  // ESM chunks.
  const esmDir = join(root, 'dist/.bench-esm');
  await build({ input: join(root, 'dist/cli.js'), platform: 'node', external: EXTERNAL, logLevel: 'silent', output: { dir: esmDir, format: 'esm' } });
  writeFileSync(join(esmDir, 'bin.js'), "import { main } from './cli.js';\nprocess.exitCode = await main(process.argv.slice(2), { exit: (code) => process.exit(code) });\n");
  // One file without its cache: a copy of the shipped bundle beside a loader that passes none.
  const oneDir = join(root, 'dist/.bench-one');
  rmSync(oneDir, { recursive: true, force: true });
  spawnSync('mkdir', ['-p', oneDir]);
  copyFileSync(join(root, 'dist/rollout.cjs'), join(oneDir, 'rollout.cjs'));
  writeFileSync(
    join(oneDir, 'bin.js'),
    `const { readFileSync } = require('node:fs'); const { Script } = require('node:vm');
const file = __dirname + '/rollout.cjs';
const fn = new Script('(function (exports, require, module, __filename, __dirname, __import) {' + readFileSync(file, 'utf8') + '\\n})', { filename: file }).runInThisContext();
const mod = { exports: {} }; fn.call(mod.exports, mod.exports, require, mod, file, __dirname, (m) => import(m));
mod.exports.main(process.argv.slice(2), { exit: (code) => process.exit(code) }).then((code) => (process.exitCode = code));\n`,
  );
  writeFileSync(join(oneDir, 'package.json'), '{"type":"commonjs"}');
  // Snapshot: the bundle evaluated at build time, main() run on deserialization.
  const snapEntry = join(oneDir, 'snap-entry.js');
  writeFileSync(
    snapEntry,
    `const { readFileSync } = require('node:fs'); const { Script } = require('node:vm'); const v8 = require('node:v8');
const file = ${JSON.stringify(join(oneDir, 'rollout.cjs'))};
const fn = new Script('(function (exports, require, module, __filename, __dirname, __import) {' + readFileSync(file, 'utf8') + '\\n})', { filename: file }).runInThisContext();
const mod = { exports: {} }; fn.call(mod.exports, mod.exports, require, mod, file, ${JSON.stringify(oneDir)}, (m) => (m.startsWith('node:') ? Promise.resolve(require(m)) : Promise.reject(new Error('no module loading in a snapshot: ' + m))));
v8.startupSnapshot.setDeserializeMainFunction(() => mod.exports.main(process.argv.slice(1), { exit: (code) => process.exit(code) }).then((code) => (process.exitCode = code)));\n`,
  );
  const blob = join(oneDir, 'snap.blob');
  const snap = spawnSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', snapEntry], { encoding: 'utf8' });
  const snapshotOk = snap.status === 0 && existsSync(blob);
  if (!snapshotOk) console.log('snapshot: could not be built here: %s', (snap.stderr || '').split('\n').find((l) => /Error/.test(l)) ?? `exit ${snap.status}`);

  const variants = [
    ['tsc output', [join(root, 'dist/cli.js')], true],
    ['esm chunks', [join(esmDir, 'bin.js')]],
    ['one file', [join(oneDir, 'bin.js')]],
    ['one file + cache', [bin]],
    ...(snapshotOk ? [['snapshot', ['--snapshot-blob', blob]]] : []),
  ];
  const commands = [
    ['validate demo', ['validate', join(root, 'plans/demo.yaml')]],
    ['status', ['status']],
    ['--help', ['--help']],
  ];
  const env = { ...process.env, NO_COLOR: '1', CI: '1' };
  const runOne = (args, extraEnv) => {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, args, { cwd: tmp, env: { ...env, ...extraEnv }, stdio: 'ignore' });
    const ms = performance.now() - t0;
    if (r.status !== 0 && r.status !== 6) throw new Error(`${args.join(' ')} exited ${r.status}`);
    return ms;
  };
  // Each variant must really do the work: validate says the plan is valid.
  for (const [vn, pre, viaBin] of variants) {
    const r = spawnSync(process.execPath, [...(viaBin ? [bin] : pre), 'validate', join(root, 'plans/demo.yaml')], { cwd: tmp, env: { ...env, ...(viaBin ? { ROLLOUT_NO_BUNDLE: '1' } : {}) }, encoding: 'utf8' });
    if (!/is valid/.test(r.stdout)) throw new Error(`${vn}: validate did not run: ${r.stdout}${r.stderr}`);
  }
  const times = new Map();
  const add = (k, v) => times.set(k, [...(times.get(k) ?? []), v]);
  // tsc output: bin/rollout.js with the bundle switched off, i.e. exactly the fallback path.
  for (let i = 0; i < N + 1; i++) {
    const base = runOne(['-e', '0']);
    if (i) add('node', base);
    for (const [vn, pre, viaBin] of variants)
      for (const [cn, args] of commands) {
        const ms = viaBin ? runOne([bin, ...args], { ROLLOUT_NO_BUNDLE: '1' }) : runOne([...pre, ...args]);
        if (i) add(`${vn}|${cn}`, ms);
      }
  }
  const base = median(times.get('node'));
  console.log('start-up (median of %d interleaved runs, node %s): ratio to `node -e 0` = %s ms', N, process.version, base.toFixed(1));
  console.log('  %s%s', 'variant'.padEnd(20), commands.map(([c]) => c.padStart(22)).join(''));
  for (const [vn] of variants) {
    const cells = commands.map(([cn]) => {
      const m = median(times.get(`${vn}|${cn}`));
      return `${m.toFixed(1)} ms ${(m / base).toFixed(2)}×`.padStart(22);
    });
    console.log('  %s%s', vn.padEnd(20), cells.join(''));
  }
  rmSync(esmDir, { recursive: true, force: true });
  rmSync(oneDir, { recursive: true, force: true });
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
