import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { runCli } from "@custody/cli";
import { createCertificateAuthority, issueCertificate } from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestTsa, type TestTsa } from "../packages/manifest/test/tsa.js";

let work: string;
let tsa: TestTsa;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "custody-cli-tsa-"));
  await mkdir(join(work, "tsa"));
  tsa = await startTestTsa(join(work, "tsa"));
  const ca = await createCertificateAuthority({ commonName: "CLI TSA Test CA", keyBits: 2048 });
  // a collector whose certificate expires in two days: the package must outlive it
  const leaf = await issueCertificate(ca, {
    commonName: "Short Collector",
    usage: "collector",
    keyBits: 2048,
    validDays: 2,
  });
  await writeFile(join(work, "ca.pem"), ca.certificatePem);
  await writeFile(join(work, "signer.key"), leaf.keyPem);
  await writeFile(join(work, "signer.pem"), leaf.certificatePem);
  await mkdir(join(work, "evidence/Processes"), { recursive: true });
  await writeFile(join(work, "evidence/Processes/ps.txt"), "PID CMD\n1 init\n");
});

afterAll(async () => {
  await tsa?.close();
  await rm(work, { recursive: true, force: true });
});

async function run(args: string[]) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: "", err: "" };
  stdout.on("data", (d: Buffer) => (chunks.out += d));
  stderr.on("data", (d: Buffer) => (chunks.err += d));
  const code = await runCli(args, { stdout, stderr, stdin: Readable.from([]), env: {}, cwd: work });
  return { code, ...chunks };
}

const sign = ["--key", "signer.key", "--cert", "signer.pem"];
const afterExpiry = new Date(Date.now() + 10 * 86_400_000).toISOString();

