import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  createInclusionBundle,
  FileAuditSource,
  openFileAuditLog,
  verifyAuditLog,
  verifyInclusionBundle,
} from "@custody/audit";
import { sampleEvent } from "@custody/audit/conformance";
import { type Clock, canonicalJson, canonicalJsonBytes } from "@custody/core";
import { MerkleAccumulator, merkleLeafHash } from "@custody/hash";
import { createKeySigner, type Signer, verifyDetached } from "@custody/manifest";
import { afterAll, describe, expect, it } from "vitest";
import { readLines } from "./attacker.js";
import { createTestPki, issueRoleCertificate, tempDir } from "./fixtures.js";

const pki = await createTestPki();
const collectorCert = await issueRoleCertificate(pki.ca, "collector", "field responder");
/** The key copied to responders' machines: under the same CA, but not the vault's signer. */
const collector: Signer = createKeySigner({
  keyPem: collectorCert.keyPem,
  certificatePem: collectorCert.certificatePem,
});
/**
 * Whether @custody/manifest enforces `requiredRole` yet (it is being added beside this change). Until it
 * does, the role tests below are skipped; once it lands they run, and must pass.
 */
const rolesEnforced = await (async () => {
  const data = Buffer.from("probe");
  try {
    verifyDetached(data, await collector.sign(data), { ...pki.trust, requiredRole: "vault-signer" });
    return false;
  } catch {
    return true;
  }
})();

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

async function newDir(): Promise<string> {
  const temp = await tempDir("signer");
  cleanups.push(temp.remove);
  return join(temp.dir, "log");
}

const later = (ms: number): Clock => ({ now: () => new Date(Date.now() + ms) });
const HOUR = 3_600_000;

describe("checkpoints are the vault signer's", () => {
  // Needs the manifest's requiredRole (skipped, and reported, until it is merged).
  it.skipIf(!rolesEnforced)("refuses a log rewritten and re-signed with a collector's key", async () => {
    const dir = await newDir();
    const log = await openFileAuditLog({ dir, signer: pki.signer, checkpointIntervalMs: 0 });
    for (let i = 0; i < 5; i += 1) await log.append(sampleEvent());
    await log.close();
    // The attacker edits record 2, recomputes the chain and the root, and signs a new checkpoint 5.
    const lines = await readLines(dir);
    const tree = new MerkleAccumulator();
    let prev = "0".repeat(64);
    const rewritten = lines.map((line, i) => {
      const { hash: _old, ...body } = line;
      const edited = { ...body, prev, ...(i === 2 ? { reason: "nothing happened" } : {}) };
      const hash = createHash("sha256").update(canonicalJson(edited)).digest("hex");
      prev = hash;
      tree.append(merkleLeafHash(Buffer.from(hash, "hex")));
      return canonicalJson({ ...edited, hash });
    });
    await writeFile(join(dir, "audit.log"), `${rewritten.join("\n")}\n`);
    const checkpoint = canonicalJsonBytes({
      format: "custody.audit.checkpoint/v1",
      treeSize: 5,
      rootHash: tree.root().toString("hex"),
      time: new Date().toISOString(),
      prevCheckpoint: null,
    });
    await writeFile(join(dir, "checkpoints", "000000000005.json"), checkpoint);
    await writeFile(join(dir, "checkpoints", "000000000005.p7s"), await collector.sign(checkpoint));
    const report = await verifyAuditLog({ dir }, { trust: pki.trust });
    expect(report.ok).toBe(false);
    expect(report.problem).toMatchObject({ kind: "checkpoint-invalid", treeSize: 5 });
  });

  it.skipIf(!rolesEnforced)(
    "refuses an inclusion bundle whose checkpoint a collector re-signed",
    async () => {
      const dir = await newDir();
      const log = await openFileAuditLog({ dir, signer: pki.signer, checkpointIntervalMs: 0 });
      await log.append(sampleEvent());
      const signed = await log.checkpoint();
      await log.close();
      const bundle = await createInclusionBundle(new FileAuditSource(dir), 0, {
        ...signed,
        signature: await collector.sign(signed.bytes),
      });
      expect(() => verifyInclusionBundle(bundle, { trust: pki.trust })).toThrow(
        expect.objectContaining({ code: "ERR_AUDIT_CHECKPOINT_INVALID" }),
      );
    },
  );

  it("refuses a checkpoint whose stated time is not its signing time", async () => {
    const dir = await newDir();
    // The log's clock runs an hour ahead of the signer's: the checkpoint claims a time it was not signed at.
    const log = await openFileAuditLog({
      dir,
      signer: pki.signer,
      clock: later(HOUR),
      checkpointIntervalMs: 0,
    });
    await log.append(sampleEvent());
    await log.close();
    const report = await verifyAuditLog({ dir }, { trust: { ...pki.trust, clock: later(2 * HOUR) } });
    expect(report.problem).toMatchObject({
      code: "ERR_AUDIT_CHECKPOINT_INVALID",
      kind: "checkpoint-invalid",
    });
    expect(report.problem?.message).toMatch(/signed at/);
  });

  it("refuses checkpoint times that go backwards along the chain", async () => {
    const dir = await newDir();
    let offset = 2 * HOUR;
    const clock: Clock = { now: () => new Date(Date.now() + offset) };
    const signer = createKeySigner({
      keyPem: pki.leaf.keyPem,
      certificatePem: pki.leaf.certificatePem,
      clock,
    });
    const log = await openFileAuditLog({ dir, signer, clock, checkpointIntervalMs: 0 });
    await log.append(sampleEvent());
    await log.checkpoint();
    offset = HOUR;
    await log.append(sampleEvent());
    await log.close();
    const report = await verifyAuditLog({ dir }, { trust: { ...pki.trust, clock: later(3 * HOUR) } });
    expect(report.problem).toMatchObject({ kind: "checkpoint-chain", treeSize: 2 });
    expect(report.problem?.message).toMatch(/before the checkpoint it follows/);
  });

  it("accepts the vault signer's own checkpoints", async () => {
    const dir = await newDir();
    const log = await openFileAuditLog({ dir, signer: pki.signer, checkpointIntervalMs: 0 });
    await log.append(sampleEvent());
    await log.close();
    expect(await verifyAuditLog({ dir }, { trust: pki.trust })).toMatchObject({ ok: true, checkpoints: 1 });
  });
});
