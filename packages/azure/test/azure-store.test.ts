import { createHash, randomBytes, randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlobServiceClient } from "@azure/storage-blob";
import { AzureBlobEvidenceStore } from "@custody/azure";
import { isCustodyError, type Logger } from "@custody/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AzuriteInstance, startAzurite, uniqueContainer, useAzurite } from "./azurite.js";

const MiB = 1024 * 1024;

/** `count` distinct 1 MiB chunks, optionally aborting or pausing after `stopAfter` of them. */
async function* body(count: number, onChunk?: (i: number) => Promise<void> | void): AsyncGenerator<Buffer> {
  for (let i = 0; i < count; i += 1) {
    await onChunk?.(i);
    yield Buffer.alloc(MiB, createHash("sha256").update(String(i)).digest());
  }
}

function digestOf(count: number): string {
  const hash = createHash("sha256");
  for (let i = 0; i < count; i += 1)
    hash.update(Buffer.alloc(MiB, createHash("sha256").update(String(i)).digest()));
  return hash.digest("hex");
}

const sha256Hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

function recordingLogger(): Logger & { records: object[] } {
  const records: object[] = [];
  const push = (o: object) => {
    records.push(o);
  };
  return { records, debug: push, info: push, warn: push, error: push };
}

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  return promise.then(
    () => undefined,
    (e: unknown) => (isCustodyError(e) ? e.code : `not a CustodyError: ${String(e)}`),
  );
}

