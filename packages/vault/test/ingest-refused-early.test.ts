import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { type AuthenticatedPrincipal, Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// A caller whom no grant allows to ingest into a case, whatever device a package could name, is refused
// before the vault reads a byte of what it was given: no copy, no hash, nothing staged, one denial.

const work = mkdtempSync(join(tmpdir(), "custody-ingest-refused-"));
const dir = join(work, "vault");
let vault: Vault;
let alice: AuthenticatedPrincipal;
let rita: AuthenticatedPrincipal;
let collector: AuthenticatedPrincipal;

beforeAll(async () => {
  const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
  vault = created.vault;
  alice = vault.authenticate(created.identityPem);
  rita = vault.authenticate((await vault.issueIdentity(alice, "rita")).identityPem);
  await vault.grant(alice, { name: "rita", role: "responder", scope: "case:MINE" });
  collector = vault.authenticate((await vault.issueIdentity(alice, "host-7", "device")).identityPem);
  await vault.grant(alice, { name: "host-7", role: "collector", scope: "device:host-7" });
});

afterAll(async () => {
  await vault.close();
  rmSync(work, { recursive: true, force: true });
});

async function auditLines(): Promise<
  { action: string; outcome: string; target: string; details: Record<string, unknown> }[]
> {
  const text = await readFile(join(dir, "audit", "audit.log"), "utf8");
  return text
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
}

describe("an ingest no grant could allow", () => {
  it("is refused before the file is even looked at: a missing file, and a large one, are both ERR_ACCESS_DENIED", async () => {
    const large = join(work, "large.bin");
    writeFileSync(large, randomBytes(40 * 1024 * 1024));
    const before = (await auditLines()).length;
    for (const file of [join(work, "no-such-file"), large]) {
      await expect(vault.ingest(rita, file, { caseId: "OTHER" })).rejects.toMatchObject({
        code: "ERR_ACCESS_DENIED",
      });
    }
    // the granted case still looks at the file: a missing one is not found there
    await expect(vault.ingest(rita, join(work, "no-such-file"), { caseId: "MINE" })).rejects.toMatchObject({
      code: "ERR_NOT_FOUND",
    });
    const denials = (await auditLines()).slice(before).filter((r) => r.outcome === "deny");
    expect(denials).toHaveLength(2);
    for (const denial of denials) {
      expect(denial).toMatchObject({
        action: "evidence.ingest",
        target: "case:OTHER",
        details: expect.objectContaining({ bytesRead: 0, caseId: "OTHER" }),
      });
    }
    expect(await readdir(join(dir, "store", "tmp"))).toEqual([]);
    expect(await vault.list(alice, { caseId: "OTHER" })).toEqual([]);
  });

  it("refuses a stream before reading it: the body is destroyed unread", async () => {
    let pulled = 0;
    const body = new Readable({
      read() {
        pulled += 1;
        this.push(Buffer.alloc(64 * 1024));
      },
    });
    await expect(
      vault.ingestStream(rita, body, { caseId: "OTHER", name: "upload.bin" }),
    ).rejects.toMatchObject({ code: "ERR_ACCESS_DENIED" });
    expect(pulled).toBe(0);
    expect(body.destroyed).toBe(true);
  });

  it("lets a device's collector through the first gate: its grant could allow a package from its device", async () => {
    // the gate passes, the file is read, and the decision with the file's (missing) device refuses it
    const plain = join(work, "plain.txt");
    writeFileSync(plain, "not a package\n");
    const before = (await auditLines()).length;
    await expect(vault.ingest(collector, plain, { caseId: "ANY" })).rejects.toMatchObject({
      code: "ERR_ACCESS_DENIED",
    });
    const denial = (await auditLines()).slice(before).find((r) => r.outcome === "deny");
    // decided on the item (its digest known), not refused at the gate on the case
    expect(denial?.target).toMatch(/^item:ANY\//);
  });
});
