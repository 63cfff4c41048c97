import { BlobServiceClient } from "@azure/storage-blob";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AzuriteInstance,
  SHARED_AZURITE_ENV,
  startAzurite,
  uniqueContainer,
  useAzurite,
} from "./azurite.js";

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

describe("useAzurite (test helper)", () => {
  it("hands every file the run's one Azurite, which a file's stop() leaves running", async () => {
    const published = process.env[SHARED_AZURITE_ENV];
    expect(published, "vitest.config.ts's global setup publishes the shared Azurite").toBeTruthy();
    const first = await useAzurite();
    const second = await useAzurite();
    expect(first.port).toBe(JSON.parse(published ?? "{}").port);
    expect(second.connectionString).toBe(first.connectionString);
    expect(() => first.kill()).toThrow(/startAzurite/);
    await first.stop();
    const name = uniqueContainer("shared-check");
    expect(name).toMatch(/^shared-check-[0-9a-f]{8}$/);
    const container = BlobServiceClient.fromConnectionString(second.connectionString, {
      retryOptions: { maxTries: 1 },
    }).getContainerClient(name);
    await container.create();
    await container.getBlockBlobClient("a").upload("still up", 8);
    expect((await container.getBlockBlobClient("a").getProperties()).contentLength).toBe(8);
    await container.delete();
  });
});