describe("custody package --tsa and custody verify --tsa-ca", () => {
  it("timestamps a package and verifies it with its trusted time after the signer's certificate expired", async () => {
    const made = await run([
      "package",
      "evidence",
      "--out",
      "P.zip",
      ...sign,
      "--tsa",
      tsa.url,
      "--tsa-ca",
      tsa.caFile,
    ]);
    expect(made.err).toBe("");
    expect(made.code).toBe(0);
    expect(made.out).toMatch(/timestamped: trusted time \S+ \(±1\.5001 s\) from CN=Test TSA/);
    const now = await run(["verify", "P.zip", "--ca", "ca.pem", "--tsa-ca", tsa.caFile, "--json"]);
    expect(now.code).toBe(0);
    expect(JSON.parse(now.out).timestamp).toMatchObject({
      status: "verified",
      tsa: { subject: "CN=Test TSA" },
    });
    const expiredNoTsa = await run(["verify", "P.zip", "--ca", "ca.pem", "--at", afterExpiry]);
    expect(expiredNoTsa.code).toBe(1);
    expect(expiredNoTsa.err).toContain("ERR_CERT_EXPIRED");
    const expired = await run([
      "verify",
      "P.zip",
      "--ca",
      "ca.pem",
      "--at",
      afterExpiry,
      "--tsa-ca",
      tsa.caFile,
    ]);
    expect(expired.code).toBe(0);
    expect(expired.out).toMatch(/trusted time .* from CN=Test TSA/);
  });

  it("reports a token it was not asked to check, and refuses one from a TSA it does not trust", async () => {
    await run(["package", "evidence", "--out", "Q.zip", ...sign, "--tsa", tsa.url, "--tsa-ca", tsa.caFile]);
    const unchecked = await run(["verify", "Q.zip", "--ca", "ca.pem"]);
    expect(unchecked.code).toBe(0);
    expect(unchecked.out).toContain("not checked (give --tsa-ca)");
    const wrong = await run(["verify", "Q.zip", "--ca", "ca.pem", "--tsa-ca", "ca.pem"]);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain("ERR_TIMESTAMP_UNTRUSTED");
  });

  it("writes the package without a token when no TSA answers, says so, and verification with --tsa-ca refuses it", async () => {
    const made = await run([
      "package",
      "evidence",
      "--out",
      "R.zip",
      ...sign,
      "--tsa",
      `${tsa.origin}/down`,
      "--tsa-ca",
      tsa.caFile,
      "--json",
    ]);
    expect(made.code).toBe(0);
    expect(made.err).toContain("warning: timestamp missing (ERR_BACKEND_UNAVAILABLE");
    expect(JSON.parse(made.out).timestamp).toMatchObject({
      status: "missing",
      code: "ERR_BACKEND_UNAVAILABLE",
    });
    const plain = await run(["verify", "R.zip", "--ca", "ca.pem"]);
    expect(plain.code).toBe(0);
    expect(plain.out).toContain("no timestamp");
    const required = await run(["verify", "R.zip", "--ca", "ca.pem", "--tsa-ca", tsa.caFile]);
    expect(required.code).toBe(1);
    expect(required.err).toContain("ERR_TIMESTAMP_MISSING");
  });

  it("adds a token to a detached signature later, into a new file, and verify then checks it", async () => {
    await writeFile(join(work, "note.txt"), "a file signed without a TSA\n");
    expect((await run(["sign", "note.txt", ...sign])).code).toBe(0);
    const stamped = await run([
      "timestamp",
      "note.txt.p7s",
      "--tsa",
      tsa.url,
      "--tsa-ca",
      tsa.caFile,
      "--out",
      "note.tsd.p7s",
    ]);
    expect(stamped.code).toBe(0);
    expect(stamped.out).toContain("trusted time");
    const again = await run([
      "timestamp",
      "note.txt.p7s",
      "--tsa",
      tsa.url,
      "--tsa-ca",
      tsa.caFile,
      "--out",
      "note.tsd.p7s",
    ]);
    expect(again.code).toBe(5);
    const verified = await run([
      "verify",
      "note.txt",
      "--signature",
      "note.tsd.p7s",
      "--ca",
      "ca.pem",
      "--tsa-ca",
      tsa.caFile,
      "--at",
      afterExpiry,
    ]);
    expect(verified.code).toBe(0);
    expect(verified.out).toMatch(/valid: .* trusted time .* from CN=Test TSA/);
    const original = await run(["verify", "note.txt", "--ca", "ca.pem", "--tsa-ca", tsa.caFile]);
    expect(original.code).toBe(1);
    expect(original.err).toContain("ERR_TIMESTAMP_MISSING");
  });

  it.runIf(process.platform === "linux")(
    "collect --tsa records the clock offset at start and end in the signed package, with the TSA's tokens",
    async () => {
      const collected = await run([
        "collect",
        "--out",
        "C.zip",
        "--only",
        "UsersAndGroups",
        ...sign,
        "--tsa",
        tsa.url,
        "--tsa-ca",
        tsa.caFile,
        "--json",
      ]);
      expect(collected.code).toBe(0);
      const result = JSON.parse(collected.out);
      expect(result.timestamp).toMatchObject({ status: "stamped" });
      for (const phase of ["start", "end"])
        expect(result.offsets[phase]).toMatchObject({ phase, tsa: "CN=Test TSA" });
      const extracted = await run([
        "extract",
        "C.zip",
        "--to",
        "c-out",
        "--ca",
        "ca.pem",
        "--tsa-ca",
        tsa.caFile,
      ]);
      expect(extracted.code).toBe(0);
      const [bag] = await readdir(join(work, "c-out"));
      const recorded = JSON.parse(
        await readFile(join(work, "c-out", String(bag), "data/CollectorLog/ClockOffset.json"), "utf8"),
      );
      expect(recorded.start.offsetMs).toBe(result.offsets.start.offsetMs);
      expect(Math.abs(recorded.end.offsetMs)).toBeLessThanOrEqual(recorded.end.uncertaintyMs);
    },
  );

  it("refuses --tsa without --tsa-ca, and a TSA that answers for a CA it was not given", async () => {
    const usage = await run(["package", "evidence", "--out", "S.zip", ...sign, "--tsa", tsa.url]);
    expect(usage.code).toBe(2);
    const untrusted = await run([
      "package",
      "evidence",
      "--out",
      "T.zip",
      ...sign,
      "--tsa",
      tsa.url,
      "--tsa-ca",
      "ca.pem",
    ]);
    expect(untrusted.code).toBe(0);
    expect(untrusted.err).toContain("warning: timestamp missing (ERR_TIMESTAMP_UNTRUSTED");
  });
});
