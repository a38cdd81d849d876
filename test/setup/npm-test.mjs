#!/usr/bin/env node
// `npm test`: set-up, build, type check and vitest, overlapped where nothing depends on the
// other (on a clean clone this saves the build's and the type check's time, ~15 s):
//   1. the set-up (test/setup/ensure.mjs: OS packages, test/services' npm install — mostly
//      network and disk) beside the build (`npm run build`: tsc + bundle — CPU). vitest needs
//      both; the type check needs neither, but it competes with the build for the CPU.
//   2. the type check (tsc -p tsconfig.test.json) beside vitest, whose first seconds are spent
//      waiting for the test services (Prometheus's first scrape).
// Any step failing fails `npm test`; a set-up or build failure stops before vitest. The type
// check's output is printed after vitest's, so it is not lost in the middle of the test report.
// Arguments go to vitest (`npm test -- test/unit/x.test.ts`).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = (name) => join(ROOT, 'node_modules/.bin', name);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** Run a command; `capture` keeps its output for later instead of passing it through. */
function step(name, cmd, args, { capture = false } = {}) {
  const t0 = Date.now();
  const child = spawn(cmd, args, { cwd: ROOT, stdio: capture ? ['ignore', 'pipe', 'pipe'] : ['ignore', 'inherit', 'inherit'] });
  let out = '';
  if (capture) {
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
  }
  return new Promise((resolve) => {
    child.on('error', (err) => resolve({ name, code: 1, out: `${cmd}: ${err.message}\n`, ms: Date.now() - t0 }));
    child.on('close', (code, signal) => resolve({ name, code: code ?? (signal ? 128 : 1), out, ms: Date.now() - t0 }));
  });
}

const secs = (r) => `${(r.ms / 1000).toFixed(1)} s`;

const [setup, build] = await Promise.all([step('set-up', process.execPath, [join(ROOT, 'test/setup/ensure.mjs')]), step('build', npm, ['run', 'build', '--silent'], { capture: true })]);
process.stdout.write(build.out);
for (const r of [setup, build]) {
  if (r.code !== 0) {
    process.stderr.write(`npm test: ${r.name} failed (exit ${r.code}); not running the tests\n`);
    process.exit(r.code);
  }
}
process.stdout.write(`npm test: set-up ${secs(setup)}, build ${secs(build)} (side by side)\n`);

const [typecheck, tests] = await Promise.all([step('typecheck', bin('tsc'), ['-p', 'tsconfig.test.json'], { capture: true }), step('vitest', bin('vitest'), ['run', ...process.argv.slice(2)])]);
if (typecheck.code !== 0) process.stderr.write(`\nnpm test: typecheck (tsc -p tsconfig.test.json) failed, exit ${typecheck.code}:\n${typecheck.out}`);
else process.stdout.write(`npm test: typecheck clean (${secs(typecheck)}, beside vitest ${secs(tests)})\n`);
process.exit(tests.code !== 0 ? tests.code : typecheck.code);
