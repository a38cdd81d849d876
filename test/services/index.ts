// The services harness: see global-setup.ts (what a test run gets) and the modules below.
export { startPostgres, createDatabaseAt, databaseUrl, type Postgres } from './postgres.js';
export { startUnleash, migrateUnleashDatabase, type Unleash, type UnleashOptions } from './unleash.js';
export { startPrometheus, type Prometheus, type PrometheusOptions } from './prometheus.js';
export { startExporter, setExporterGauge, type Exporter } from './exporter.js';
