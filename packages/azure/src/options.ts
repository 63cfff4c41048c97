import type { TokenCredential } from "@azure/identity";
import { BlobServiceClient, type ContainerClient, type StoragePipelineOptions } from "@azure/storage-blob";
import { type Clock, CustodyError, type Logger } from "@custody/core";

/** The @azure/identity credential type (DefaultAzureCredential, ManagedIdentityCredential, ...). */
export type { TokenCredential };

export interface AzureBlobEvidenceStoreOptions {
  /** 3-63 lower-case letters, digits and single hyphens. */
  containerName: string;
  /** Development and Azurite: an account connection string. */
  connectionString?: string;
  /** Production: `https://<account>.blob.core.windows.net` with a credential from @azure/identity. */
  accountUrl?: string;
  credential?: TokenCredential;
  /** Create the container when missing (needs container write rights; off by default). */
  createContainer?: boolean;
  /**
   * "probe" (default): find out at open whether the service enforces legal hold and retention.
   * "library": never rely on the service for them (no probe writes at open).
   */
  protection?: "probe" | "library";
  /** Service-enforced retention is set as a Locked policy (irreversible) instead of Unlocked. */
  lockRetention?: boolean;
  /**
   * Staged block size; default 4 MiB for a streamed body and 8 MiB for a whole-file body (read straight
   * into the block buffers, with no chunks queued: fewer requests for the same memory). At most 50,000
   * blocks per object: ~195 GiB streamed, ~390 GiB from a file; raise it for larger evidence.
   */
  blockSizeBytes?: number;
  /** Blocks staged in parallel; default 4. */
  concurrency?: number;
  retryOptions?: StoragePipelineOptions["retryOptions"];
  clock?: Clock;
  logger?: Logger;
}

const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$/;
const MAX_BLOCK_BYTES = 4000 * 1024 * 1024;

/** Builds the container client from exactly one way of authenticating. */
export function containerClientFor(options: AzureBlobEvidenceStoreOptions): ContainerClient {
  if (typeof options !== "object" || options === null) invalid("options are required");
  if (typeof options.containerName !== "string" || !CONTAINER_NAME.test(options.containerName)) {
    invalid("containerName must be 3-63 lower-case letters, digits and single hyphens");
  }
  const pipeline = options.retryOptions === undefined ? {} : { retryOptions: options.retryOptions };
  const viaString = options.connectionString !== undefined;
  const viaCredential = options.accountUrl !== undefined || options.credential !== undefined;
  if (viaString === viaCredential) invalid("give either connectionString, or accountUrl with credential");
  if (viaString) {
    if (typeof options.connectionString !== "string" || options.connectionString.length === 0) {
      invalid("connectionString must be a non-empty string");
    }
    try {
      return BlobServiceClient.fromConnectionString(options.connectionString, pipeline).getContainerClient(
        options.containerName,
      );
    } catch (cause) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", "the connection string is not valid", { cause });
    }
  }
  if (typeof options.accountUrl !== "string" || !/^https?:\/\/[^\s/]+/.test(options.accountUrl)) {
    invalid("accountUrl must be an http(s) URL");
  }
  const credential = options.credential;
  if (credential === undefined || typeof (credential as { getToken?: unknown }).getToken !== "function") {
    invalid("credential must be a TokenCredential");
  }
  return new BlobServiceClient(options.accountUrl, credential, pipeline).getContainerClient(
    options.containerName,
  );
}

export function blockSettings(options: AzureBlobEvidenceStoreOptions): {
  blockSizeBytes: number;
  fileBlockSizeBytes: number;
  concurrency: number;
} {
  const blockSizeBytes = options.blockSizeBytes ?? 4 * 1024 * 1024;
  const fileBlockSizeBytes = options.blockSizeBytes ?? 8 * 1024 * 1024;
  const concurrency = options.concurrency ?? 4;
  if (
    !Number.isSafeInteger(blockSizeBytes) ||
    blockSizeBytes < 64 * 1024 ||
    blockSizeBytes > MAX_BLOCK_BYTES
  ) {
    invalid("blockSizeBytes must be an integer between 64 KiB and 4000 MiB");
  }
  if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 64)
    invalid("concurrency must be 1-64");
  return { blockSizeBytes, fileBlockSizeBytes, concurrency };
}

function invalid(message: string): never {
  throw new CustodyError("ERR_INVALID_ARGUMENT", message);
}
