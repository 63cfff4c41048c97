import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { openFileAuditLog } from "@custody/audit";
import { runCli } from "@custody/cli";
import { createCertificateAuthority, createKeySigner, issueCertificate } from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let work: string;
const log = () => join(work, "log");

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "custody-cli-audit-"));
  const ca = await createCertificateAuthority({ commonName: "CLI Audit CA", keyBits: 2048 });
  const other = await createCertificateAuthority({ commonName: "Other CA", keyBits: 2048 });
  const leaf = await issueCertificate(ca, { commonName: "vault", usage: "vault-signer", keyBits: 2048 });
  await writeFile(join(work, "ca.pem"), ca.certificatePem);
  await writeFile(join(work, "other.pem"), other.certificatePem);
  await writeFile(join(work, "signer.key"), leaf.keyPem, { mode: 0o600 });
  await writeFile(join(work, "signer.pem"), leaf.certificatePem);
  const signer = createKeySigner({ keyPem: leaf.keyPem, certificatePem: leaf.certificatePem });
  const audit = await openFileAuditLog({ dir: log(), signer, checkpointIntervalMs: 0 });
  for (let i = 0; i < 5; i += 1) {
    await audit.append({
      actor: "alice",
      action: "item.read",
      target: `item-${i}`,
      outcome: "allow",
      reason: "grant",
    });
  }
  await audit.close();
});
afterAll(() => rm(work, { recursive: true, force: true }));

async function run(args: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: "", err: "" };
  stdout.on("data", (d: Buffer) => (chunks.out += d));
  stderr.on("data", (d: Buffer) => (chunks.err += d));
  const code = await runCli(args, { stdout, stderr, stdin: Readable.from([]), env: {}, cwd: work });
  return { code, ...chunks };
}

describe("custody audit", () => {
  it("verify: ok with the CA, exit 1 with another CA, usage error without one", async () => {
    const ok = await run(["audit", "verify", "--log", "log", "--ca", "ca.pem"]);
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.out).toContain("ok: 5 records");
    const json = await run(["audit", "verify", "--log", "log", "--ca", "ca.pem", "--json"]);
    expect(JSON.parse(json.out)).toMatchObject({ ok: true, records: 5, checkpoints: 1 });
    const other = await run(["audit", "verify", "--log", "log", "--ca", "other.pem"]);
    expect(other.code).toBe(1);
    expect(other.err).toContain("ERR_AUDIT_CHECKPOINT_INVALID");
    expect((await run(["audit", "verify", "--log", "log"])).code).toBe(2);
    expect((await run(["audit", "verify", "--log", "nowhere", "--ca", "ca.pem"])).code).toBe(4);
  });

  it("show: records as lines or JSON Lines, from --since", async () => {
    const text = await run(["audit", "show", "--log", "log", "--since", "3"]);
    expect(text.out.trim().split("\n")).toHaveLength(2);
    expect(text.out).toMatch(/^3\t\S+\tallow\talice\titem\.read\titem-3\tgrant$/m);
    const json = await run(["audit", "show", "--log", "log", "--json"]);
    expect(
      json.out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l).seq),
    ).toEqual([0, 1, 2, 3, 4]);
    expect((await run(["audit", "show", "--log", "log", "--since", "-1"])).code).toBe(2);
  });

  it("prove + verify-proof: a bundle checks offline with the CA and fails with another", async () => {
    const proof = await run(["audit", "prove", "2", "--log", "log"]);
    expect(proof.code).toBe(0);
    await writeFile(join(work, "bundle.json"), proof.out);
    const ok = await run(["audit", "verify-proof", "bundle.json", "--ca", "ca.pem"]);
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.out).toContain("record 2");
    expect((await run(["audit", "verify-proof", "bundle.json", "--ca", "other.pem"])).code).toBe(1);
    const forged = JSON.parse(proof.out);
    forged.record.outcome = "deny";
    await writeFile(join(work, "forged.json"), JSON.stringify(forged));
    const bad = await run(["audit", "verify-proof", "forged.json", "--ca", "ca.pem"]);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("ERR_PROOF_INVALID");
    expect((await run(["audit", "prove", "5", "--log", "log"])).code).toBe(4);
  });

  it("checkpoint signs the records not yet covered; verify then reports the damage of an edit", async () => {
    const signer = ["--key", "signer.key", "--cert", "signer.pem"];
    const done = await run(["audit", "checkpoint", "--log", "log", ...signer, "--json"]);
    expect(done.code).toBe(0);
    expect(JSON.parse(done.out)).toMatchObject({ treeSize: 5 });
    const file = join(log(), "audit.log");
    const text = await readFile(file, "utf8");
    await writeFile(file, text.replace('"target":"item-1"', '"target":"item-9"'));
    const broken = await run(["audit", "verify", "--log", "log", "--ca", "ca.pem"]);
    expect(broken.code).toBe(1);
    expect(broken.err).toMatch(/ERR_AUDIT_CHAIN_BROKEN \(modified\) at line 2, seq 1/);
    await writeFile(file, text);
  });
});
