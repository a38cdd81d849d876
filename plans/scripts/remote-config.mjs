#!/usr/bin/env node
/**
 * Seed 001's "Remote Config Update", as a `command` flag backend for rollout.
 *
 *   remote-config.mjs set <flag> <enabled> <percentage>
 *   remote-config.mjs get <flag>
 *
 * Keeps the remote-config document the Duru Notes app reads in a JSON file
 * ($REMOTE_CONFIG_FILE, default $ROLLOUT_STATE_DIR/duru-remote-config.json, ROLLOUT_STATE_DIR
 * defaulting to .rollout) and logs what it would publish: the MigrationConfig fields
 * (enableMigration, useDomainEntities, enableDualProviders, rolloutPercentage) and the rollback
 * keys ({"enableDomainMigration": false, "fallbackToLegacy": true}). Publishing to Firebase
 * Remote Config is left to your pipeline: nothing here reaches the network or a shell.
 * Values arrive as separate argv elements; they are validated, never interpreted.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const FILE = process.env.REMOTE_CONFIG_FILE || join(process.env.ROLLOUT_STATE_DIR || '.rollout', 'duru-remote-config.json');
const NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
const log = (m) => process.stderr.write(`[remote-config] ${m}\n`);
const die = (m) => {
  log(m);
  process.exit(2);
};

function load() {
  try {
    return JSON.parse(readFileSync(FILE, 'utf8'));
  } catch (e) {
    if (e.code === 'ENOENT') return { flags: {} };
    die(`${FILE} is unreadable: ${e.message}`);
  }
}

/** What the app reads: MigrationConfig plus the remote-config kill switch. */
function publishedView(flags) {
  const on = (f) => Boolean(flags[f]?.enabled);
  const migration = flags.enableMigration;
  return {
    enableDomainMigration: on('enableMigration'),
    fallbackToLegacy: !on('enableMigration'),
    migrationConfig: {
      enableMigration: on('enableMigration'),
      useDomainEntities: on('useDomainEntities'),
      enableDualProviders: on('enableDualProviders'),
      rolloutPercentage: migration?.enabled ? migration.percentage : 0,
    },
  };
}

const [cmd, flag, enabledArg, pctArg] = process.argv.slice(2);
if (!flag || !NAME.test(flag)) die(`usage: remote-config.mjs set|get <flag> …  (flag must match ${NAME})`);
const doc = load();

if (cmd === 'get') {
  const f = doc.flags?.[flag];
  process.stdout.write(JSON.stringify(f ? { exists: true, enabled: f.enabled, percentage: f.percentage } : { exists: false }) + '\n');
} else if (cmd === 'set') {
  if (enabledArg !== 'true' && enabledArg !== 'false') die(`enabled must be true or false, not ${JSON.stringify(enabledArg)}`);
  const pct = Number(pctArg);
  if (!Number.isFinite(pct) || pct < 0 || pct > 100) die(`percentage must be 0..100, not ${JSON.stringify(pctArg)}`);
  const enabled = enabledArg === 'true';
  doc.flags = { ...doc.flags, [flag]: { enabled, percentage: enabled ? pct : 0, updatedAt: new Date().toISOString() } };
  doc.published = publishedView(doc.flags);
  mkdirSync(dirname(FILE), { recursive: true });
  const tmp = `${FILE}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(doc, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, FILE);
  log(`${flag}: enabled=${enabled} percentage=${enabled ? pct : 0}`);
  if (process.env.ROLLOUT_REASON) log(`reason: ${JSON.stringify(process.env.ROLLOUT_REASON)}`);
  log(`would publish remote config: ${JSON.stringify(doc.published)}`);
} else {
  die(`unknown command ${JSON.stringify(cmd)} (set or get)`);
}
