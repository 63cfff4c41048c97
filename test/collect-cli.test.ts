import { execFileSync } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { runCli } from "@custody/cli";
import { createCertificateAuthority, issueCertificate } from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, test } from "vitest";

// End to end: `custody collect` on this machine, then the package checked by standard tools
// (unzip, sha256sum -c, openssl cms -verify).
let dir: string;

function isLogLine(line: string): boolean {
  try {
    return typeof (JSON.parse(line) as { level?: unknown }).level === "number";
  } catch {
    return false;
  }
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c) => (out += String(c)));
  stderr.on("data", (c) => (err += String(c)));
  const code = await runCli(args, { stdout, stderr, stdin: new PassThrough(), env: {}, cwd: dir });
  return { code, stdout: out, stderr: err };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "collect-cli-"));
  const ca = await createCertificateAuthority({ commonName: "Test Custody CA", keyBits: 2048 });
  const signer = await issueCertificate(ca, { commonName: "responder", usage: "signer" });
  await writeFile(join(dir, "ca.pem"), ca.certificatePem);
  await writeFile(join(dir, "signer.key"), signer.keyPem, { mode: 0o600 });
  await writeFile(join(dir, "signer.pem"), signer.certificatePem);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.runIf(process.platform === "linux")("custody collect", () => {
  test("writes a signed package that unzip, sha256sum -c and openssl cms accept", async () => {
    const only = "NetworkConnections,Processes,SystemInformation,UsersAndGroups,SmbSessions";
    const run = await cli([
      "collect",
      "--out",
      "p.zip",
      "--only",
      only,
      "--case",
      "CASE-1",
      "--key",
      "signer.key",
      "--cert",
      "signer.pem",
      "--json",
    ]);
    // Nothing for people on stderr with --json; the collection's warnings (a source not fully read by an
    // unprivileged test) are pino log lines there.
    expect(run.stderr.split("\n").filter((line) => line !== "" && !isLogLine(line))).toEqual([]);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as {
      package: { file: string; items: number };
      summary: { dataPoint: string; status: string }[];
    };
    expect(result.package.file).toBe(join(dir, "p.zip"));
    const statuses = Object.fromEntries(result.summary.map((r) => [r.dataPoint, r.status]));
    expect(statuses.Autoruns).toBe("skipped");
    expect(["ok", "partial"]).toContain(statuses.Processes);
    expect(statuses.CollectorLog).toBe("ok");

    const extracted = join(dir, "x");
    execFileSync("unzip", ["-q", join(dir, "p.zip"), "-d", extracted]);
    const [bag = ""] = await readdir(extracted);
    const bagDir = join(extracted, bag);
    execFileSync("sha256sum", ["-c", "--quiet", "manifest-sha256.txt"], { cwd: bagDir });
    execFileSync(
      "openssl",
      [
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        "custody-manifest.json.p7s",
        "-content",
        "custody-manifest.json",
        "-CAfile",
        join(dir, "ca.pem"),
        "-purpose",
        "any",
        "-out",
        "/dev/null",
      ],
      { cwd: bagDir, stdio: "pipe" },
    );
    const summary = await readFile(join(bagDir, "CollectionSummary.csv"), "utf8");
    for (const name of ["NetworkConnections", "Autoruns", "CollectorLog"]) expect(summary).toContain(name);
    const files = await readdir(join(bagDir, "data"));
    expect(files).toEqual(
      expect.arrayContaining([
        "NetworkConnections",
        "Processes",
        "SystemInformation",
        "UsersAndGroups",
        "CollectorLog",
      ]),
    );
  });

  test("prints the summary table for people", async () => {
    const run = await cli([
      "collect",
      "--out",
      "t.zip",
      "--only",
      "UsersAndGroups",
      "--key",
      "signer.key",
      "--cert",
      "signer.pem",
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Data point\s+Status\s+Error\s+Files\s+Bytes\s+Time/);
    expect(run.stdout).toMatch(/UsersAndGroups\s+ok/);
    expect(run.stdout).toMatch(/Autoruns\s+skipped/);
    expect(run.stdout).toContain(`package  ${join(dir, "t.zip")}`);
  });

  test("usage errors: unknown data point, missing key", async () => {
    const unknown = await cli(["collect", "--only", "Nope", "--key", "signer.key", "--cert", "signer.pem"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Nope/);
    const halfKey = await cli(["collect", "--out", "q.zip", "--key", "signer.key"]);
    expect(halfKey.code).toBe(2);
    expect(await readdir(dir)).not.toContain("q.zip");
  });

  test("without a key of its own, signs with the local vault's collector certificate", async () => {
    const run = await cli([
      "collect",
      "--out",
      "v.zip",
      "--only",
      "UsersAndGroups",
      "--vault",
      "v",
      "--json",
    ]);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ vaultCreated: true, packageVerified: true, package: join(dir, "v.zip") });
    expect(result.itemId).toBeUndefined();
    const verify = await cli(["verify", "v.zip", "--ca", join("v", "pki", "ca.pem")]);
    expect(verify.code, verify.stderr).toBe(0);
  });
});
