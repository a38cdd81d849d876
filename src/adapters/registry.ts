/**
 * Adapters by `type`. Each entry loads its module only when a plan uses it, so start-up pays
 * for nothing it does not run. Adding a backend = adding a file and a line here.
 *
 * Every adapter module exports:
 *   export const options: z.ZodType       // its options (without `type`), strict
 *   export const create: <Kind>Factory    // builds the adapter from parsed options
 */
import type { z } from 'zod';
import type { FlagBackendFactory, MetricsProviderFactory, NotifierFactory } from './types.js';

export interface AdapterModule<F> {
  options: z.ZodType;
  create: F;
}
type Loader<F> = () => Promise<AdapterModule<F>>;

export const flagBackends: Record<string, Loader<FlagBackendFactory>> = {
  local: () => import('./flags/local.js'),
  'env-file': () => import('./flags/env-file.js'),
  command: () => import('./flags/command.js'),
  unleash: () => import('./flags/unleash.js'),
  launchdarkly: () => import('./flags/launchdarkly.js'),
  flagd: () => import('./flags/flagd.js'),
  http: () => import('./flags/http.js'),
};

export const metricsProviders: Record<string, Loader<MetricsProviderFactory>> = {
  prometheus: () => import('./metrics/prometheus.js'),
  'http-json': () => import('./metrics/http-json.js'),
  command: () => import('./metrics/command.js'),
  datadog: () => import('./metrics/datadog.js'),
  simulated: () => import('./metrics/simulated.js'),
};

export const notifiers: Record<string, Loader<NotifierFactory>> = {
  slack: () => import('./notify/slack.js'),
  webhook: () => import('./notify/webhook.js'),
  log: () => import('./notify/log.js'),
};
