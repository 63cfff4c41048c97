import { spawnSync } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import {
  appendFileSync,
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canonicalJson } from "@custody/core";
import { createKeySigner, issueCertificate } from "@custody/manifest";
import { identityBundle } from "@custody/vault";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

// Each test plays one attacker against a real vault through the built CLI, as separate processes:
// the folder writer edits files with no private key, one custodian tries to act as two, and the holder
// of a collector key re-signs what the vault signed. Every change must be refused or detected, coded.
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "custody-attacks-"));
const vault = join(work, "vault");
const id = (name: string) => join(work, `${name}.pem`);

function custody(args: string[], as?: string) {
  const env = { ...process.env, CUSTODY_VAULT: vault, CUSTODY_LOCK_TIMEOUT_MS: "2000" };
  delete env.CUSTODY_IDENTITY;
  const full = as === undefined ? args : [...args, "--identity", id(as)];
  const result = spawnSync(process.execPath, [BIN, ...full], { cwd: work, env, encoding: "utf8" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function ok(args: string[], as?: string) {
  const result = custody(args, as);
  if (result.code !== 0) throw new Error(`custody ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  return result;
}

function refused(args: string[], as: string | undefined, code: string) {
  const result = custody(args, as);
  expect(result.code, `${args.join(" ")}: ${result.stderr}`).not.toBe(0);
  expect(result.stdout + result.stderr).toContain(code);
  return result;
}

const auditLog = () => join(vault, "audit", "audit.log");
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const itemDir = (caseId: string, itemId: string) =>
  join(vault, "store", "objects", "items", sha256(caseId), `=${itemId}`);

/** A snapshot of the vault folder, so each attack starts from the same honest state. */
function snapshot(): () => void {
  const copy = join(work, `snapshot-${Math.random().toString(16).slice(2)}`);
  cpSync(vault, copy, { recursive: true });
  return () => {
    rmSync(vault, { recursive: true, force: true });
    cpSync(copy, vault, { recursive: true });
  };
}

let itemA = "";

/** The attacker's next log record, releasing itemA's hold, chained and hashed as the vault would. */
function forgedRelease(): Record<string, unknown> {
  const lines = readFileSync(auditLog(), "utf8").trimEnd().split("\n");
  const last = JSON.parse(lines.at(-1) ?? "{}");
  const forged: Record<string, unknown> = {
    seq: last.seq + 1,
    time: new Date().toISOString(),
    actor: "alice",
    action: "evidence.hold-released",
    target: `item:A/${itemA}`,
    outcome: "allow",
    reason: "legal hold released",
    details: { legalHold: false },
    prev: last.hash,
  };
  forged.hash = sha256(canonicalJson(forged));
  return forged;
}
let restore: () => void = () => {};

beforeAll(() => {
  ok(["init", "--name", "alice", "--identity-out", id("alice")]);
  ok(["access", "issue-identity", "bob", "--out", id("bob")], "alice");
  ok(["access", "issue-identity", "mallory", "--out", id("mallory")], "alice");
  ok(["access", "grant", "mallory", "investigator", "--scope", "case:A"], "alice");
  writeFileSync(join(work, "a.bin"), "evidence for case A\n");
  writeFileSync(join(work, "other.bin"), "other bytes entirely\n");
  itemA = JSON.parse(
    ok(["ingest", join(work, "a.bin"), "--case", "A", "--legal-hold", "--json"], "alice").stdout,
  ).id;
  // bob becomes the second custodian: from now on the two-person rule holds.
  ok(["access", "grant", "bob", "custodian"], "alice");
  restore = snapshot();
});

// Every attack starts from the same honest vault, whatever the previous one left behind.
afterEach(() => restore());
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("one dishonest custodian cannot act as two", () => {
  it("refuses a login certificate for bob minted with the CA key outside the vault", async () => {
    const ca = {
      certificatePem: readFileSync(join(vault, "pki", "ca.pem"), "utf8"),
      keyPem: readFileSync(join(vault, "pki", "ca.key"), "utf8"),
    };
    const minted = await issueCertificate(ca, { commonName: "bob", usage: "person", keyBits: 2048 });
    writeFileSync(id("bob-minted"), identityBundle(minted.certificatePem, minted.keyPem));
    refused(["access", "whoami"], "bob-minted", "ERR_IDENTITY_INVALID");
  });

  it("makes an identity alice issues for bob's name wait for bob's approval", () => {
    const issued = JSON.parse(
      ok(["access", "issue-identity", "bob", "--out", id("bob-by-alice"), "--json"], "alice").stdout,
    );
    expect(issued.status).toBe("pending");
    refused(["access", "whoami"], "bob-by-alice", "ERR_IDENTITY_INVALID");
    refused(["access", "approve", issued.request.id], "alice", "ERR_ACCESS_DENIED");
    refused(["access", "whoami"], "bob-by-alice", "ERR_IDENTITY_INVALID");
  });

  it("needs bob's approval to revoke bob's identity, and to release a hold", () => {
    const revocation = JSON.parse(ok(["access", "revoke-identity", "bob", "--json"], "alice").stdout);
    expect(revocation.status).toBe("pending");
    ok(["access", "whoami"], "bob");
    const release = JSON.parse(ok(["release", itemA, "--json"], "alice").stdout);
    expect(release.status).toBe("pending");
    refused(["access", "approve", release.request.id], "alice", "ERR_ACCESS_DENIED");
    expect(JSON.parse(ok(["show", itemA, "--json"], "alice").stdout).legalHold).toBe(true);
  });

  it("does not take a signer's certificate as a login", () => {
    const cert = readFileSync(join(vault, "pki", "collector.pem"), "utf8");
    const key = readFileSync(join(vault, "pki", "collector.key"), "utf8");
    writeFileSync(id("collector"), identityBundle(cert, key));
    refused(["access", "whoami"], "collector", "ERR_IDENTITY_INVALID");
  });
});

describe("the folder writer without keys", () => {
  it("cannot swap the stored bytes, even with every JSON fixed up", () => {
    const dir = itemDir("A", itemA);
    const forged = "forged bytes of the same length!!\n";
    writeFileSync(join(dir, "data"), forged);
    const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8"));
    meta.sha256 = sha256(forged);
    meta.size = forged.length;
    writeFileSync(join(dir, "meta.json"), JSON.stringify(meta));
    refused(["check", itemA], "alice", "ERR_INTEGRITY_MISMATCH");
    const got = custody(["get", itemA, "--out", join(work, "swapped.out")], "alice");
    expect(got.code).toBe(1);
    expect(got.stderr).toContain("ERR_INTEGRITY_MISMATCH");
    expect(got.stderr).not.toContain("verified");
  });

  it("cannot move an item to another case", () => {
    const from = itemDir("A", itemA);
    const meta = JSON.parse(readFileSync(join(from, "meta.json"), "utf8"));
    const record = JSON.parse(Buffer.from(meta.metadata.custodyrecord, "base64url").toString("utf8"));
    record.caseId = "B";
    meta.key = `items/${sha256("B")}/${itemA}`;
    meta.metadata.custodyrecord = Buffer.from(canonicalJson(record)).toString("base64url");
    writeFileSync(join(from, "meta.json"), JSON.stringify(meta));
    cpSync(from, itemDir("B", itemA), { recursive: true });
    rmSync(from, { recursive: true });
    refused(["show", itemA, "--case", "B"], "alice", "ERR_NOT_FOUND");
    refused(["show", itemA, "--case", "B"], "mallory", "ERR_ACCESS_DENIED");
    const check = custody(["check", "--json"], "alice");
    expect(check.code).toBe(1);
    const codes = JSON.parse(check.stdout).results.map((r: { code?: string }) => r.code);
    expect(codes).toContain("ERR_NOT_FOUND");
    expect(codes).toContain("ERR_INTEGRITY_MISMATCH");
  });

  it("cannot rewrite who acquired an item", () => {
    const dir = itemDir("A", itemA);
    const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8"));
    const record = JSON.parse(Buffer.from(meta.metadata.custodyrecord, "base64url").toString("utf8"));
    record.acquisition.by = "mallory";
    meta.metadata.custodyrecord = Buffer.from(canonicalJson(record)).toString("base64url");
    writeFileSync(join(dir, "meta.json"), JSON.stringify(meta));
    refused(["show", itemA], "alice", "ERR_INTEGRITY_MISMATCH");
    refused(["check"], "alice", "ERR_INTEGRITY_MISMATCH");
    // The custody report states the log's facts, not the edited ones.
    const report = JSON.parse(ok(["report", itemA], "alice").stdout);
    expect(report.report.item.record.acquisition.by).toBe("alice");
  });

  it("cannot drop a legal hold unnoticed", () => {
    // A legal hold dropped in the store's state is a finding, and the hold still holds.
    const dir = itemDir("A", itemA);
    const states = readdirSync(dir)
      .filter((n) => n.startsWith("state-"))
      .sort();
    const last = JSON.parse(readFileSync(join(dir, states.at(-1) ?? ""), "utf8"));
    const next = { ...last, revision: last.revision + 1, legalHold: false };
    writeFileSync(join(dir, `state-${String(next.revision).padStart(10, "0")}.json`), JSON.stringify(next));
    const check = custody(["check", itemA, "--json"], "alice");
    expect(check.code).toBe(1);
    expect(JSON.parse(check.stdout).results[0].code).toBe("ERR_INTEGRITY_MISMATCH");
    expect(JSON.parse(ok(["show", itemA, "--json"], "alice").stdout).legalHold).toBe(true);
    refused(["purge", itemA], "alice", "ERR_IMMUTABLE");
  });

  it("cannot plant an item or remove one unnoticed", () => {
    rmSync(itemDir("A", itemA), { recursive: true });
    const check = custody(["check", "--json"], "alice");
    expect(check.code).toBe(1);
    expect(JSON.parse(check.stdout).results.some((r: { code?: string }) => r.code === "ERR_NOT_FOUND")).toBe(
      true,
    );
  });

  it("cannot extend the access policy with a consistent new version", () => {
    const dir = join(vault, "policy");
    const versions = readdirSync(dir)
      .filter((n) => /^\d+\.json$/.test(n))
      .sort();
    const headText = readFileSync(join(dir, versions.at(-1) ?? ""), "utf8");
    const head = JSON.parse(headText);
    const next = {
      ...head,
      version: head.version + 1,
      previous: sha256(headText),
      event: { kind: "apply", by: "alice", at: new Date().toISOString() },
      grants: [
        ...head.grants,
        {
          principal: "mallory",
          role: "investigator",
          scope: "*",
          grantedBy: "alice",
          grantedAt: new Date().toISOString(),
        },
      ],
    };
    writeFileSync(join(dir, `${String(next.version).padStart(6, "0")}.json`), canonicalJson(next));
    refused(["list"], "mallory", "ERR_POLICY_INVALID");
    refused(["list"], "alice", "ERR_POLICY_INVALID");
  });

  it("cannot shorten the retention new items get, or point the vault at another store", () => {
    const file = join(vault, "vault.json");
    const config = JSON.parse(readFileSync(file, "utf8"));
    writeFileSync(file, JSON.stringify({ ...config, defaultRetentionDays: 0 }));
    refused(["list"], "alice", "ERR_INTEGRITY_MISMATCH");
    writeFileSync(file, JSON.stringify({ ...config, store: { kind: "fs", dir: "elsewhere" } }));
    refused(["list"], "alice", "ERR_INTEGRITY_MISMATCH");
  });

  it("cannot append a record that the next command would sign", () => {
    appendFileSync(auditLog(), `${canonicalJson(forgedRelease())}\n`);
    const before = readFileSync(auditLog());
    refused(["list"], "alice", "ERR_AUDIT_UNSEALED_TAIL");
    expect(readFileSync(auditLog()).equals(before)).toBe(true);
    const verify = custody(["audit", "verify"], "alice");
    expect(verify.code).toBe(1);
    expect(verify.stderr).toContain("ERR_AUDIT_UNSEALED_TAIL");
    refused(["audit", "accept-tail", "--reason", "mine"], "mallory", "ERR_ACCESS_DENIED");
    ok(["audit", "accept-tail", "--reason", "reviewed: a test record"], "alice");
    ok(["list"], "alice");
    expect(readFileSync(auditLog(), "utf8")).toContain("audit.tail-accepted");
  });

  it("cannot swap the seal key for one of their own and seal a forged record with it", () => {
    const key = Buffer.alloc(32, 7);
    writeFileSync(join(vault, "pki", "audit-seal.key"), key.toString("hex"));
    const forged = forgedRelease();
    forged.seal = createHmac("sha256", key)
      .update(Buffer.from(String(forged.hash), "hex"))
      .digest("hex");
    appendFileSync(auditLog(), `${canonicalJson(forged)}\n`);
    refused(["list"], "alice", "ERR_INTEGRITY_MISMATCH");
  });

  it("cannot replace the newest checkpoint's signature (no key, or a collector's key)", async () => {
    const dir = join(vault, "audit", "checkpoints");
    const newest =
      readdirSync(dir)
        .filter((n) => n.endsWith(".p7s"))
        .sort()
        .at(-1) ?? "";
    const body = readFileSync(join(dir, newest.replace(/\.p7s$/, ".json")));
    writeFileSync(join(dir, newest), Buffer.from("not a signature"));
    refused(["list"], "alice", "ERR_AUDIT_CHECKPOINT_INVALID");
    const collector = createKeySigner({
      keyPem: readFileSync(join(vault, "pki", "collector.key"), "utf8"),
      certificatePem: readFileSync(join(vault, "pki", "collector.pem"), "utf8"),
    });
    writeFileSync(join(dir, newest), await collector.sign(body));
    refused(["list"], "alice", "ERR_AUDIT_CHECKPOINT_INVALID");
  });

  it("cannot cut the log back together with its newest checkpoints", () => {
    const kept = join(work, "kept-checkpoint.json");
    const size = readFileSync(auditLog()).length;
    const checkpoints = join(vault, "audit", "checkpoints");
    const before = new Set(readdirSync(checkpoints));
    ok(["hold", itemA], "alice");
    ok(["audit", "checkpoint", "--out", kept], "alice");
    truncateSync(auditLog(), size);
    for (const name of readdirSync(checkpoints)) if (!before.has(name)) unlinkSync(join(checkpoints, name));
    ok(["audit", "verify"], "alice");
    const verify = custody(["audit", "verify", "--checkpoint", kept], "alice");
    expect(verify.code).toBe(1);
    expect(verify.stderr).toMatch(/ERR_AUDIT_(TRUNCATED|FORK)/);
  });
});

describe("the holder of a collector key", () => {
  it("cannot re-sign a custody report with fewer events or another item", () => {
    const signed = JSON.parse(ok(["report", itemA], "alice").stdout);
    writeFileSync(join(work, "report.json"), JSON.stringify(signed));
    ok(["report", "verify", join(work, "report.json"), "--ca", join(vault, "pki", "ca.pem")]);
    const collector = createKeySigner({
      keyPem: readFileSync(join(vault, "pki", "collector.key"), "utf8"),
      certificatePem: readFileSync(join(vault, "pki", "collector.pem"), "utf8"),
    });
    return (async () => {
      const report = {
        ...signed.report,
        events: signed.report.events.slice(1),
        proofs: signed.report.proofs.slice(1),
      };
      const signature = await collector.sign(Buffer.from(canonicalJson(report)));
      writeFileSync(
        join(work, "forged.json"),
        JSON.stringify({ report, signature: signature.toString("base64") }),
      );
      const result = custody([
        "report",
        "verify",
        join(work, "forged.json"),
        "--ca",
        join(vault, "pki", "ca.pem"),
      ]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("ERR_CERT_USAGE");
    })();
  });
});

describe("other cases do not leak", () => {
  it("answers an item outside one's grants exactly as an item that does not exist", () => {
    writeFileSync(join(work, "b.bin"), "evidence for case B\n");
    const itemB = JSON.parse(ok(["ingest", join(work, "b.bin"), "--case", "B", "--json"], "alice").stdout).id;
    const outside = refused(["show", itemB], "mallory", "ERR_ACCESS_DENIED");
    const missing = refused(["show", "ab".repeat(32)], "mallory", "ERR_ACCESS_DENIED");
    expect(outside.code).toBe(missing.code);
    expect(outside.stderr).not.toContain("case B");
    expect(outside.stderr.replace(itemB, "ID")).toBe(missing.stderr.replace("ab".repeat(32), "ID"));
    // The same bytes can go into case A without anyone learning they are in case B.
    writeFileSync(join(work, "b-again.bin"), "evidence for case B\n");
    const again = ok(["ingest", join(work, "b-again.bin"), "--case", "A", "--json"], "alice");
    expect(JSON.parse(again.stdout).caseId).toBe("A");
    expect(again.stdout + again.stderr).not.toContain('"B"');
  });
});
