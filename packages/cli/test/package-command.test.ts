import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { runCli } from "@custody/cli";
import { createCertificateAuthority, issueCertificate } from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "custody-cli-package-"));
  const ca = await createCertificateAuthority({ commonName: "CLI Test CA", keyBits: 2048 });
  const leaf = await issueCertificate(ca, { commonName: "CLI Collector", usage: "signer", keyBits: 2048 });
  await writeFile(join(work, "ca.pem"), ca.certificatePem);
  await writeFile(join(work, "signer.key"), leaf.keyPem);
  await writeFile(join(work, "signer.pem"), leaf.certificatePem);
  await mkdir(join(work, "evidence/Processes"), { recursive: true });
  await writeFile(join(work, "evidence/Processes/ps.txt"), "PID CMD\n1 init\n".repeat(500));
  await writeFile(join(work, "evidence/notes.txt"), "collected by hand\n");
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

describe("custody package / verify / extract", () => {
  it("packages a folder, verifies it (exit 0) and extracts it", async () => {
    const made = await run([
      "package",
      "evidence",
      "--out",
      "CASE-1.zip",
      "--case",
      "CASE-1",
      "--key",
      "signer.key",
      "--cert",
      "signer.pem",
    ]);
    expect(made.err).toBe("");
    expect(made.code).toBe(0);
    expect(made.out).toContain("2 files");
    const verified = await run(["verify", "CASE-1.zip", "--ca", "ca.pem", "--json"]);
    expect(verified.code).toBe(0);
    const report = JSON.parse(verified.out);
    expect(report).toMatchObject({ ok: true, name: "CASE-1", problems: [], case: { id: "CASE-1" } });
    expect(report.signer.subject).toContain("CLI Collector");
    const extracted = await run(["extract", "CASE-1.zip", "--to", "out", "--ca", "ca.pem"]);
    expect(extracted.code).toBe(0);
    expect(await readFile(join(work, "out/CASE-1/data/notes.txt"), "utf8")).toBe("collected by hand\n");
    const summary = await readFile(join(work, "out/CASE-1/CollectionSummary.csv"), "utf8");
    expect(summary).toMatch(/^Processes,custody package .*evidence,ok,,[^,]+,\d+,1,7500,,,\r$/m);
  });

  it("exits 1 and lists the problems of a package signed by another CA", async () => {
    const other = await createCertificateAuthority({ commonName: "Other CA", keyBits: 2048 });
    await writeFile(join(work, "other.pem"), other.certificatePem);
    const verified = await run(["verify", "CASE-1.zip", "--ca", "other.pem"]);
    expect(verified.code).toBe(1);
    expect(verified.err).toContain("ERR_UNTRUSTED_SIGNER custody-manifest.json.p7s");
    const extracted = await run(["extract", "CASE-1.zip", "--to", "refused", "--ca", "other.pem"]);
    expect(extracted.code).toBe(1);
    expect(extracted.err).toContain("ERR_UNTRUSTED_SIGNER custody-manifest.json.p7s");
    await expect(readdir(join(work, "refused"))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("verifies a detached signature over a .zip when --signature is given", async () => {
    const signed = await run(["sign", "CASE-1.zip", "--key", "signer.key", "--cert", "signer.pem"]);
    expect(signed.code).toBe(0);
    const verified = await run([
      "verify",
      "CASE-1.zip",
      "--signature",
      "CASE-1.zip.p7s",
      "--ca",
      "ca.pem",
      "--json",
    ]);
    expect(verified.code).toBe(0);
    expect(JSON.parse(verified.out).signature).toContain("CASE-1.zip.p7s");
  });

  it("exits 1 for a hostile archive, naming its code", async () => {
    await writeFile(
      join(work, "junk.zip"),
      Buffer.concat([await readFile(join(work, "CASE-1.zip")), Buffer.from("tail")]),
    );
    const verified = await run(["verify", "junk.zip", "--ca", "ca.pem", "--json"]);
    expect(verified.code).toBe(1);
    expect(JSON.parse(verified.out).problems[0].code).toBe("ERR_ARCHIVE_MALFORMED");
  });

  it("refuses a folder holding a link, and leaves no output", async () => {
    await mkdir(join(work, "linked"));
    await symlink("/etc/passwd", join(work, "linked/passwd"));
    const made = await run([
      "package",
      "linked",
      "--out",
      "linked.zip",
      "--key",
      "signer.key",
      "--cert",
      "signer.pem",
    ]);
    expect(made.code).toBe(1);
    expect(made.err).toContain("ERR_ARCHIVE_SYMLINK");
    expect((await readdir(work)).filter((name) => name.includes("linked.zip"))).toEqual([]);
  });

  it("exit codes: a non-empty target is a conflict (5), a missing --out a usage error (2), a missing folder not found (4)", async () => {
    await mkdir(join(work, "busy"));
    await writeFile(join(work, "busy/x"), "x");
    const extracted = await run(["extract", "CASE-1.zip", "--to", "busy", "--ca", "ca.pem"]);
    expect(extracted.code).toBe(5);
    expect(extracted.err).toContain("ERR_TARGET_NOT_EMPTY");
    expect((await run(["package", "evidence"])).code).toBe(2);
    const missing = await run([
      "package",
      "no-such-dir",
      "--out",
      "m.zip",
      "--key",
      "signer.key",
      "--cert",
      "signer.pem",
    ]);
    expect(missing.code).toBe(4);
    expect(missing.err).toContain("ERR_NOT_FOUND");
  });
});
