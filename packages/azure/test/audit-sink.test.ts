import { randomUUID } from "node:crypto";
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import { verifyAuditLog } from "@custody/audit";
import { expectCode, sampleEvent, testAuditSink } from "@custody/audit/conformance";
import { AzureAuditSink, AzureAuditSource, openAzureAuditLog } from "@custody/azure";
import {
  createCertificateAuthority,
  createKeySigner,
  issueCertificate,
  type Signer,
} from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AzuriteInstance, uniqueContainer, useAzurite } from "./azurite.js";

let azurite: AzuriteInstance;
let container: ContainerClient;
beforeAll(async () => {
  azurite = await useAzurite();
  const service = BlobServiceClient.fromConnectionString(azurite.connectionString, {
    retryOptions: { maxTries: 1 },
  });
  container = service.getContainerClient(uniqueContainer("audit-conformance"));
});
afterAll(async () => {
  await azurite?.stop();
});

// The same suite as the file sink, each test on its own prefix of one Azurite container.
testAuditSink("azure (Azurite)", async () => {
  const location = { containerClient: container, prefix: `${randomUUID()}/` };
  return {
    openSink: () => AzureAuditSink.open(location),
    source: () => new AzureAuditSource(location),
  };
});

describe("azure audit sink specifics", () => {
  let signer: Signer;
  let trustAnchors: string[];
  beforeAll(async () => {
    const ca = await createCertificateAuthority({ commonName: "Azure Audit CA", keyBits: 2048 });
    const leaf = await issueCertificate(ca, { commonName: "vault", usage: "vault-signer", keyBits: 2048 });
    signer = createKeySigner({ keyPem: leaf.keyPem, certificatePem: leaf.certificatePem });
    trustAnchors = [ca.certificatePem];
  });

  it("rolls to a new sealed-off segment before the block limit, and reads across segments", async () => {
    const location = { containerClient: container, prefix: `${randomUUID()}/`, maxSegmentBlocks: 4 };
    const log = await openAzureAuditLog({ ...location, signer, checkpointIntervalMs: 0, checkpointEvery: 5 });
    const records = [];
    for (let i = 0; i < 13; i += 1) records.push(await log.append(sampleEvent(i)));
    await log.close();
    const source = new AzureAuditSource(location);
    const segments = await source.listSegments();
    expect(segments.map((s) => s.index)).toEqual([0, 1, 2, 3]);
    expect(segments.slice(0, -1).every((s) => s.sealed && s.blocks === 4)).toBe(true);
    const report = await verifyAuditLog(source, { trust: { trustAnchors } });
    expect(report).toMatchObject({ ok: true, records: 13 });
    const reopened = await openAzureAuditLog({ ...location, signer, checkpointIntervalMs: 0 });
    const read = [];
    for await (const record of reopened.read()) read.push(record);
    expect(read).toEqual(records);
    expect((await reopened.append(sampleEvent())).seq).toBe(13);
    await reopened.close();
  });

  it("a writer that lost a segment roll to another writer fails with ERR_AUDIT_RACE", async () => {
    const location = { containerClient: container, prefix: `${randomUUID()}/`, maxSegmentBlocks: 2 };
    const options = { ...location, signer, checkpointIntervalMs: 0 };
    const first = await openAzureAuditLog(options);
    await first.append(sampleEvent());
    const second = await openAzureAuditLog(options);
    await second.append(sampleEvent());
    await second.append(sampleEvent()); // seals segment 0 and starts segment 1
    await expectCode(first.append(sampleEvent()), "ERR_AUDIT_RACE");
    await second.close();
    await first.close();
    const report = await verifyAuditLog(new AzureAuditSource(location), { trust: { trustAnchors } });
    expect(report).toMatchObject({ ok: true, records: 3 });
  });

  it("sets aside a checkpoint signature whose body never got stored, and records it", async () => {
    const location = { containerClient: container, prefix: `${randomUUID()}/` };
    const log = await openAzureAuditLog({ ...location, signer, checkpointIntervalMs: 0 });
    await log.append(sampleEvent());
    await log.close();
    const orphan = container.getBlockBlobClient(`${location.prefix}checkpoints/000000000007.p7s`);
    await orphan.upload("half", 4);
    const reopened = await openAzureAuditLog({ ...location, signer, checkpointIntervalMs: 0 });
    const records = [];
    for await (const record of reopened.read({ since: 1 })) records.push(record);
    expect(records[0]?.details).toMatchObject({ kind: "incomplete-checkpoint", treeSize: 7 });
    expect(await orphan.exists()).toBe(false);
    const kept = container.getBlockBlobClient(String(records[0]?.details.keptAt));
    expect((await kept.downloadToBuffer()).toString()).toBe("half");
    await reopened.close();
    const report = await verifyAuditLog(new AzureAuditSource(location), { trust: { trustAnchors } });
    expect(report).toMatchObject({ ok: true, records: 2 });
  });

  it("reports an unreachable service as ERR_BACKEND_UNAVAILABLE", async () => {
    const dead = BlobServiceClient.fromConnectionString(azurite.connectionString.replace(/:\d+\//, ":9/"), {
      retryOptions: { maxTries: 1 },
    }).getContainerClient("nowhere");
    await expectCode(AzureAuditSink.open({ containerClient: dead }), "ERR_BACKEND_UNAVAILABLE");
  });
});
