import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canonicalJson, isCustodyError } from "@custody/core";
import { Vault } from "@custody/vault";
import { afterAll, describe, expect, it } from "vitest";

// Promises of packages/vault/README.md that had no test of their own, each played on a real vault.
const work = mkdtempSync(join(tmpdir(), "custody-vault-claims-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const auditRecords = (dir: string) =>
  readFileSync(join(dir, "audit", "audit.log"), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { actor: string; action: string; outcome: string; target: string });

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
}

describe("a custody.vault/v1 folder", () => {
  it("is refused with ERR_UNSUPPORTED_VERSION, and the current format still opens", async () => {
    const dir = join(work, "old");
    const { vault } = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
    await vault.close();
    const configPath = join(dir, "vault.json");
    const config = readFileSync(configPath, "utf8");
    const reopened = await Vault.open({ dir });
    await reopened.close();

    writeFileSync(configPath, config.replace(/"format":\s*"[^"]+"/, '"format":"custody.vault/v1"'));
    const error = await failure(Vault.open({ dir }));
    expect(isCustodyError(error, "ERR_UNSUPPORTED_VERSION"), String(error)).toBe(true);
  });
});

describe("withCollector", () => {
  it("records the use before the collector key signs, and lends it to nobody the policy refuses", async () => {
    const dir = join(work, "collector");
    const { vault, identityPem } = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
    try {
      const alice = vault.authenticate(identityPem);
      const ivan = vault.authenticate((await vault.issueIdentity(alice, "ivan")).identityPem);
      let lent = 0;
      const denied = await failure(
        vault.withCollector(ivan, { caseId: "IR-1", target: "package:p1" }, async () => {
          lent += 1;
        }),
      );
      expect(isCustodyError(denied, "ERR_ACCESS_DENIED"), String(denied)).toBe(true);
      expect(lent).toBe(0);
      expect(auditRecords(dir).at(-1)).toMatchObject({
        actor: "ivan",
        outcome: "deny",
        target: "package:p1",
      });

      const signature = await vault.withCollector(
        alice,
        { caseId: "IR-1", target: "package:p2" },
        (signer) => {
          // the decision is durable in the log before the key is handed over
          expect(auditRecords(dir).at(-1)).toMatchObject({
            actor: "alice",
            action: "evidence.ingest",
            outcome: "allow",
            target: "package:p2",
          });
          return signer.sign(Buffer.from("package bytes"));
        },
      );
      expect(signature.length).toBeGreaterThan(0);
    } finally {
      await vault.close();
    }
  });
});

describe("list", () => {
  it("lists an item whose stored record was edited from the log, with a finding", async () => {
    const dir = join(work, "listing");
    const { vault, identityPem } = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
    try {
      const alice = vault.authenticate(identityPem);
      writeFileSync(join(work, "evidence.txt"), "listed evidence\n");
      const item = await vault.ingest(alice, join(work, "evidence.txt"), { caseId: "A" });
      const [honest] = await vault.list(alice, { caseId: "A" });
      expect(honest?.finding).toBeUndefined();

      const meta = join(dir, "store", "objects", "items", sha256("A"), `=${item.id}`, "meta.json");
      const stored = JSON.parse(readFileSync(meta, "utf8"));
      const record = JSON.parse(Buffer.from(stored.metadata.custodyrecord, "base64url").toString("utf8"));
      record.acquisition.by = "mallory";
      stored.metadata.custodyrecord = Buffer.from(canonicalJson(record)).toString("base64url");
      writeFileSync(meta, JSON.stringify(stored));

      const [listed] = await vault.list(alice, { caseId: "A" });
      expect(listed?.id).toBe(item.id);
      expect(listed?.acquisition.by).toBe("alice");
      expect(listed?.finding).toEqual(expect.any(String));
    } finally {
      await vault.close();
    }
  });
});
