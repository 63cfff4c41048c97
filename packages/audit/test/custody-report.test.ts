import { spawnSync } from "node:child_process";
import { createHash, X509Certificate } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type AuditEvent,
  type AuditLog,
  type AuditRecord,
  type CustodyReport,
  type InclusionProofBundle,
  type ItemRecord,
  itemAuditTarget,
  itemRecordSha256,
  openFileAuditLog,
  type SignedCustodyReport,
  signCustodyReport,
  signedCustodyReportFromJson,
  verifyCustodyReport,
} from "@custody/audit";
import { type CustodyError, canonicalJson, canonicalJsonBytes, isCustodyError } from "@custody/core";
import {
  type CertificateAuthority,
  type CertificateRole,
  createCertificateAuthority,
  createCrl,
  createKeySigner,
  type IssueOptions,
  issueCertificate,
  type Signer,
  type TrustOptions,
  verifyDetached,
} from "@custody/manifest";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "./fixtures.js";

let dir: string;
let ca: CertificateAuthority;
let remove: () => Promise<void>;
let trust: TrustOptions;
let vault: Signer;
let collector: Signer;
let rolesEnforced: boolean;
let genuine: SignedCustodyReport;
/** A genuine proof, against the report's checkpoint, of an event about another item. */
let foreign: InclusionProofBundle;
let liveForeign: InclusionProofBundle;
let remediationForeign: InclusionProofBundle;
/** A genuine proof of the report's first event, against an older checkpoint. */
let older: InclusionProofBundle;

/** A certificate for `role`; falls back to the generic signer usage where the PKI does not issue roles yet. */
async function signerFor(ca: CertificateAuthority, role: CertificateRole): Promise<Signer> {
  const issue = (usage: string) =>
    issueCertificate(ca, { commonName: role, usage, keyBits: 2048 } as IssueOptions);
  const leaf = await issue(role).catch((error: unknown) => {
    if (isCustodyError(error, "ERR_INVALID_ARGUMENT")) return issue("signer");
    throw error;
  });
  return createKeySigner({ keyPem: leaf.keyPem, certificatePem: leaf.certificatePem });
}

function itemRecord(caseId: string, content: string): ItemRecord {
  const sha256 = createHash("sha256").update(content).digest("hex");
  return {
    format: "custody.item/v1",
    id: sha256,
    kind: "file",
    caseId,
    name: `${caseId}.bin`,
    labels: { source: "laptop-7" },
    size: content.length,
    digests: { sha256 },
    acquisition: {
      by: "alice",
      byFingerprintSha256: "a".repeat(64),
      at: "2026-01-02T03:04:05.006Z",
      how: "ingest",
      where: "forensics-1",
      tool: "custody 0.1.0",
      source: "/evidence/disk.img",
    },
  };
}

/** What the vault appends, in order: requests, the facts after each change succeeded, other items' events. */
async function appendHistory(log: AuditLog, a: ItemRecord, b: ItemRecord): Promise<void> {
  const on = (record: ItemRecord, action: string, details: AuditEvent["details"] = {}, outcome = "allow") =>
    log.append({
      actor: "alice",
      action,
      target: itemAuditTarget(record),
      outcome: outcome as AuditEvent["outcome"],
      reason: "grant g-1",
      details,
    });
  const ingest = (record: ItemRecord, retainUntil: string) =>
    on(record, "evidence.ingested", {
      record,
      recordSha256: itemRecordSha256(record),
      legalHold: false,
      retainUntil,
    });
  await on(a, "evidence.ingest");
  await ingest(a, "2030-01-01T00:00:00.000Z");
  await on(b, "evidence.ingest");
  await ingest(b, "2030-01-01T00:00:00.000Z");
  await on(a, "evidence.read", {}, "deny");
  await on(a, "evidence.hold-set", { legalHold: true });
  older = (await log.proveInclusions([0], await log.checkpoint()))[0] as InclusionProofBundle;
  await on(a, "evidence.retention-extended", { retainUntil: "2031-06-30T00:00:00.000Z" });
  await on(b, "evidence.read");
  await on(a, "evidence.hold-released", { legalHold: false, requestId: "r-1", approvedBy: "bob" });
  await on(a, "evidence.hold-set", { legalHold: true });
  await on(a, "report.read");
  // a live-response session's record naming case-A: it belongs only to items labelled with that session
  await log.append({
    actor: "alice",
    action: "live.command",
    target: "device:D-1",
    outcome: "allow",
    reason: "allowed",
    details: { sessionId: "S-1", caseId: "case-A", cmdId: "C-1", line: "processes" },
  });
  // a remediation of case-A that quarantined another item: it belongs only to that item's report
  await log.append({
    actor: "alice",
    action: "remediation.recorded",
    target: "device:D-1",
    outcome: "allow",
    reason: "file /tmp/x remediated",
    details: { remediationId: "C-2", caseId: "case-A", cmdId: "C-2", itemIds: ["0".repeat(64)] },
  });
}

