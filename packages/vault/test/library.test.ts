import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { AuditRecord } from "@custody/audit";
import { issueCertificate, readKeyPair, writeKeyPair } from "@custody/manifest";
import { type AuthenticatedPrincipal, Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LibraryLedger } from "../src/library-facts.js";

const run = promisify(execFile);

let dir: string;
let vaultDir: string;
let vault: Vault;
let alice: AuthenticatedPrincipal;
let aliceIdentity: string;

const script = Buffer.from('#!/bin/sh\necho hello "$1"\n');
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** A detached CMS signature made by openssl, the tool an operator would use. */
async function sign(bytes: Buffer, name: string, cert: string, key: string): Promise<Buffer> {
  const file = join(dir, name);
  await writeFile(file, bytes);
  await run("openssl", [
    "cms",
    "-sign",
    "-binary",
    "-md",
    "sha256",
    "-outform",
    "DER",
    "-in",
    file,
    "-signer",
    cert,
    "-inkey",
    key,
    "-out",
    `${file}.p7s`,
  ]);
  return readFile(`${file}.p7s`);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "custody-library-"));
  vaultDir = join(dir, "vault");
  const made = await Vault.init(vaultDir, { custodian: "alice", keyBits: 2048 });
  vault = made.vault;
  aliceIdentity = made.identityPem;
  alice = vault.authenticate(aliceIdentity);
  const ca = await readKeyPair(join(vaultDir, "pki"), "ca");
  await writeKeyPair(
    dir,
    "scripts",
    await issueCertificate(ca, { commonName: "scripts", usage: "code-signing", keyBits: 2048 }),
  );
}, 120_000);

afterAll(async () => {
  await vault.close();
  await rm(dir, { recursive: true, force: true });
});

