import { createHash, randomBytes } from "node:crypto";
import { connect, createServer, type Server } from "node:net";
import {
  BlobSASPermissions,
  BlobServiceClient,
  generateBlobSASQueryParameters,
  type PageBlobClient,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";
import { acquire } from "@custody/acquire";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AzuriteInstance, uniqueContainer, useAzurite } from "../../azure/test/azurite.js";

// This file's container in the run's shared Azurite.
const SNAPSHOTS = uniqueContainer("snapshots");

import { expectCode, makeVault, readBack, storedObjectCount, type TestVault } from "./helpers.js";

const MIB = 1024 * 1024;
const ACCOUNT = "devstoreaccount1";
const FAST_RETRIES = { retries: 2, retryDelayMs: 0, rangeBytes: MIB };
let azurite: AzuriteInstance;
let t: TestVault;
let disk: Buffer;
let blob: PageBlobClient;
let sasUrl: string;

function credential(): StorageSharedKeyCredential {
  const key = /AccountKey=([^;]+)/.exec(azurite.connectionString)?.[1] ?? "";
  return new StorageSharedKeyCredential(ACCOUNT, key);
}

/** What Azure's "grant access" on a snapshot returns: a read-only SAS URL of a page blob. */
function readSas(client: PageBlobClient, expiresOn = new Date(Date.now() + 3_600_000)): string {
  const query = generateBlobSASQueryParameters(
    {
      containerName: client.containerName,
      blobName: client.name,
      permissions: BlobSASPermissions.parse("r"),
      expiresOn,
    },
    credential(),
  ).toString();
  return `${client.url}?${query}`;
}

/** A 10 MiB disk: random data in some pages, never-written pages (zeros) between them. */
async function pageBlobDisk(name: string): Promise<{ client: PageBlobClient; data: Buffer }> {
  const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
    SNAPSHOTS,
  );
  await container.createIfNotExists();
  const client = container.getPageBlobClient(name);
  const data = Buffer.alloc(10 * MIB);
  await client.create(data.length);
  for (const offset of [0, 3 * MIB, 9 * MIB]) {
    const part = randomBytes(MIB);
    part.copy(data, offset);
    await client.uploadPages(part, offset, part.length);
  }
  return { client, data };
}

interface RelayOptions {
  /** Once this many response bytes have passed, every connection is cut, and new ones too. */
  cutAfterBytes?: number;
  /** Awaited before each piece of a request is forwarded (to hold requests while the test acts). */
  gate?: () => Promise<void>;
}