beforeAll(async () => {
  ca = await createCertificateAuthority({ commonName: "Report Test CA", keyBits: 2048 });
  trust = { trustAnchors: [ca.certificatePem] };
  vault = await signerFor(ca, "vault-signer");
  collector = await signerFor(ca, "collector");
  rolesEnforced = await refusesCollector();
  ({ dir, remove } = await tempDir("report"));
  const log = await openFileAuditLog({ dir: join(dir, "audit"), signer: vault, checkpointIntervalMs: 0 });
  const [a, b] = [itemRecord("case-A", "bytes of A"), itemRecord("case-B", "bytes of B")];
  await appendHistory(log, a, b);
  const checkpoint = await log.checkpoint();
  const all: AuditRecord[] = [];
  for await (const record of log.read()) all.push(record);
  const events = all.filter((record) => record.target === itemAuditTarget(a));
  const proofs = await log.proveInclusions(
    events.map((e) => e.seq),
    checkpoint,
  );
  foreign = (await log.proveInclusions([2], checkpoint))[0] as InclusionProofBundle;
  const live = all.find((record) => record.action === "live.command") as AuditRecord;
  liveForeign = (await log.proveInclusions([live.seq], checkpoint))[0] as InclusionProofBundle;
  const remediation = all.find((record) => record.action === "remediation.recorded") as AuditRecord;
  remediationForeign = (await log.proveInclusions([remediation.seq], checkpoint))[0] as InclusionProofBundle;
  await log.close();
  const report: CustodyReport = {
    format: "custody.report/v2",
    generatedAt: new Date().toISOString(),
    generatedBy: "alice",
    vaultId: "vault-1",
    item: { record: a, state: { legalHold: true, retainUntil: "2031-06-30T00:00:00.000Z", purged: false } },
    events,
    proofs,
  };
  genuine = await signCustodyReport(report, vault);
});
afterAll(() => remove());

async function refusesCollector(): Promise<boolean> {
  const probe = Buffer.from("probe");
  try {
    verifyDetached(probe, await collector.sign(probe), { ...trust, requiredRole: "vault-signer" });
    return false;
  } catch {
    return true;
  }
}

/** The attacker's edit: a copy of the genuine report, changed, then signed with a key they hold. */
async function forge(edit: (report: CustodyReport) => void, signer = vault): Promise<SignedCustodyReport> {
  const report = structuredClone(genuine.report);
  edit(report);
  const signature = await signer.sign(canonicalJsonBytes(report));
  return { report, signature: signature.toString("base64") };
}

/** Checks a report as `custody report verify` would: written to a file, read back, verified. */
async function check(signed: SignedCustodyReport) {
  const file = join(dir, "report.json");
  await writeFile(file, JSON.stringify(signed));
  return verifyCustodyReport(signedCustodyReportFromJson(await readFile(file, "utf8")), trust);
}

async function refused(signed: SignedCustodyReport, code: string, message?: RegExp): Promise<CustodyError> {
  const error = await check(signed).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isCustodyError(error), `expected ${code}, got ${String(error)}`).toBe(true);
  expect((error as CustodyError).code).toBe(code);
  if (message !== undefined) expect((error as CustodyError).message).toMatch(message);
  return error as CustodyError;
}

const eventIndex = (action: string, nth = 0) =>
  genuine.report.events.flatMap((e, i) => (e.action === action ? [i] : []))[nth] as number;

describe("custody report v2: a genuine report", () => {
  it("verifies offline with the CA alone and says what it proved", async () => {
    const result = await check(genuine);
    expect(result.target).toBe(itemAuditTarget(genuine.report.item.record));
    expect(result.events).toBe(8);
    expect(result.state).toEqual(genuine.report.item.state);
    expect(result.checkpoint.treeSize).toBe(13);
    expect(result.signer).toContain("vault-signer");
  });

  it("is signed with standard detached CMS over its canonical JSON (openssl cms -verify)", async () => {
    const files = { content: join(dir, "c.json"), sig: join(dir, "c.p7s"), ca: join(dir, "ca.pem") };
    await writeFile(files.content, canonicalJsonBytes(genuine.report));
    await writeFile(files.sig, Buffer.from(genuine.signature, "base64"));
    await writeFile(files.ca, trust.trustAnchors[0] as string);
    const verify = () =>
      spawnSync("openssl", [
        ...["cms", "-verify", "-binary", "-inform", "DER", "-in", files.sig, "-content", files.content],
        ...["-CAfile", files.ca, "-purpose", "any", "-out", "/dev/null"],
      ]);
    const result = verify();
    expect(result.status, String(result.stderr)).toBe(0);
    const edited = canonicalJson({ ...genuine.report, generatedBy: "mallory" });
    await writeFile(files.content, edited);
    const refused = verify();
    expect(refused.status).not.toBe(0);
    // openssl must refuse for the content, not for some other reason (a missing file, a bad CA).
    expect(String(refused.stderr)).toMatch(/Verification failure/);
    expect(String(refused.stderr)).toMatch(/content verify error/);
  });
});

