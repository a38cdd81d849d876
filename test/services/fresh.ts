/**
 * For tests that need their own pristine Unleash (empty token table, no flags from other
 * tests): a clone of the migrated template database (~0.25 s) and a new server on it (a few
 * seconds, mostly loading unleash-server). Call from a test or beforeAll; stop() afterwards.
 */
import { inject } from 'vitest';
import { startUnleash, type Unleash } from './unleash.js';

export function startFreshUnleash(): Promise<Unleash> {
  return startUnleash({ url: inject('pgUrl') }, { template: inject('unleashTemplateDb') });
}
