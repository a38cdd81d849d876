#!/usr/bin/env node
// The last part of `npm test`: the type check of src + test (tsc -p tsconfig.test.json) and
// vitest, side by side instead of one after the other. The type check takes ~8 s of one core;
// vitest spends its first seconds waiting for the test services (Prometheus's first scrape),
// so together they finish ~8 s sooner. Arguments go to vitest (`npm test -- test/unit/x`).
// Exit status: vitest's, or tsc's if the type check failed (its output is printed after
// vitest's, so it is not lost in the middle of the test report).
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const bin = (name) => join(ROOT, 'node_modules/.bin', name);

function start(cmd, args, capture) {
  const t0 = Date.now();
  const child = spawn(cmd, args, { cwd: ROOT, stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
  let out = '';
  if (capture) {
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
  }
  return new Promise((resolve) => {
    child.on('error', (err) => resolve({ code: 1, out: `${cmd}: ${err.message}\n`, ms: Date.now() - t0 }));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), out, ms: Date.now() - t0 }));
  });
}

const typecheck = start(bin('tsc'), ['-p', 'tsconfig.test.json'], true);
const tests = start(bin('vitest'), ['run', ...process.argv.slice(2)], false);
const [tc, vt] = await Promise.all([typecheck, tests]);
if (tc.code !== 0) {
  process.stderr.write(`\ntypecheck (tsc -p tsconfig.test.json) failed, exit ${tc.code}:\n${tc.out}`);
} else {
  process.stdout.write(`typecheck (tsc -p tsconfig.test.json): clean, ${(tc.ms / 1000).toFixed(1)} s\n`);
}
process.exit(vt.code !== 0 ? vt.code : tc.code);
