#!/usr/bin/env node
// The test set-up `npm test` runs first: what the services tests need that npm does not bring.
//   - programs from the OS: Prometheus (and promtool), the PostgreSQL server, Chromium. Missing
//     ones are installed when this runs as root on Debian (apt-get, non-interactive, without
//     letting Debian start the services: the tests start their own); anywhere else it stops
//     with the one command to run.
//   - servers from npm that only tests use (unleash-server and its tree): test/services has
//     its own package.json, installed here, so `npm ci` for the demo stays lean.
// Plain JavaScript (no build needed). `node test/setup/ensure.mjs --check` only reports.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const SERVICES = join(ROOT, 'test/services');

/** Newest /usr/lib/postgresql/<version>/bin that has initdb (the harness uses the same rule). */
export function postgresBin(env = process.env, fs = { exists: existsSync, list: (d) => (existsSync(d) ? readdirSync(d) : []) }) {
  if (env.ROLLOUT_PG_BIN) return fs.exists(join(env.ROLLOUT_PG_BIN, 'initdb')) ? env.ROLLOUT_PG_BIN : undefined;
  const versions = fs.list('/usr/lib/postgresql').filter((v) => /^\d+$/.test(v) && fs.exists(`/usr/lib/postgresql/${v}/bin/initdb`));
  return versions.length ? `/usr/lib/postgresql/${versions.sort((a, b) => Number(b) - Number(a))[0]}/bin` : undefined;
}

/** What the tests need from the OS: name, how to tell it is there, the Debian package. */
export function requirements(env = process.env, fs) {
  const exists = fs?.exists ?? existsSync;
  return [
    { name: 'prometheus', present: () => exists(env.ROLLOUT_PROMETHEUS_BIN ?? '/usr/bin/prometheus'), apt: 'prometheus', service: 'prometheus' },
    { name: 'promtool', present: () => exists(env.ROLLOUT_PROMTOOL_BIN ?? '/usr/bin/promtool'), apt: 'prometheus' },
    { name: 'PostgreSQL server (initdb)', present: () => postgresBin(env, fs) !== undefined, apt: 'postgresql', service: 'postgresql' },
    { name: 'chromium', present: () => exists(env.ROLLOUT_CHROMIUM ?? '/usr/bin/chromium'), apt: 'chromium' },
  ];
}

/**
 * Decide, without doing anything: what is missing, and whether to install it (root on Debian
 * with apt-get) or to stop with the one command that installs it.
 */
export function planSetup({ reqs, isRoot, isDebian, hasApt }) {
  const missing = reqs.filter((r) => !r.present());
  const packages = [...new Set(missing.map((r) => r.apt))];
  const services = [...new Set(missing.map((r) => r.service).filter(Boolean))];
  const command = `${isRoot ? '' : 'sudo '}apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  if (!missing.length) return { action: 'none', missing: [], packages, services };
  if (isRoot && isDebian && hasApt) return { action: 'apt', missing: missing.map((r) => r.name), packages, services };
  return {
    action: 'stop',
    missing: missing.map((r) => r.name),
    packages,
    services,
    command: isDebian ? command : `install ${missing.map((r) => r.name).join(', ')} (Debian: ${command}), or point ROLLOUT_PROMETHEUS_BIN / ROLLOUT_PROMTOOL_BIN / ROLLOUT_PG_BIN / ROLLOUT_CHROMIUM at them`,
  };
}

/** test/services' own npm packages: installed when missing or older than its package.json. */
export function servicesInstallNeeded(fs = { exists: existsSync, mtime: (p) => statSync(p).mtimeMs }) {
  const marker = join(SERVICES, 'node_modules/.package-lock.json');
  if (!fs.exists(marker)) return true;
  return fs.mtime(join(SERVICES, 'package.json')) > fs.mtime(marker) || (fs.exists(join(SERVICES, 'package-lock.json')) && fs.mtime(join(SERVICES, 'package-lock.json')) > fs.mtime(marker));
}

function sh(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

/** apt-get install without starting the services the packages ship (policy-rc.d 101: "not now"). */
function aptInstall(packages, services) {
  const policy = '/usr/sbin/policy-rc.d';
  const ours = !existsSync(policy);
  if (ours) writeFileSync(policy, '#!/bin/sh\n# written by rollout test/setup/ensure.mjs while installing test tools\nexit 101\n', { mode: 0o755 });
  try {
    const env = { DEBIAN_FRONTEND: 'noninteractive' };
    sh('apt-get', ['update', '-qq'], env);
    sh('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], env);
  } finally {
    if (ours) rmSync(policy, { force: true });
  }
  // Started anyway (no policy-rc.d support, or already running): stop them; the tests start their own.
  for (const s of services) spawnSync('service', [s, 'stop'], { stdio: 'ignore' });
}

function main() {
  const check = process.argv.includes('--check');
  const isDebian = existsSync('/etc/debian_version');
  const hasApt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const p = planSetup({ reqs: requirements(), isRoot, isDebian, hasApt });
  if (p.action === 'stop' || (check && p.action === 'apt')) {
    console.error(`test set-up: missing ${p.missing.join(', ')}.\nRun: ${p.command ?? `apt-get install -y --no-install-recommends ${p.packages.join(' ')}`}\nthen \`npm test\` again.`);
    process.exit(1);
  }
  if (p.action === 'apt') {
    console.error(`test set-up: installing ${p.packages.join(' ')} (missing: ${p.missing.join(', ')})`);
    aptInstall(p.packages, p.services);
  }
  if (servicesInstallNeeded()) {
    if (check) {
      console.error('test set-up: test/services packages are not installed. Run: npm ci --prefix test/services');
      process.exit(1);
    }
    console.error('test set-up: installing the test servers (test/services: unleash-server)');
    sh('npm', [existsSync(join(SERVICES, 'package-lock.json')) ? 'ci' : 'install', '--prefix', SERVICES, '--no-audit', '--no-fund', '--loglevel=error']);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
