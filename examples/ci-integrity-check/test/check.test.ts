import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createPackageWriter } from "@custody/archive";
import { createCertificateAuthority, createKeySigner, issueCertificate } from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkTargets, toJUnit } from "../src/check.js";

const work = mkdtempSync(join(tmpdir(), "custody-ci-check-"));
const good = join(work, "good.zip");
const bad = join(work, "bad.zip");
let caPem = "";

beforeAll(async () => {
  const ca = await createCertificateAuthority({ commonName: "ci test CA", keyBits: 2048 });
  caPem = ca.certificatePem;
  writeFileSync(join(work, "ca.pem"), caPem);
  const leaf = await issueCertificate(ca, { commonName: "collector", usage: "signer", keyBits: 2048 });
  const signer = createKeySigner({ keyPem: leaf.keyPem, certificatePem: leaf.certificatePem });
  const writer = createPackageWriter(good, {
    name: "ci-sample",
    device: { id: "host-1" },
    collector: { operator: "ci", tool: "test", toolVersion: "1", host: "ci" },
    signer,
  });
  await writer.addStream("Processes/processes.csv", Readable.from([Buffer.from("pid,name\n1,init\n")]));
  await writer.finalize();
  copyFileSync(good, bad);
  // Flip one byte inside the stored data: the package no longer verifies.
  const bytes = readFileSync(bad);
  const at = bytes.indexOf("1,init");
  if (at > 0) bytes[at] = "2".charCodeAt(0);
  writeFileSync(bad, bytes);
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("ci-integrity-check", () => {
  it("passes a valid package and fails a tampered one, naming the problem", async () => {
    const [ok, broken] = await checkTargets([good, bad], { trustAnchors: [caPem] });
    expect(ok?.ok).toBe(true);
    expect(broken?.ok).toBe(false);
    expect(broken?.problems.length).toBeGreaterThan(0);
    expect(toJUnit([ok, broken].filter((o) => o !== undefined))).toContain('failures="1"');
  });

  it("fails the build (exit 1) from the command line and writes a JUnit report", () => {
    const main = join(import.meta.dirname, "..", "dist", "main.js");
    const junit = join(work, "junit.xml");
    const run = spawnSync(
      process.execPath,
      [main, "--ca", join(work, "ca.pem"), "--junit", junit, good, bad],
      {
        encoding: "utf8",
      },
    );
    expect(run.status).toBe(1);
    expect(run.stdout).toContain("PASS");
    expect(run.stdout).toContain("FAIL");
    expect(readFileSync(junit, "utf8")).toContain("<failure");
    expect(spawnSync(process.execPath, [main, "--ca", join(work, "ca.pem"), good]).status).toBe(0);
  });
});