describe("AzureBlobEvidenceStore on Azurite", () => {
  let azurite: AzuriteInstance;
  beforeAll(async () => {
    azurite = await useAzurite();
  });
  afterAll(async () => {
    await azurite?.stop();
  });
  const open = (extra: object = {}) =>
    AzureBlobEvidenceStore.open({
      connectionString: azurite.connectionString,
      containerName: `t-${randomUUID().slice(0, 8)}`,
      createContainer: true,
      blockSizeBytes: MiB,
      ...extra,
    });

  it("reports that Azurite enforces neither retention nor legal hold (it answers 501)", async () => {
    const store = await open();
    expect(store.capabilities).toEqual({
      backend: "azure-blob",
      immutability: "library",
      retention: "library",
      legalHold: "library",
      resumableUploads: true,
    });
  });

  it("resumes an interrupted upload from its staged blocks, and shows no partial object meanwhile", async () => {
    const logger = recordingLogger();
    const store = await open({ logger, concurrency: 1 });
    const controller = new AbortController();
    const first = store.create(
      "big",
      body(12, (i) => {
        if (i === 8) controller.abort();
      }),
      { abortSignal: controller.signal },
    );
    expect(await codeOf(first)).toBe("ERR_ABORTED");
    expect(await codeOf(store.head("big"))).toBe("ERR_NOT_FOUND");
    const listed: string[] = [];
    for await (const o of store.list()) listed.push(o.key);
    expect(listed).toEqual([]);
    const record = await store.create("big", body(12));
    expect(record.sha256).toBe(digestOf(12));
    expect(logger.records).toContainEqual(
      expect.objectContaining({ key: "big", reusedBlocks: expect.any(Number) }),
    );
    const resumed = logger.records.find((r) => "reusedBlocks" in r) as { reusedBlocks: number };
    expect(resumed.reusedBlocks).toBeGreaterThanOrEqual(4);
  });

  it("never reuses a staged block holding other bytes", async () => {
    const store = await open({ concurrency: 1 });
    const controller = new AbortController();
    await codeOf(
      store.create(
        "k",
        body(6, (i) => (i === 4 ? controller.abort() : undefined)),
        { abortSignal: controller.signal },
      ),
    );
    const other = async function* () {
      for (let i = 0; i < 6; i += 1) yield Buffer.alloc(MiB, i + 100);
    };
    const record = await store.create("k", other());
    const expected = createHash("sha256");
    for (let i = 0; i < 6; i += 1) expected.update(Buffer.alloc(MiB, i + 100));
    expect(record.sha256).toBe(expected.digest("hex"));
    const back = createHash("sha256");
    for await (const chunk of await store.read("k")) back.update(chunk as Buffer);
    expect(back.digest("hex")).toBe(record.sha256);
  });

  it("reads a whole-file body straight into its blocks, and resumes it after an abort", async () => {
    const dir = await mkdtemp(join(tmpdir(), "custody-azure-file-"));
    try {
      const file = join(dir, "evidence.bin");
      const content = randomBytes(5 * MiB + 12_345);
      await writeFile(file, content);
      const logger = recordingLogger();
      const store = await open({ logger, concurrency: 1 });
      const controller = new AbortController();
      const onProgress = (bytes: number) => (bytes >= 4 * MiB ? controller.abort() : undefined);
      const first = store.create("file", createReadStream(file), {
        abortSignal: controller.signal,
        onProgress,
      });
      expect(await codeOf(first)).toBe("ERR_ABORTED");
      const source = createReadStream(file);
      const seen: number[] = [];
      const record = await store.create("file", source, { onProgress: (n) => seen.push(n) });
      expect(record).toMatchObject({ size: content.length, sha256: sha256Hex(content) });
      // Not consumed as a stream: the store read the file itself.
      expect(source.bytesRead).toBe(0);
      expect(seen.at(-1)).toBe(content.length);
      const resumed = logger.records.find((r) => "reusedBlocks" in r) as { reusedBlocks: number };
      expect(resumed.reusedBlocks).toBeGreaterThanOrEqual(2);
      const back: Buffer[] = [];
      for await (const chunk of await store.read("file")) back.push(chunk as Buffer);
      expect(Buffer.concat(back).equals(content)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("maps failures to distinct codes", async () => {
    expect(await codeOf(AzureBlobEvidenceStore.open({ containerName: "x" } as never))).toBe(
      "ERR_INVALID_ARGUMENT",
    );
    expect(
      await codeOf(
        AzureBlobEvidenceStore.open({
          connectionString: azurite.connectionString,
          containerName: "Bad_Name",
        }),
      ),
    ).toBe("ERR_INVALID_ARGUMENT");
    expect(
      await codeOf(
        AzureBlobEvidenceStore.open({
          connectionString: azurite.connectionString,
          containerName: uniqueContainer("missing-container"),
        }),
      ),
    ).toBe("ERR_NOT_FOUND");
    const refused = azurite.connectionString.replace(`:${azurite.port}/`, ":1/");
    expect(
      await codeOf(
        AzureBlobEvidenceStore.open({
          connectionString: refused,
          containerName: "any",
          retryOptions: { maxTries: 1 },
        }),
      ),
    ).toBe("ERR_BACKEND_UNAVAILABLE");
  });

  it("reports a blob without a custody record instead of guessing", async () => {
    const foreign = uniqueContainer("foreign");
    const store = await open({ containerName: foreign });
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      foreign,
    );
    await container.getBlockBlobClient("stray").upload("x", 1);
    expect(await codeOf(store.head("stray"))).toBe("ERR_INTEGRITY_MISMATCH");
    expect(await codeOf(store.create("stray", body(1)))).toBe("ERR_INTEGRITY_MISMATCH");
    await store.create("proper", body(1));
    const results = [];
    for await (const r of store.verify?.() ?? []) results.push([r.key, r.kind]);
    expect(results).toEqual([
      ["proper", "ok"],
      ["stray", "error"],
    ]);
  });
});

describe("AzureBlobEvidenceStore when Azurite dies mid-upload", () => {
  let location: string;
  beforeAll(async () => {
    location = await mkdtemp(join(tmpdir(), "custody-azurite-disk-"));
  });
  afterAll(async () => {
    await rm(location, { recursive: true, force: true });
  });

  it("fails cleanly with ERR_BACKEND_UNAVAILABLE, shows no partial object, and the retry completes", async () => {
    const first = await startAzurite({ location });
    const options = {
      connectionString: first.connectionString,
      containerName: "killed",
      createContainer: true,
      blockSizeBytes: MiB,
      concurrency: 2,
      retryOptions: { maxTries: 1, tryTimeoutInMs: 5000 },
    };
    let restarted: AzuriteInstance | undefined;
    try {
      const store = await AzureBlobEvidenceStore.open(options);
      const killed = store.create(
        "evidence",
        body(24, (i) => {
          if (i === 10) first.kill();
        }),
      );
      expect(await codeOf(killed)).toBe("ERR_BACKEND_UNAVAILABLE");
      await first.stop();
      restarted = await startAzurite({ location, port: first.port });
      const again = await AzureBlobEvidenceStore.open(options);
      expect(await codeOf(again.head("evidence"))).toBe("ERR_NOT_FOUND");
      const record = await again.create("evidence", body(24));
      expect(record.sha256).toBe(digestOf(24));
      const back = createHash("sha256");
      for await (const chunk of await again.read("evidence")) back.update(chunk as Buffer);
      expect(back.digest("hex")).toBe(record.sha256);
    } finally {
      first.kill();
      await restarted?.stop();
    }
  }, 120_000);
});
