import { SHARED_AZURITE_ENV, startAzurite } from "../../packages/azure/test/azurite.js";

/**
 * Vitest global setup: one in-memory Azurite for the whole run, on a free loopback port, instead of one
 * per test file. Its address reaches the test workers (forked after this runs) through the environment;
 * `useAzurite()` reads it. Files keep apart by container names.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const azurite = await startAzurite();
  process.env[SHARED_AZURITE_ENV] = JSON.stringify({
    port: azurite.port,
    blobEndpoint: azurite.blobEndpoint,
    connectionString: azurite.connectionString,
  });
  return async () => {
    delete process.env[SHARED_AZURITE_ENV];
    await azurite.stop();
  };
}
