import { CustodyError, type Logger } from "@custody/core";
import type { EvidenceStore } from "@custody/store";
import type { StoreConfig } from "@custody/vault";

/**
 * The Azure store a vault's config names, or undefined for the fs store. Loaded on demand so that a
 * local vault never pays for the Azure SDK. A connection string is read from the environment variable
 * the config names (never stored in vault.json); otherwise DefaultAzureCredential and the account URL.
 */
export async function configuredStore(
  store: StoreConfig,
  env: NodeJS.ProcessEnv,
  options: { createContainer?: boolean; logger?: Logger } = {},
): Promise<EvidenceStore | undefined> {
  if (store.kind !== "azure") return undefined;
  const { AzureBlobEvidenceStore, defaultAzureCredential } = await import("@custody/azure");
  const base = {
    containerName: store.container,
    createContainer: options.createContainer === true,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  };
  if (store.connectionStringEnv !== undefined) {
    const connectionString = env[store.connectionStringEnv];
    if (connectionString === undefined || connectionString === "") {
      throw new CustodyError(
        "ERR_USAGE",
        `this vault's store needs the connection string in $${store.connectionStringEnv}`,
      );
    }
    return AzureBlobEvidenceStore.open({ ...base, connectionString });
  }
  if (store.accountUrl === undefined) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      "an Azure store needs accountUrl or connectionStringEnv in vault.json",
    );
  }
  return AzureBlobEvidenceStore.open({
    ...base,
    accountUrl: store.accountUrl,
    credential: defaultAzureCredential(),
  });
}
