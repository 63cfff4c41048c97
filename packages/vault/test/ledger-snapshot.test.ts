import { execFile } from "node:child_process";
import { createHash, createHmac } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type AuthenticatedPrincipal, Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openVaultParts, type VaultOpenOptions } from "../src/open.js";

const run = promisify(execFile);

// A vault whose every close writes a ledger snapshot; opens then read only the records after it.
const work = mkdtempSync(join(tmpdir(), "custody-ledger-snapshot-"));
const dir = join(work, "vault");
let identityPem: string;

async function session<T>(
  run: (vault: Vault, alice: AuthenticatedPrincipal) => Promise<T>,
  at = dir,
): Promise<T> {
  const vault = await Vault.open({ dir: at, ledgerSnapshotEvery: 1 });
  try {
    return await run(vault, vault.authenticate(identityPem));
  } finally {
    await vault.close();
  }
}

/** Whether an open of `at` goes on from its snapshot, and how many records that skips. */
async function opensFrom(at: string, options: Partial<VaultOpenOptions> = {}): Promise<number> {
  const opened = await openVaultParts({ dir: at, ...options }, "open");
  await opened.audit.close();
  opened.ctx.index?.close();
  opened.ctx.boundPolicy.close();
  return opened.ctx.ledger.restoredAt ?? 0;
}

/** Everything the vault states through its API that a ledger holds. */
async function stated(at = dir) {
  return session(async (vault, alice) => {
    const items = (await vault.list(alice))
      .map((item) => ({ key: `${item.caseId}/${item.id}`, hold: item.legalHold, until: item.retainUntil }))
      .sort((a, b) => a.key.localeCompare(b.key));
    const hashes = await vault.listHashes(alice);
    const access = await vault.listAccess(alice);
    return { items, hashes, access };
  }, at);
}

function file(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return path;
}

let history: Awaited<ReturnType<typeof stated>>;

