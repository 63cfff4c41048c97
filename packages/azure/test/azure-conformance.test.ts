import { randomUUID } from "node:crypto";
import { BlobServiceClient } from "@azure/storage-blob";
import { AzureBlobEvidenceStore } from "@custody/azure";
import { testEvidenceStore } from "@custody/store/conformance";
import { afterAll, beforeAll } from "vitest";
import { type AzuriteInstance, useAzurite } from "./azurite.js";

const LARGE = Number(process.env.CUSTODY_AZURE_LARGE_BYTES ?? 1024 ** 3);
let azurite: AzuriteInstance;

beforeAll(async () => {
  azurite = await useAzurite();
});
afterAll(async () => {
  await azurite?.stop();
});

testEvidenceStore(
  "AzureBlobEvidenceStore on Azurite",
  async ({ clock }) => {
    const containerName = `conformance-${randomUUID().slice(0, 8)}`;
    const store = await AzureBlobEvidenceStore.open({
      connectionString: azurite.connectionString,
      containerName,
      createContainer: true,
      clock,
    });
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      containerName,
    );
    return {
      store,
      // Rewrites the blob behind the store's back, keeping its custody metadata, as an account key holder could.
      tamper: async (key) => {
        const blob = container.getBlockBlobClient(key);
        const props = await blob.getProperties();
        const bytes = await blob.downloadToBuffer();
        bytes[0] = (bytes[0] ?? 0) ^ 0x01;
        await blob.upload(bytes, bytes.byteLength, { metadata: props.metadata ?? {} });
      },
      cleanup: async () => {
        await container.deleteIfExists();
      },
    };
  },
  { largeObjectBytes: LARGE },
);
