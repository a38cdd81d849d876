// What test/services/global-setup.ts provides to tests: `inject('unleashUrl')` etc.
import 'vitest';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Superuser URL of the harness PostgreSQL (postgres://postgres@127.0.0.1:PORT/postgres). */
    pgUrl: string;
    /** Shared Unleash, http://127.0.0.1:PORT. Use unique flag names per test. */
    unleashUrl: string;
    /** Admin API token (`*:*.…`) of the shared Unleash. */
    unleashAdminToken: string;
    /** Backend/client API token (`default:development.…`) of the shared Unleash. */
    unleashClientToken: string;
    /** A migrated, unused Unleash database to clone (startFreshUnleash in fresh.ts). */
    unleashTemplateDb: string;
    /** Prometheus scraping the exporter every second, http://127.0.0.1:PORT. */
    prometheusUrl: string;
    /** The shared exporter, http://127.0.0.1:PORT: POST /set {name, value, labels?}. */
    exporterUrl: string;
  }
}