describe("the library", () => {
  it("stores a signed script as an item, records its signer, and refuses the same name without --overwrite", async () => {
    const signature = await sign(script, "hello.sh", join(dir, "scripts.pem"), join(dir, "scripts.key"));
    const uploaded = await vault.uploadLibrary(alice, {
      name: "hello.sh",
      content: script,
      signature,
      description: "says hello",
      parameters: "world",
    });
    expect(uploaded).toMatchObject({ name: "hello.sh", version: 1, signed: true, sha256: sha256(script) });
    expect(uploaded.signer).toContain("scripts");
    const item = await vault.show(alice, { id: sha256(script), caseId: "library" });
    expect(item.size).toBe(script.length);
    await expect(
      vault.uploadLibrary(alice, { name: "hello.sh", content: Buffer.from("x") }),
    ).rejects.toMatchObject({
      code: "ERR_FILE_EXISTS",
    });
    const log = await vault.showAudit(alice);
    expect(log.filter((r) => r.action === "library.uploaded")).toHaveLength(1);
  });

  it("an overwrite is a new version; the old one stays and can still be produced", async () => {
    const v2 = Buffer.from("#!/bin/sh\necho v2\n");
    const uploaded = await vault.uploadLibrary(alice, { name: "hello.sh", content: v2, overwrite: true });
    expect(uploaded).toMatchObject({ version: 2, versions: 2, signed: false });
    const read = await vault.read(alice, { id: sha256(script), caseId: "library" });
    const chunks: Buffer[] = [];
    for await (const chunk of read.stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).equals(script)).toBe(true);
    const [listed] = await vault.listLibrary(alice);
    expect(listed).toMatchObject({ name: "hello.sh", version: 2, sha256: sha256(v2) });
    const current = await vault.libraryScript("hello.sh");
    expect(current.content.equals(v2)).toBe(true);
    expect(current.signature).toBeUndefined();
  });

  it("refuses hostile names before anything is stored", async () => {
    const uploads = async () =>
      (await vault.showAudit(alice)).filter(
        (r) => r.action.startsWith("library.") || r.action === "evidence.ingested",
      ).length;
    const before = await uploads();
    for (const name of [
      ".",
      "..",
      "../etc/passwd",
      "a/b",
      "a\\b",
      "-rf",
      ".hidden",
      "a\nb",
      "",
      "x".repeat(129),
      "a b",
      "é",
    ]) {
      await expect(vault.uploadLibrary(alice, { name, content: script })).rejects.toMatchObject({
        code: "ERR_LIBRARY_NAME_INVALID",
      });
    }
    expect(await uploads()).toBe(before);
  });

  it("refuses a tampered script and one signed by a collector certificate (not a script signer)", async () => {
    const signature = await sign(script, "t.sh", join(dir, "scripts.pem"), join(dir, "scripts.key"));
    const tampered = Buffer.concat([script, Buffer.from("rm -rf /\n")]);
    await expect(
      vault.uploadLibrary(alice, { name: "t.sh", content: tampered, signature }),
    ).rejects.toMatchObject({ code: "ERR_SCRIPT_SIGNATURE" });
    const byCollector = await sign(
      script,
      "c.sh",
      join(vaultDir, "pki", "collector.pem"),
      join(vaultDir, "pki", "collector.key"),
    );
    await expect(
      vault.uploadLibrary(alice, { name: "c.sh", content: script, signature: byCollector }),
    ).rejects.toMatchObject({
      code: "ERR_SCRIPT_SIGNATURE",
      message: expect.stringContaining("script-signer"),
    });
    expect((await vault.listLibrary(alice)).map((f) => f.name)).toEqual(["hello.sh"]);
    await expect(
      vault.uploadLibrary(alice, { name: "big.bin", content: Buffer.alloc(2 * 1024 * 1024 + 1) }),
    ).rejects.toMatchObject({ code: "ERR_SIZE_LIMIT" });
  });

  it("removes a name (its items stay), and an upload after starts the next version", async () => {
    await vault.removeLibrary(alice, "hello.sh");
    expect(await vault.listLibrary(alice)).toEqual([]);
    await expect(vault.removeLibrary(alice, "hello.sh")).rejects.toMatchObject({ code: "ERR_NOT_FOUND" });
    await expect(vault.libraryScript("hello.sh")).rejects.toMatchObject({ code: "ERR_NOT_FOUND" });
    const again = await vault.uploadLibrary(alice, { name: "hello.sh", content: script });
    expect(again.version).toBe(3);
  });

  it("only library.manage changes the library; responders list it; unsigned-scripts is a custodian's fact", async () => {
    const bob = await vault.issueIdentity(alice, "bob");
    await vault.grant(alice, { name: "bob", role: "responder", scope: "*" });
    const bobPrincipal = vault.authenticate(bob.identityPem);
    await expect(vault.uploadLibrary(bobPrincipal, { name: "b.sh", content: script })).rejects.toMatchObject({
      code: "ERR_ACCESS_DENIED",
    });
    await expect(vault.removeLibrary(bobPrincipal, "hello.sh")).rejects.toMatchObject({
      code: "ERR_ACCESS_DENIED",
    });
    expect((await vault.listLibrary(bobPrincipal)).map((f) => f.name)).toEqual(["hello.sh"]);
    await expect(vault.setUnsignedScripts(bobPrincipal, true)).rejects.toMatchObject({
      code: "ERR_ACCESS_DENIED",
    });
    expect(vault.unsignedScriptsAllowed).toBe(false);
    expect((await vault.setUnsignedScripts(alice, true)).enabled).toBe(true);
    expect(vault.unsignedScriptsAllowed).toBe(true);
  });

  it("is rebuilt from the signed log when the vault opens again", async () => {
    const before = await vault.listLibrary(alice);
    await vault.close();
    vault = await Vault.open({ dir: vaultDir });
    alice = vault.authenticate(aliceIdentity);
    expect(await vault.listLibrary(alice)).toEqual(before);
    expect(vault.unsignedScriptsAllowed).toBe(true);
    const script3 = await vault.libraryScript("hello.sh");
    expect(script3.version).toBe(3);
  });

  it("a library file changed on disk is refused when read for a run, not sent", async () => {
    const content = Buffer.from("#!/bin/sh\necho original\n");
    await vault.uploadLibrary(alice, { name: "disk.sh", content });
    const items = join(vaultDir, "store", "objects", "items");
    let data: string | undefined;
    for (const folder of await readdir(items)) {
      for (const entry of await readdir(join(items, folder))) {
        if (entry === `=${sha256(content)}`) data = join(items, folder, entry, "data");
      }
    }
    expect(data).toBeDefined();
    const path = data as string;
    await chmod(path, 0o600);
    const changed = Buffer.from(content);
    changed[changed.length - 2] = 0x78; // same size, one byte changed
    await writeFile(path, changed);
    await expect(vault.libraryScript("disk.sh")).rejects.toMatchObject({
      code: expect.stringMatching(/^ERR_(INTEGRITY|DIGEST)/),
    });
  });
});

describe("the library's ledger", () => {
  const record = (seq: number, action: string, details: Record<string, unknown>) =>
    ({
      seq,
      action,
      details,
      actor: "alice",
      time: new Date(seq * 1000).toISOString(),
    }) as unknown as AuditRecord;
  const upload = { name: "a.sh", version: 1, sha256: "a".repeat(64), size: 1 };

  it("numbers versions in log order, so two replicas' version 1 both stay; a second removal changes nothing", () => {
    const ledger = new LibraryLedger();
    ledger.apply(record(1, "library.uploaded", upload));
    ledger.apply(record(2, "library.uploaded", { ...upload, sha256: "b".repeat(64) }));
    expect(ledger.entries.get("a.sh")?.versions.map((v) => [v.version, v.sha256[0]])).toEqual([
      [1, "a"],
      [2, "b"],
    ]);
    ledger.apply(record(3, "library.removed", { name: "a.sh" }));
    ledger.apply(record(4, "library.removed", { name: "a.sh" }));
    expect(ledger.entries.get("a.sh")?.removedAt).toBe(new Date(3000).toISOString());
    expect(ledger.current("a.sh")).toBeUndefined();
    expect(() => ledger.apply(record(5, "library.removed", { name: "never.sh" }))).toThrow(
      expect.objectContaining({ code: "ERR_AUDIT_RECORD_INVALID" }),
    );
    expect(() => ledger.apply(record(6, "library.uploaded", { ...upload, name: "../x" }))).toThrow(
      expect.objectContaining({ code: "ERR_AUDIT_RECORD_INVALID" }),
    );
  });
});
