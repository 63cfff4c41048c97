import { createHash, randomBytes, randomUUID } from "node:crypto";
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import { type AuditLog, type AuditRecord, verifyAuditLog } from "@custody/audit";
import { AzureAuditSource, openAzureAuditLog } from "@custody/azure";
import { canonicalJson, isCustodyError } from "@custody/core";
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
let signer: Signer;
let trustAnchors: string[];
const sealKey = randomBytes(32);

beforeAll(async () => {
  azurite = await useAzurite();
  const service = BlobServiceClient.fromConnectionString(azurite.connectionString, {
    retryOptions: { maxTries: 1 },
  });
  container = service.getContainerClient(uniqueContainer("audit-shared"));
  const ca = await createCertificateAuthority({ commonName: "Shared Audit CA", keyBits: 2048 });
  const leaf = await issueCertificate(ca, { commonName: "vault", usage: "vault-signer", keyBits: 2048 });
  signer = createKeySigner({ keyPem: leaf.keyPem, certificatePem: leaf.certificatePem });
  trustAnchors = [ca.certificatePem];
}, 60_000);
afterAll(async () => {
  await azurite?.stop();
});

/** Appends like a vault does on a shared log: a lost race means catch up, decide again, retry. */
async function appendDecided(
  log: AuditLog,
  make: () => Parameters<AuditLog["append"]>[0],
): Promise<AuditRecord> {
  for (;;) {
    await log.catchUp();
    try {
      return await log.append(make());
    } catch (error) {
      if (!isCustodyError(error, "ERR_AUDIT_RACE")) throw error;
    }
  }
}

describe("an Azure audit log shared by several writers", () => {
  it("three writers with ten appenders each: no fork, no lost or duplicated record, checkpoints in one chain", async () => {
    const location = { containerClient: container, prefix: `${randomUUID()}/`, maxSegmentBlocks: 25 };
    const open = () =>
      openAzureAuditLog({
        ...location,
        shared: true,
        signer,
        sealKey,
        checkpointEvery: 40,
        checkpointIntervalMs: 0,
      });
    const first = await open();
    await first.append({
      actor: "w0",
      action: "test.start",
      target: "log",
      outcome: "allow",
      reason: "first",
    });
    const logs = [first, await open(), await open()];
    const seenBy = logs.map(() => new Set<number>());
    const acked: AuditRecord[] = [];
    await Promise.all(
      logs.flatMap((log, w) =>
        Array.from({ length: 10 }, async (_, a) => {
          for (let i = 0; i < 8; i += 1) {
            const record = await appendDecided(log, () => ({
              actor: `writer-${w}`,
              action: "test.append",
              target: `w${w}/a${a}/${i}`,
              outcome: "allow",
              reason: "shared writers",
            }));
            seenBy[w]?.add(record.seq);
            acked.push(record);
          }
        }),
      ),
    );
    for (const log of logs) await log.close();
    expect(acked).toHaveLength(240);
    const source = new AzureAuditSource(location);
    const report = await verifyAuditLog(source, { trust: { trustAnchors } });
    expect(report.problem).toBeUndefined();
    expect(report).toMatchObject({ ok: true, records: 241 });
    expect((await source.listSegments()).length).toBeGreaterThan(1);
    const stored = new Map<number, string>();
    const reader = await openAzureAuditLog({
      ...location,
      shared: true,
      signer,
      sealKey,
      checkpointIntervalMs: 0,
    });
    for await (const record of reader.read()) stored.set(record.seq, `${record.hash} ${record.target}`);
    await reader.close();
    for (const record of acked) expect(stored.get(record.seq)).toBe(`${record.hash} ${record.target}`);
    expect(new Set(acked.map((r) => r.target)).size).toBe(240);
  }, 240_000);

  it("refuses to follow a record another writer appended without the seal key", async () => {
    const location = { containerClient: container, prefix: `${randomUUID()}/` };
    const open = (key?: Buffer) =>
      openAzureAuditLog({
        ...location,
        shared: true,
        signer,
        ...(key ? { sealKey: key } : {}),
        checkpointIntervalMs: 0,
      });
    const honest = await open(sealKey);
    await honest.append({ actor: "a", action: "test", target: "t", outcome: "allow", reason: "r" });
    // Someone with write access to the container but no seal key appends a well-formed, chained record.
    const last = await honest.append({
      actor: "a",
      action: "test",
      target: "t2",
      outcome: "allow",
      reason: "r",
    });
    const forged = {
      action: "test",
      actor: "mallory",
      details: {},
      outcome: "allow",
      prev: last.hash,
      reason: "forged",
      seq: last.seq + 1,
      target: "t",
      time: new Date().toISOString(),
    };
    const hash = createHash("sha256").update(canonicalJson(forged)).digest("hex");
    const line = `${canonicalJson({ ...forged, hash })}\n`;
    await container
      .getAppendBlobClient(`${location.prefix}log/00000000.jsonl`)
      .appendBlock(line, Buffer.byteLength(line));
    const error = await honest.catchUp().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isCustodyError(error) ? error.code : error).toBe("ERR_AUDIT_UNSEALED_TAIL");
  }, 60_000);
});