/** A TCP relay to Azurite on loopback, to break or hold the conversation where a test needs it. */
function relay(options: RelayOptions): Promise<{ server: Server; url: (sas: string) => string }> {
  const limit = options.cutAfterBytes ?? Number.POSITIVE_INFINITY;
  let relayed = 0;
  const server = createServer((client) => {
    if (relayed >= limit) return client.destroy();
    const upstream = connect(azurite.port, "127.0.0.1");
    client.on("data", (chunk: Buffer) => {
      client.pause();
      void (options.gate?.() ?? Promise.resolve()).then(() => {
        upstream.write(chunk);
        client.resume();
      });
    });
    upstream.on("data", (chunk: Buffer) => {
      relayed += chunk.length;
      if (relayed >= limit) return close();
      client.write(chunk);
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      resolve({ server, url: (sas) => sas.replace(`:${azurite.port}/`, `:${port}/`) });
    }),
  );
}

beforeAll(async () => {
  azurite = await useAzurite();
  t = await makeVault("custody-acquire-blob-");
  ({ client: blob, data: disk } = await pageBlobDisk("vm-osdisk-snapshot"));
  sasUrl = readSas(blob);
});

afterAll(async () => {
  await t?.cleanup();
  await azurite?.stop();
});

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

describe("acquire an Azure snapshot through its SAS URL", () => {
  it("reads the page blob in ranges into an item whose bytes, digests and record check out; the SAS is never recorded", async () => {
    const item = await acquire(t.vault, t.alice, sasUrl, {
      caseId: "IR-18-az",
      name: "osdisk",
      blob: FAST_RETRIES,
    });
    expect(item.id).toBe(sha256(disk));
    expect(item.digests.md5).toBe(createHash("md5").update(disk).digest("hex"));
    expect(item.image?.source).toMatchObject({ kind: "azure-snapshot", path: blob.url, size: disk.length });
    expect(item.image?.source.identification).toMatchObject({ blobType: "PageBlob" });
    expect(JSON.stringify(item)).not.toContain("sig=");
    const report = await t.vault.report(t.alice, { id: item.id, caseId: "IR-18-az" });
    expect(JSON.stringify(report)).not.toContain("sig=");
    expect(await readBack(t, item.id)).toEqual({ sha256: item.id, size: disk.length });
    expect(await t.vault.check(t.alice, item.id)).toMatchObject([{ ok: true }]);
  });

  it("stores nothing when the service stops answering halfway, and a retry completes", async () => {
    const failing = await relay({ cutAfterBytes: 5 * MIB });
    try {
      const before = storedObjectCount(t);
      const broken = acquire(t.vault, t.alice, failing.url(sasUrl), {
        caseId: "IR-18-retry",
        blob: FAST_RETRIES,
      });
      await expectCode(broken, "ERR_BACKEND_UNAVAILABLE");
      expect(storedObjectCount(t)).toBe(before);
      expect(await t.vault.list(t.alice, { caseId: "IR-18-retry" })).toEqual([]);
      const audit = await t.vault.showAudit(t.alice);
      const ingests = audit.filter((record) => record.action === "evidence.ingest");
      expect(ingests.at(-1)).toMatchObject({ outcome: "error", target: "case:IR-18-retry" });
    } finally {
      failing.server.close();
    }
    const item = await acquire(t.vault, t.alice, sasUrl, { caseId: "IR-18-retry", blob: FAST_RETRIES });
    expect(item.id).toBe(sha256(disk));
  });

  it("refuses a snapshot that changes during acquisition (its ETag moves), storing nothing", async () => {
    const { client } = await pageBlobDisk("changing-disk");
    const before = storedObjectCount(t);
    // Requests wait at the relay while the snapshot is written, so the next range meets the new ETag.
    let write: Promise<unknown> = Promise.resolve();
    const holding = await relay({ gate: async () => void (await write) });
    const changing = acquire(t.vault, t.alice, holding.url(readSas(client)), {
      caseId: "IR-18-changing",
      blob: FAST_RETRIES,
      onProgress: (bytes) => {
        if (bytes === MIB) write = client.uploadPages(Buffer.alloc(512, 1), 8 * MIB, 512);
      },
    });
    await expectCode(changing, "ERR_SOURCE_CHANGED");
    holding.server.close();
    expect(storedObjectCount(t)).toBe(before);
  });

  it("refuses an expired SAS, a URL that is not https off loopback, and a missing blob", async () => {
    await expectCode(
      acquire(t.vault, t.alice, readSas(blob, new Date(Date.now() - 60_000)), {
        caseId: "IR-18-bad",
        blob: FAST_RETRIES,
      }),
      "ERR_ACCESS_DENIED",
    );
    await expectCode(
      acquire(t.vault, t.alice, "http://example.com/snapshots/disk?sig=x", { caseId: "IR-18-bad" }),
      "ERR_INVALID_ARGUMENT",
    );
    const container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
      SNAPSHOTS,
    );
    const missing = readSas(container.getPageBlobClient("no-such-snapshot"));
    await expectCode(
      acquire(t.vault, t.alice, missing, { caseId: "IR-18-bad", blob: FAST_RETRIES }),
      "ERR_NOT_FOUND",
    );
  });
});