beforeAll(async () => {
  const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
  identityPem = created.identityPem;
  await created.vault.close();
  await session(async (vault, alice) => {
    const a = await vault.ingest(alice, file("a.txt", "a\n"), { caseId: "CASE-A", retainDays: 0 });
    await vault.ingest(alice, file("b.txt", "b\n"), { caseId: "CASE-A" });
    await vault.ingest(alice, file("a.txt", "a\n"), { caseId: "CASE-B", retainDays: 0 });
    await vault.hold(alice, { id: a.id, caseId: "CASE-B" });
    await vault.extendRetention(alice, { id: a.id, caseId: "CASE-A" }, new Date("2031-01-01T00:00:00Z"));
    await vault.addHash(alice, { list: "known-bad", sha256: "ab".repeat(32), name: "bad.exe" });
    await vault.grant(alice, { name: "bob", role: "investigator", scope: "case:CASE-A" });
  });
  await session(async (vault, alice) => {
    const c = await vault.ingest(alice, file("c.txt", "c\n"), { caseId: "CASE-C", retainDays: 0 });
    expect(await vault.purge(alice, { id: c.id, caseId: "CASE-C" })).toMatchObject({ status: "done" });
  });
  history = await stated();
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("a ledger snapshot", () => {
  it("is written at close and read at open: the vault states what a whole read of its log states", async () => {
    expect(readdirSync(join(dir, "index")).filter((name) => name.startsWith("ledger"))).toHaveLength(2);
    expect(await opensFrom(dir)).toBeGreaterThan(10);
    const whole = join(work, "whole");
    cpSync(dir, whole, { recursive: true });
    for (const name of readdirSync(join(whole, "index")))
      if (name.startsWith("ledger")) rmSync(join(whole, "index", name));
    expect(await opensFrom(whole, { ledgerSnapshotEvery: 0 })).toBe(0);
    expect(await stated(whole)).toEqual(history);
    expect(await stated()).toEqual(history);
    expect(history.items.map((item) => item.key.split("/")[0])).toEqual(["CASE-A", "CASE-A", "CASE-B"]);
  });

  it("goes on after the snapshot: facts appended since are stated, and the index agrees", async () => {
    const copy = join(work, "goes-on");
    cpSync(dir, copy, { recursive: true });
    await session(async (vault, alice) => {
      const d = await vault.ingest(alice, file("d.txt", "d\n"), {
        caseId: "CASE-A",
        labels: { host: "ws1" },
      });
      await vault.hold(alice, { id: d.id, caseId: "CASE-A" });
      const byLabel = await vault.list(alice, { label: "host=ws1" });
      expect(byLabel.map((item) => item.id)).toEqual([d.id]);
      expect((await vault.list(alice, { caseId: "CASE-A" })).map((item) => item.legalHold).sort()).toEqual([
        false,
        false,
        true,
      ]);
      expect((await vault.check(alice)).filter((result) => !result.ok)).toEqual([]);
    }, copy);
  });

  it("sealed by the vault: one edited without the seal key is refused, and the whole log is read", async () => {
    const copy = join(work, "edited");
    cpSync(dir, copy, { recursive: true });
    const path = join(copy, "index", "ledger.snapshot");
    const [magic, header, mac] = readFileSync(path, "utf8").split("\n");
    // a hash list entry renamed in the header's facts would need a new seal: the old one no longer matches
    expect(header).toContain('"name":"bad.exe"');
    writeFileSync(path, `${magic}\n${header?.replace('"name":"bad.exe"', '"name":"ok!.exe"')}\n${mac}\n`);
    expect(await opensFrom(copy)).toBe(0);
    expect(await stated(copy)).toEqual(history);
  });

  it("refuses an items bucket edited on disk when it is read, and so does check", async () => {
    const copy = join(work, "bucket");
    cpSync(dir, copy, { recursive: true });
    const items = readdirSync(join(copy, "index")).find((name) => name.endsWith(".items")) as string;
    const path = join(copy, "index", items);
    writeFileSync(path, readFileSync(path, "utf8").replace("true", "fals"));
    expect(await opensFrom(copy)).toBeGreaterThan(0);
    const vault = await Vault.open({ dir: copy, ledgerSnapshotEvery: 0 });
    try {
      const alice = vault.authenticate(identityPem);
      await expect(vault.list(alice, { caseId: "CASE-B" })).rejects.toMatchObject({
        code: "ERR_INTEGRITY_MISMATCH",
      });
      await expect(vault.check(alice)).rejects.toMatchObject({ code: "ERR_INTEGRITY_MISMATCH" });
    } finally {
      await vault.close();
    }
  });

  it("is not used when its items file is gone or cut, or its header is cut: the whole log is read", async () => {
    for (const [name, damage] of [
      ["items-gone", (index: string, items: string) => rmSync(join(index, items))],
      ["items-cut", (index: string, items: string) => truncateSync(join(index, items), 100)],
      ["header-cut", (index: string) => truncateSync(join(index, "ledger.snapshot"), 30)],
    ] as const) {
      const copy = join(work, name);
      cpSync(dir, copy, { recursive: true });
      const index = join(copy, "index");
      damage(index, readdirSync(index).find((file) => file.endsWith(".items")) as string);
      expect(await opensFrom(copy)).toBe(0);
      expect(await stated(copy)).toEqual(history);
    }
  });

  it("an older snapshot put back is as good: the records after it are read again", async () => {
    const copy = join(work, "older");
    cpSync(dir, copy, { recursive: true });
    const older = join(work, "older-index");
    cpSync(join(copy, "index"), older, { recursive: true });
    await session(async (vault, alice) => {
      await vault.ingest(alice, file("e.txt", "e\n"), { caseId: "CASE-E" });
    }, copy);
    const later = await stated(copy);
    for (const name of readdirSync(join(copy, "index")))
      if (name.startsWith("ledger")) rmSync(join(copy, "index", name));
    cpSync(older, join(copy, "index"), { recursive: true });
    expect(await opensFrom(copy)).toBeGreaterThan(0);
    expect(await stated(copy)).toEqual(later);
  });

  it("leaves an edit to the log before the snapshot to check, which reports it", async () => {
    const copy = join(work, "log-edit");
    cpSync(dir, copy, { recursive: true });
    const log = join(copy, "audit", "audit.log");
    const lines = readFileSync(log, "utf8").split("\n");
    const at = lines.findIndex((line) => line.includes('"action":"evidence.hold-set"'));
    lines[at] = (lines[at] as string).replace('"outcome":"allow"', '"outcome":"ALLOW"');
    writeFileSync(log, lines.join("\n"));
    expect(await opensFrom(copy)).toBeGreaterThan(at);
    const findings = await session(
      async (vault, alice) => (await vault.check(alice)).filter((r) => !r.ok),
      copy,
    );
    expect(findings).toMatchObject([{ id: "audit-log", code: "ERR_AUDIT_RECORD_INVALID" }]);
  });

  it("is another vault's only with another vault's key: a snapshot copied across is refused", async () => {
    const other = join(work, "other");
    const created = await Vault.init(other, { custodian: "alice", keyBits: 2048 });
    await created.vault.close();
    cpSync(join(dir, "index", "ledger.snapshot"), join(other, "index", "ledger.snapshot"));
    expect(await opensFrom(other)).toBe(0);
  });
});

describe("a device's connections across a snapshot", () => {
  it("keeps its latest nonce: the chain goes on after the open, and an older nonce is a clone", async () => {
    const copy = join(work, "device");
    cpSync(dir, copy, { recursive: true });
    await run("openssl", [
      "req",
      "-new",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      join(work, "d.key"),
      "-out",
      join(work, "d.csr"),
      "-subj",
      "/CN=agent",
    ]);
    const csrPem = readFileSync(join(work, "d.csr"), "utf8");
    const request = { requestId: "r-1", clientAddress: "192.0.2.9" };
    const facts = { hostname: "ws-1", os: "linux", arch: "x64", agentVersion: "0.1.0" };
    const { certificatePem, nonces } = await session(async (vault, alice) => {
      const token = await vault.createEnrollmentToken(alice, { caseId: "CASE-A" });
      const enrolled = await vault.enroll({ token: token.token, csrPem, facts }, request);
      const device = await vault.authenticatePeer(enrolled.certificatePem, request);
      const made: string[] = [];
      let nonce: string | null = null;
      for (let i = 0; i < 3; i += 1) {
        nonce = (await vault.acceptAgentConnection(device, nonce, request)).nonce;
        made.push(nonce);
      }
      return { certificatePem: enrolled.certificatePem, nonces: made };
    }, copy);
    expect(await opensFrom(copy)).toBeGreaterThan(0);
    const header = readFileSync(join(copy, "index", "ledger.snapshot"), "utf8");
    expect(header.match(/"device\.connected"/g)).toHaveLength(1);
    await session(async (vault) => {
      const device = await vault.authenticatePeer(certificatePem, request);
      await expect(vault.acceptAgentConnection(device, nonces[2] as string, request)).resolves.toHaveProperty(
        "nonce",
      );
    }, copy);
    await session(async (vault) => {
      const device = await vault.authenticatePeer(certificatePem, request);
      await expect(vault.acceptAgentConnection(device, nonces[1] as string, request)).rejects.toMatchObject({
        code: "ERR_DEVICE_QUARANTINED",
      });
    }, copy);
  }, 60_000);
});

/** A snapshot sealed with the vault's own key around an edited header (a bug, never an attacker). */
function forge(
  at: string,
  edit: (header: { point: { byteOffset: number }; state: { otherFacts: unknown[] } }) => void,
) {
  const path = join(at, "index", "ledger.snapshot");
  const [magic, header] = readFileSync(path, "utf8").split("\n") as [string, string];
  const parsed = JSON.parse(header);
  edit(parsed);
  const text = JSON.stringify(parsed);
  const sealKey = Buffer.from(readFileSync(join(at, "pki", "audit-seal.key"), "utf8").trim(), "hex");
  const key = createHmac("sha256", sealKey).update("custody ledger snapshot key 1").digest();
  writeFileSync(
    path,
    `${magic}\n${text}\n${createHmac("sha256", key).update(`${magic}\n${text}`).digest("hex")}\n`,
  );
}

describe("a snapshot the vault sealed but cannot use", () => {
  it("whose point is not where the log's records are: the whole log is read", async () => {
    const copy = join(work, "bad-point");
    cpSync(dir, copy, { recursive: true });
    forge(copy, (header) => {
      header.point.byteOffset -= 1;
    });
    expect(await opensFrom(copy)).toBe(0);
    expect(await stated(copy)).toEqual(history);
  });

  it("whose state the ledger refuses: the open is tried again from the log's start", async () => {
    const copy = join(work, "bad-state");
    cpSync(dir, copy, { recursive: true });
    const ingest = readFileSync(join(copy, "audit", "audit.log"), "utf8")
      .split("\n")
      .find((line) => line.includes('"action":"evidence.ingested"')) as string;
    forge(copy, (header) => {
      header.state.otherFacts.push(JSON.parse(ingest));
    });
    expect(await opensFrom(copy)).toBe(0);
    expect(await stated(copy)).toEqual(history);
  });
});

/** Rewrites the snapshot's case buckets with `edit` and seals it with the vault's own key (a bug's snapshot). */
function forgeItems(at: string, edit: (bucket: string) => string) {
  const sha256 = (text: Buffer) => createHash("sha256").update(text).digest("hex");
  let itemsFile = "";
  forge(at, (header) => {
    const parsed = header as unknown as {
      itemsFile: string;
      cases: { lengths: number[]; sha256: string[] };
      ids: { lengths: number[] };
    };
    itemsFile = parsed.itemsFile;
    const bytes = readFileSync(join(at, "index", itemsFile));
    const parts: Buffer[] = [];
    let offset = 0;
    parsed.cases.lengths = parsed.cases.lengths.map((length, bucket) => {
      const edited = Buffer.from(edit(bytes.subarray(offset, offset + length).toString("utf8")));
      offset += length;
      parsed.cases.sha256[bucket] = sha256(edited);
      parts.push(edited);
      return edited.length;
    });
    parts.push(bytes.subarray(offset));
    writeFileSync(join(at, "index", itemsFile), Buffer.concat(parts));
  });
}

describe("check against the log", () => {
  it("reports a snapshot sealed by the vault that states an item otherwise than the log (a bug)", async () => {
    const copy = join(work, "check-items");
    cpSync(dir, copy, { recursive: true });
    // CASE-B's copy of a.txt is held in the log: the snapshot says it is not
    forgeItems(copy, (bucket) => bucket.replace(/("CASE-B",[^\]]*?,\d+,)true,/, "$1false,"));
    expect(await opensFrom(copy)).toBeGreaterThan(0);
    const findings = await session(async (vault, alice) => {
      const holds = (await vault.list(alice, { caseId: "CASE-B" })).map((item) => item.legalHold);
      expect(holds).toEqual([false]);
      return (await vault.check(alice)).filter((result) => !result.ok);
    }, copy);
    expect(findings).toContainEqual(
      expect.objectContaining({ id: "ledger-snapshot", code: "ERR_INTEGRITY_MISMATCH" }),
    );
    expect(findings.find((f) => f.id === "ledger-snapshot")?.message).toMatch(/is not as the log states it/);
  });

  it("reports a snapshot whose facts other than items' are not the log's", async () => {
    const copy = join(work, "check-facts");
    cpSync(dir, copy, { recursive: true });
    forge(copy, (header) => {
      // the hash list entry added before the snapshot: gone from its facts
      header.state.otherFacts = header.state.otherFacts.filter(
        (record) => (record as { details: { name?: string } }).details.name !== "bad.exe",
      );
    });
    const findings = await session(
      async (vault, alice) => (await vault.check(alice)).filter((result) => !result.ok),
      copy,
    );
    expect(findings.find((f) => f.id === "ledger-snapshot")?.message).toMatch(/otherFacts/);
  });

  it("finds nothing to report in a snapshot the vault wrote", async () => {
    const findings = await session(async (vault, alice) => (await vault.check(alice)).filter((r) => !r.ok));
    expect(findings).toEqual([]);
  });
});
