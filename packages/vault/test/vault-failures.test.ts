import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCustodyError } from "@custody/core";
import { readRevokedSerials } from "@custody/manifest";
import { Vault } from "@custody/vault";
import { afterAll, describe, expect, it } from "vitest";

const work = mkdtempSync(join(tmpdir(), "custody-vault-failures-"));
afterAll(() => {
  try {
    execFileSync("umount", [join(work, "full", "store")], { stdio: "ignore" });
  } catch {}
  rmSync(work, { recursive: true, force: true });
});

const records = (dir: string) =>
  readFileSync(join(dir, "audit", "audit.log"), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { action: string; outcome: string; reason: string; target: string });

/** Mounts a small tmpfs where the vault keeps its evidence; false where this machine does not allow it. */
function smallDisk(at: string): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", at], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("the vault under failure", () => {
  it("refuses an ingest that fills the disk with a code, records the error, and leaves nothing behind", async (test) => {
    const dir = join(work, "full");
    const { vault, identityPem } = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
    await vault.close();
    rmSync(join(dir, "store"), { recursive: true, force: true });
    mkdirSync(join(dir, "store"));
    if (!smallDisk(join(dir, "store"))) test.skip();
    const reopened = await Vault.open({ dir });
    const alice = reopened.authenticate(identityPem);
    writeFileSync(join(work, "big.bin"), Buffer.alloc(1024 * 1024, 7));
    const error = await reopened
      .ingest(alice, join(work, "big.bin"), { caseId: "A" })
      .catch((e: unknown) => e);
    expect(isCustodyError(error, "ERR_STORAGE_FULL"), String(error)).toBe(true);
    await reopened.close();
    const ingest = records(dir).filter((r) => r.action.startsWith("evidence.ingest"));
    // The bytes are staged before the decision (one read): the disk filled up before it, so only the error.
    expect(ingest.map((r) => `${r.action} ${r.outcome}`)).toEqual(["evidence.ingest error"]);
    expect(ingest[0]?.reason).toContain("ERR_STORAGE_FULL");
    const left = readdirSync(join(dir, "store"), { recursive: true }).filter((n) =>
      String(n).includes("data"),
    );
    expect(left).toEqual([]);
    const again = await Vault.open({ dir });
    expect(await again.list(again.authenticate(identityPem))).toEqual([]);
    await again.close();
  });

  it("finishes a revocation whose CRL a crash never wrote: the log decides, the CRL follows at open", async () => {
    const dir = join(work, "revoking");
    const { vault, identityPem } = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
    const alice = vault.authenticate(identityPem);
    const eve = await vault.issueIdentity(alice, "eve");
    const crlBefore = readFileSync(join(dir, "pki", "crl.pem"), "utf8");
    const outcome = await vault.revokeIdentity(alice, "eve");
    expect(outcome.status).toBe("done");
    await vault.close();
    // The crash: the revocation is in the log, the CRL is the old one.
    writeFileSync(join(dir, "pki", "crl.pem"), crlBefore);
    const reopened = await Vault.open({ dir });
    expect(() => reopened.authenticate(eve.identityPem)).toThrow(
      expect.objectContaining({ code: "ERR_IDENTITY_INVALID" }),
    );
    const ca = readFileSync(join(dir, "pki", "ca.pem"), "utf8");
    expect(
      readRevokedSerials(readFileSync(join(dir, "pki", "crl.pem"), "utf8"), ca).has(eve.serialNumber),
    ).toBe(true);
    await reopened.close();
  });

  it("refuses a corrupt revocation list with a code", async () => {
    const dir = join(work, "revoking");
    writeFileSync(join(dir, "pki", "crl.pem"), "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n");
    const error = await Vault.open({ dir }).catch((e: unknown) => e);
    expect(isCustodyError(error, "ERR_MALFORMED_CRL"), String(error)).toBe(true);
  });

  it("never gives a device a person's name", async () => {
    const dir = join(work, "names");
    const { vault, identityPem } = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
    const alice = vault.authenticate(identityPem);
    const error = await vault.issueIdentity(alice, "alice", "device").catch((e: unknown) => e);
    expect(isCustodyError(error, "ERR_CONFLICT")).toBe(true);
    await vault.close();
  });
});
