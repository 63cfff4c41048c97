import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { runCli } from "@custody/cli";
import { signatureTimestampImprint, signatureTimestampToken, verifyTimestampToken } from "@custody/manifest";
import { Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestTsa, type TestTsa } from "../packages/manifest/test/tsa.js";

let work: string;
let vaultDir: string;
let tsa: TestTsa;
let itemId = "";

async function run(args: string[], as = "alice") {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const chunks = { out: "", err: "" };
  stdout.on("data", (d: Buffer) => (chunks.out += d));
  stderr.on("data", (d: Buffer) => (chunks.err += d));
  const offline = args[0] === "report" && args[1] === "verify";
  const full = offline ? args : [...args, "--vault", vaultDir, "--identity", join(work, `${as}.pem`)];
  const code = await runCli(full, { stdout, stderr, stdin: Readable.from([]), env: {}, cwd: work });
  return { code, ...chunks };
}

async function auditActions(): Promise<{ action: string; outcome: string; actor: string }[]> {
  const text = await readFile(join(vaultDir, "audit", "audit.log"), "utf8");
  return text
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line));
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "custody-vault-tsa-"));
  vaultDir = join(work, "vault");
  await mkdir(join(work, "tsa"));
  tsa = await startTestTsa(join(work, "tsa"));
  const { vault, identityPem } = await Vault.init(vaultDir, { custodian: "alice", keyBits: 2048 });
  await writeFile(join(work, "alice.pem"), identityPem, { mode: 0o600 });
  await vault.close();
  expect((await run(["access", "issue-identity", "bob", "--out", join(work, "bob.pem")])).code).toBe(0);
  expect((await run(["access", "grant", "bob", "investigator", "--scope", "case:A"])).code).toBe(0);
  await writeFile(join(work, "a.bin"), "evidence for case A\n");
  const ingested = await run(["ingest", join(work, "a.bin"), "--case", "A", "--json"]);
  itemId = JSON.parse(ingested.out).id;
  await writeFile(join(work, "vault-ca.pem"), await readFile(join(vaultDir, "pki", "ca.pem")));
});

afterAll(async () => {
  await tsa?.close();
  await rm(work, { recursive: true, force: true });
});

describe("a vault's TSA: an audited fact; checkpoints and reports carry its tokens", () => {
  it("refuses a TSA whose token does not verify under the CA given, and records nothing", async () => {
    const wrong = await run(["tsa", "add", tsa.url, "--ca", "vault-ca.pem"]);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain("ERR_TIMESTAMP_UNTRUSTED");
    expect((await auditActions()).some((r) => r.action === "timestamp.tsa-added")).toBe(false);
    expect((await run(["tsa", "list"])).out).toContain("no TSA configured");
  });

  it("lets only a custodian add a TSA, and records the denial", async () => {
    const denied = await run(["tsa", "add", tsa.url, "--ca", tsa.caFile], "bob");
    expect(denied.code).toBe(3);
    const records = await auditActions();
    expect(
      records.some(
        (r) => r.action === "timestamp.configure" && r.outcome === "deny" && r.actor.includes("bob"),
      ),
    ).toBe(true);
  });

  it("adds the TSA as a fact in the log, tried first, and lists it after reopening", async () => {
    const added = await run(["tsa", "add", tsa.url, "--ca", tsa.caFile]);
    expect(added.code).toBe(0);
    expect(added.out).toContain(`TSA ${tsa.url} added: probe token from CN=Test TSA`);
    const again = await run(["tsa", "add", tsa.url, "--ca", tsa.caFile]);
    expect(again.code).toBe(5);
    const records = await auditActions();
    expect(records.filter((r) => r.action === "timestamp.tsa-added" && r.outcome === "allow")).toHaveLength(
      1,
    );
    expect((await run(["tsa", "list"])).out).toContain(tsa.url);
  });

  it("timestamps the custody report and its checkpoint; report verify prints and checks the trusted time", async () => {
    const report = await run(["report", itemId, "--out", join(work, "report.json")]);
    expect(report.code).toBe(0);
    const saved = JSON.parse(await readFile(join(work, "report.json"), "utf8"));
    const checkpointSignature = Buffer.from(saved.report.proofs.at(-1).checkpoint.signature, "base64");
    const info = verifyTimestampToken(
      signatureTimestampToken(checkpointSignature) ?? Buffer.alloc(0),
      signatureTimestampImprint(checkpointSignature),
      { trustAnchors: [tsa.caPem] },
    );
    expect(info.tsa.subject).toBe("CN=Test TSA");
    const verified = await run([
      "report",
      "verify",
      "report.json",
      "--ca",
      "vault-ca.pem",
      "--tsa-ca",
      tsa.caFile,
    ]);
    expect(verified.err).toBe("");
    expect(verified.code).toBe(0);
    expect(verified.out).toMatch(/trusted time \S+ \(±1\.5001 s\) from CN=Test TSA/);
    const unchecked = await run(["report", "verify", "report.json", "--ca", "vault-ca.pem"]);
    expect(unchecked.out).toContain("timestamp unchecked");
    const wrongTsa = await run([
      "report",
      "verify",
      "report.json",
      "--ca",
      "vault-ca.pem",
      "--tsa-ca",
      "vault-ca.pem",
    ]);
    expect(wrongTsa.code).toBe(1);
    expect(wrongTsa.err).toContain("ERR_TIMESTAMP_UNTRUSTED");
    const audit = await run(["audit", "verify"]);
    expect(audit.code).toBe(0);
  });

  it("still makes reports and checkpoints when the TSA is down, without a token, and says so", async () => {
    tsa.setDown(true);
    const report = await run(["report", itemId, "--out", join(work, "report-down.json")]);
    expect(report.code).toBe(0);
    expect(report.err).toContain("timestamp missing");
    const verified = await run([
      "report",
      "verify",
      "report-down.json",
      "--ca",
      "vault-ca.pem",
      "--tsa-ca",
      tsa.caFile,
    ]);
    expect(verified.code).toBe(1);
    expect(verified.err).toContain("ERR_TIMESTAMP_MISSING");
    const plain = await run(["report", "verify", "report-down.json", "--ca", "vault-ca.pem"]);
    expect(plain.code).toBe(0);
    expect(plain.out).toContain("timestamp absent");
    const anchor = await run(["timestamp"]);
    expect(anchor.code).toBe(1);
    expect(anchor.err).toContain("ERR_TIMESTAMP_MISSING");
    const failed = (await auditActions()).filter(
      (r) => r.action === "audit.checkpoint" && r.outcome === "error",
    );
    expect(failed.length).toBeGreaterThan(0);
  });

  it("anchors what lacks a token later: custody timestamp signs a checkpoint over every record so far", async () => {
    tsa.setDown(false);
    const records = (await auditActions()).length;
    const anchor = await run(["timestamp", "--json"]);
    expect(anchor.code).toBe(0);
    const stamp = JSON.parse(anchor.out);
    // the guard's own decision record is the last one covered
    expect(stamp.treeSize).toBe(records + 1);
    expect(stamp.tsa).toBe("CN=Test TSA");
    expect((await run(["audit", "verify"])).code).toBe(0);
  });
});
