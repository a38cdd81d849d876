/**
 * The official Unleash Node SDK (unleash-client) as a real client of the test Unleash server:
 * what an application using the flag would evaluate. Polls every 100 ms, keeps its copy in
 * memory, sends no metrics; resolves once it has synchronized (bounded: 20 s), else fails
 * with the SDK's own errors. Errors (and warnings) it reports later go to `errors`.
 */
import { once } from 'node:events';
import { InMemStorageProvider, Unleash as UnleashClient } from 'unleash-client';
import { inject } from 'vitest';

export type { UnleashClient };

export async function unleashSdk(appName: string, errors: string[]): Promise<UnleashClient> {
  const client = new UnleashClient({
    url: `${inject('unleashUrl')}/api/`,
    appName,
    customHeaders: { Authorization: inject('unleashClientToken') },
    refreshInterval: 100,
    disableMetrics: true,
    storageProvider: new InMemStorageProvider(),
    skipInstanceCountWarning: true,
    timeout: 5_000,
  });
  client.on('error', (e: Error) => errors.push(e.message));
  client.on('warn', (m: string) => errors.push(`warn: ${m}`));
  await once(client, 'synchronized', { signal: AbortSignal.timeout(20_000) }).catch((err: unknown) => {
    client.destroy();
    throw new Error(`unleash-client did not synchronize within 20 s (${(err as Error).message}); client errors: ${errors.join('; ') || 'none'}`);
  });
  return client;
}
