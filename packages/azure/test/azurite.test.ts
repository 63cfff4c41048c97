import { BlobServiceClient } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AzuriteInstance, startAzurite } from "./azurite.js";

describe("startAzurite (test helper)", () => {
  let azurite: AzuriteInstance;
  beforeAll(async () => {
    azurite = await startAzurite();
  });
  afterAll(async () => {
    await azurite?.stop();
  });

  it("answers the SDK on a loopback port, and is gone after kill()", async () => {
    expect(azurite.blobEndpoint).toContain(`127.0.0.1:${azurite.port}`);
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString, {
      retryOptions: { maxTries: 1 },
    });
    const container = service.getContainerClient("helper-check");
    await container.create();
    await container.getBlockBlobClient("a").upload("hello", 5);
    const props = await container.getBlockBlobClient("a").getProperties();
    expect(props.contentLength).toBe(5);
    azurite.kill();
    await expect(
      container.getBlockBlobClient("a").getProperties({ abortSignal: AbortSignal.timeout(5000) }),
    ).rejects.toThrow();
  });
});
