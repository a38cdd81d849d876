// Runs unleash-server in its own process for the test harness (test/services/unleash.ts).
// Config comes as JSON in ROLLOUT_UNLEASH_LAUNCH (env, not argv: it holds the init tokens):
//   { mode: "serve" | "migrate", port, db: { host, port, user, database }, adminToken, clientToken }
// "migrate" runs the database migrations and exits (for template databases); "serve" starts
// the server and stops it on SIGTERM/SIGINT, or when the parent's IPC channel closes (so a
// killed test run does not leave it behind).
import { start, migrateDb } from 'unleash-server';

const cfg = JSON.parse(process.env.ROLLOUT_UNLEASH_LAUNCH ?? '{}');
const db = {
  driver: 'postgres',
  host: cfg.db.host,
  port: cfg.db.port,
  user: cfg.db.user,
  password: cfg.db.password ?? '',
  database: cfg.db.database,
  ssl: false,
  schema: 'public',
  applicationName: 'unleash',
  pool: { min: 0, max: 4, idleTimeoutMillis: 30000, propagateCreateError: false },
};

let unleash;
let stopping = false;
async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  // Unleash's own stop has hung before: do not wait on it forever.
  setTimeout(() => process.exit(code), 3000).unref();
  try {
    await unleash?.stop();
  } catch (err) {
    console.error('unleash stop failed:', err);
  }
  process.exit(code);
}
process.on('SIGTERM', () => void shutdown(0));
process.on('SIGINT', () => void shutdown(0));
process.on('disconnect', () => void shutdown(0));

try {
  if (cfg.mode === 'migrate') {
    await migrateDb({ db });
    process.exit(0);
  }
  unleash = await start({
    db,
    server: { port: cfg.port, host: '127.0.0.1', gracefulShutdownEnable: false, gracefulShutdownTimeout: 500 },
    logLevel: cfg.logLevel ?? 'warn',
    authentication: {
      createAdminUser: false,
      initApiTokens: [
        { secret: cfg.adminToken, type: 'admin', projects: ['*'], environment: '*', tokenName: 'rollout-test-admin' },
        { secret: cfg.clientToken, type: 'backend', projects: ['default'], environment: 'development', tokenName: 'rollout-test-client' },
      ],
    },
    versionCheck: { enable: false },
  });
  process.send?.({ listening: cfg.port });
} catch (err) {
  console.error('unleash failed to start:', err);
  process.exit(1);
}
