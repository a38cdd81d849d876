#!/usr/bin/env node
// Second half of `npm run build` (after tsc): dist/cli.js and everything it imports →
// one CommonJS file, dist/rollout.cjs, plus a V8 code cache for it (dist/rollout.cjs.cache).
// bin/rollout.js loads the bundle through vm.Script with that cache, so a command pays for
// neither resolving ~300 module files nor compiling them: `rollout validate` went from 3.7×
// `node -e 0` to under 2× (bench/startup.js measures every option we tried).
//
// Left out of the bundle (loaded from node_modules when used): modules that only a running
// rollout or a prompt needs and that are big (undici, execa), or ESM-only with their own
// lazy loading (ora, @inquirer/prompts).
//
// Without rolldown (a production install) the bundle is removed and bin/ uses dist/cli.js.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const out = join(root, 'dist/rollout.cjs');
const EXTERNAL = ['undici', 'execa', 'ora', '@inquirer/prompts'];

function clean() {
  rmSync(out, { force: true });
  rmSync(out + '.cache', { force: true });
}

let rolldown;
try {
  rolldown = await import('rolldown');
} catch {
  clean();
  console.error('bundle: rolldown is not installed; bin/rollout.js uses dist/cli.js (slower start-up)');
  process.exit(0);
}
clean();
await rolldown.build({
  input: join(root, 'dist/cli.js'),
  platform: 'node',
  external: EXTERNAL,
  logLevel: 'warn',
  output: { file: out, format: 'cjs', codeSplitting: false },
  plugins: [
    {
      // zod's `z.locales` re-exports ~40 languages (300 KB); messages here are English only.
      name: 'zod-english-only',
      resolveId: (id, importer) => (id === '../locales/index.js' && /\/zod\/v4\/(classic|core)\//.test(importer ?? '') ? '\0zod-locales' : null),
      load: (id) => (id === '\0zod-locales' ? `export { default as en } from ${JSON.stringify(join(root, 'node_modules/zod/v4/locales/en.js'))};` : null),
    },
    {
      // A function deserialized from V8's code cache loses vm's dynamic-import callback, so
      // import() of the external modules goes through a loader bin/rollout.js passes in.
      name: 'external-import',
      renderChunk: (code) => code.replace(/\bimport\((["'][^"'\n]+["'])\)/g, '__import($1)'),
    },
  ],
});
// The code cache: run a validation through the bundle once and keep what V8 compiled.
const r = spawnSync(process.execPath, [join(root, 'bin/rollout.js'), 'validate', join(root, 'plans/demo.yaml')], {
  env: { ...process.env, ROLLOUT_WRITE_CODE_CACHE: '1', NO_COLOR: '1' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
if (r.status !== 0 || !existsSync(out + '.cache')) {
  clean();
  console.error(`bundle: the bundle failed its first run (exit ${r.status}); removed, bin/rollout.js uses dist/cli.js`);
  process.exit(1);
}
console.error(`bundle: dist/rollout.cjs (${(statSync(out).size / 1e6).toFixed(1)} MB) + code cache (${(statSync(out + '.cache').size / 1e6).toFixed(1)} MB)`);
