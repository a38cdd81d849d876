#!/usr/bin/env node
// The executable. Start-up is most of what short commands cost, so it loads the one-file
// bundle dist/rollout.cjs (scripts/bundle.js) with V8's code cache when the bundle is at
// least as new as dist/cli.js; otherwise (tsc-only build, production install) dist/cli.js.
import { readFileSync, statSync, writeFileSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Script } from 'node:vm';

const bundle = new URL('../dist/rollout.cjs', import.meta.url).pathname;
let main;
try {
  if (process.env.ROLLOUT_NO_BUNDLE || statSync(bundle).mtimeMs < statSync(new URL('../dist/cli.js', import.meta.url)).mtimeMs) throw new Error('stale');
  main = load(bundle).main;
} catch {
  ({ main } = await import('../dist/cli.js'));
}
process.exitCode = await main(process.argv.slice(2), { exit: (code) => process.exit(code) });

function load(file) {
  const source = readFileSync(file, 'utf8');
  let cachedData;
  try {
    cachedData = readFileSync(file + '.cache');
  } catch {
    /* no cache yet: compile from source */
  }
  const script = new Script(`(function (exports, require, module, __filename, __dirname, __import) {${source}\n})`, { filename: file, cachedData });
  const mod = { exports: {} };
  script.runInThisContext().call(mod.exports, mod.exports, createRequire(file), mod, file, new URL('.', `file://${file}`).pathname, (m) => import(m));
  if (process.env.ROLLOUT_WRITE_CODE_CACHE) {
    // After the command ran: the cache then holds every function it compiled.
    process.once('exit', () => {
      writeFileSync(file + '.cache.tmp', script.createCachedData());
      renameSync(file + '.cache.tmp', file + '.cache');
    });
  }
  return mod.exports;
}