describe("custody report v2: the attacker's edits are refused", () => {
  it("drops an event and re-signs with a collector's key: the signer is not the vault", async (ctx) => {
    if (!rolesEnforced) ctx.skip("the manifest package does not enforce requiredRole yet");
    const at = eventIndex("evidence.read");
    const signed = await forge((r) => {
      r.events.splice(at, 1);
      r.proofs.splice(at, 1);
    }, collector);
    await refused(signed, "ERR_CERT_USAGE", /report's signature/);
  });

  it("signs the report with a vault signer of another CA: the signer is not trusted", async () => {
    const own = await createCertificateAuthority({ commonName: "Report Test CA", keyBits: 2048 });
    await refused(await forge(() => {}, await signerFor(own, "vault-signer")), "ERR_UNTRUSTED_SIGNER");
  });

  it("was signed by a vault signer revoked since: refused with the CA's revocation list", async () => {
    const serialNumber = new X509Certificate(vault.certificateChain[0] as string).serialNumber;
    const crl = createCrl(ca, [{ serialNumber, revokedAt: new Date() }]);
    const error = (() => {
      try {
        verifyCustodyReport(genuine, { ...trust, crls: [crl] });
      } catch (e) {
        return e;
      }
    })();
    expect(isCustodyError(error, "ERR_CERT_REVOKED"), String(error)).toBe(true);
  });

  it("edits the report without a key: the signature no longer matches", async () => {
    const signed = { ...genuine, report: { ...genuine.report, item: { ...genuine.report.item } } };
    signed.report.item.state = { ...genuine.report.item.state, legalHold: false };
    await refused(signed, "ERR_DIGEST_MISMATCH");
  });

  it("moves the item to another case with the vault's key: the events are about another item", async () => {
    const signed = await forge((r) => {
      r.item.record.caseId = "case-B";
    });
    await refused(signed, "ERR_PROOF_INVALID", /event 0 .* is about item:case-A\//);
  });

  it("moves the item and rewrites every event's target and hash: the proofs no longer hold", async () => {
    const signed = await forge((r) => {
      r.item.record.caseId = "case-B";
      r.events.forEach((event, i) => {
        event.target = itemAuditTarget(r.item.record);
        const { hash: _, ...unsealed } = event;
        event.hash = createHash("sha256").update(canonicalJson(unsealed)).digest("hex");
        (r.proofs[i] as InclusionProofBundle).record = event;
      });
    });
    await refused(signed, "ERR_PROOF_INVALID", /the proof for event 0/);
  });

  it("rewrites who acquired the item: the ingest record disagrees", async () => {
    const signed = await forge((r) => {
      r.item.record.acquisition.by = "mallory";
    });
    await refused(signed, "ERR_INTEGRITY_MISMATCH", /event 1 \(evidence\.ingested\) records another/);
  });

  it("adds another item's event with its genuine proof: refused", async () => {
    const signed = await forge((r) => {
      r.events.splice(2, 0, foreign.record);
      r.proofs.splice(2, 0, foreign);
    });
    await refused(signed, "ERR_PROOF_INVALID", /event 2 \(evidence\.ingest\) is about item:case-B\//);
  });

  it("adds a live session's record to an item the session did not produce: refused", async () => {
    const signed = await forge((r) => {
      r.events.push(liveForeign.record);
      r.proofs.push(liveForeign);
    });
    await refused(signed, "ERR_PROOF_INVALID", /\(live\.command\) is about device:D-1/);
  });

  it("adds a remediation record of the same case that names another quarantine item: refused", async () => {
    const signed = await forge((r) => {
      r.events.push(remediationForeign.record);
      r.proofs.push(remediationForeign);
    });
    await refused(signed, "ERR_PROOF_INVALID", /\(remediation\.recorded\) is about device:D-1/);
  });

  it("states that the hold was released, or a shorter retention, or a purge: the facts disagree", async () => {
    const edits: ((r: CustodyReport) => void)[] = [
      (r) => Object.assign(r.item.state, { legalHold: false }),
      (r) => Object.assign(r.item.state, { retainUntil: "2030-01-01T00:00:00.000Z" }),
      (r) => Object.assign(r.item.state, { purged: true }),
    ];
    for (const edit of edits) await refused(await forge(edit), "ERR_INTEGRITY_MISMATCH", /the report states/);
  });

  it("drops the last hold so the history agrees with a released state: still refused", async () => {
    const at = eventIndex("evidence.hold-set", 1);
    const signed = await forge((r) => {
      r.events.splice(at, 1);
      r.proofs.splice(at, 1);
      r.item.state.legalHold = true;
    });
    await refused(signed, "ERR_INTEGRITY_MISMATCH", /legalHold true, but .* give false/);
  });

  it("drops the ingest record: refused", async () => {
    const at = eventIndex("evidence.ingested");
    const signed = await forge((r) => {
      r.events.splice(at, 1);
      r.proofs.splice(at, 1);
    });
    await refused(signed, "ERR_INTEGRITY_MISMATCH", /before the item's evidence\.ingested/);
  });

  it("swaps two proofs, reorders events, or repeats one: refused", async () => {
    const swapProofs = await forge((r) => {
      [r.proofs[1], r.proofs[2]] = [r.proofs[2] as InclusionProofBundle, r.proofs[1] as InclusionProofBundle];
    });
    await refused(swapProofs, "ERR_PROOF_INVALID", /the proof for event \d+ is for record/);
    const reorder = await forge((r) => {
      [r.events[1], r.events[2]] = [r.events[2] as AuditRecord, r.events[1] as AuditRecord];
      [r.proofs[1], r.proofs[2]] = [r.proofs[2] as InclusionProofBundle, r.proofs[1] as InclusionProofBundle];
    });
    await refused(reorder, "ERR_PROOF_INVALID", /log order/);
    const repeat = await forge((r) => {
      r.events.splice(1, 0, r.events[1] as AuditRecord);
      r.proofs.splice(1, 0, r.proofs[1] as InclusionProofBundle);
    });
    await refused(repeat, "ERR_PROOF_INVALID", /log order/);
  });

  it("proves an event against another genuine checkpoint, or edits an audit path: refused", async () => {
    await refused(
      await forge((r) => {
        r.proofs[0] = older;
      }),
      "ERR_PROOF_INVALID",
      /the report's one checkpoint/,
    );
    const path = await forge((r) => {
      const proof = (r.proofs[3] as InclusionProofBundle).proof;
      proof[0] = (proof[0] as string).replace(/^./, (c) => (c === "0" ? "1" : "0"));
    });
    await refused(path, "ERR_PROOF_INVALID", /the proof for event \d+/);
  });

  it("any one changed value, re-signed with the vault's own key, is refused", async () => {
    // What the vault states about itself (time, requester, vault id) and the checkpoint's CMS bytes are
    // not facts the log binds; every other value is.
    const unbound = /^(generatedAt|generatedBy|vaultId|proofs\.\d+\.checkpoint\.signature)$/;
    const leaves = leafPaths(genuine.report).filter((path) => !unbound.test(path.join(".")));
    await fc.assert(
      fc.asyncProperty(fc.nat(leaves.length - 1), fc.nat(), async (which, salt) => {
        const path = leaves[which] as (string | number)[];
        const signed = await forge((r) => changeAt(r, path, salt));
        const error = await check(signed).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isCustodyError(error), `changing ${path.join(".")} was accepted`).toBe(true);
      }),
      { numRuns: 60 },
    );
  });
});

function leafPaths(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== "object" || value === null) return [path];
  return Object.entries(value).flatMap(([key, child]) =>
    leafPaths(child, [...path, Array.isArray(value) ? Number(key) : key]),
  );
}

/** Changes one leaf to a different value of the same kind (a hex digit stays a hex digit). */
function changeAt(root: unknown, path: (string | number)[], salt: number): void {
  const parent = path.slice(0, -1).reduce((node, key) => (node as Record<string, unknown>)[key], root);
  const key = path[path.length - 1] as string;
  const holder = parent as Record<string, unknown>;
  const value = holder[key];
  if (typeof value === "boolean") holder[key] = !value;
  else if (typeof value === "number") holder[key] = value + 1 + (salt % 3);
  else if (typeof value === "string") holder[key] = changeChar(value, salt);
}

function changeChar(text: string, salt: number): string {
  if (text.length === 0) return "x";
  const at = salt % text.length;
  const c = text[at] as string;
  const pool = /[0-9]/.test(c) ? "0123456789" : /[a-f]/.test(c) ? "abcdef" : "xyz";
  const pick = [...pool].filter((p) => p !== c)[salt % (pool.length - 1)] as string;
  return text.slice(0, at) + pick + text.slice(at + 1);
}
