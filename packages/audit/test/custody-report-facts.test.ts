import { createHash } from "node:crypto";
import * as audit from "@custody/audit";
import {
  type AuditRecord,
  assertSignedCustodyReport,
  custodyReportJsonSchemas,
  foldItemFacts,
  type ItemRecord,
  isSignedCustodyReport,
  itemAuditTarget,
  itemRecordSha256,
  signCustodyReport,
  signedCustodyReportFromJson,
  verifyCustodyReport,
} from "@custody/audit";
import { type CustodyError, canonicalJson, isCustodyError, type JsonValue } from "@custody/core";
import type { Signer } from "@custody/manifest";
import { describe, expect, it } from "vitest";

const record: ItemRecord = {
  format: "custody.item/v1",
  id: "b".repeat(64),
  kind: "file",
  caseId: "case-7",
  name: "disk.img",
  labels: { host: "laptop-7" },
  size: 10,
  digests: { sha256: "b".repeat(64) },
  acquisition: {
    by: "alice",
    byFingerprintSha256: "a".repeat(64),
    at: "2026-01-02T03:04:05.006Z",
    how: "ingest",
    where: "forensics-1",
    tool: "custody 0.1.0",
    source: "disk.img",
  },
};

let seq = 0;
/** A fact record as the fold sees it (the fold reads actions, outcomes, times and details, not hashes). */
function fact(
  action: string,
  details: Record<string, JsonValue>,
  time = "2026-02-01T00:00:00.000Z",
): AuditRecord {
  seq += 1;
  const target = itemAuditTarget(record);
  const prev = "0".repeat(64);
  return {
    seq,
    time,
    actor: "alice",
    action,
    target,
    outcome: "allow",
    reason: "",
    details,
    prev,
    hash: prev,
  };
}

const ingested = (extra: Record<string, JsonValue> = {}) =>
  fact("evidence.ingested", {
    record: record as unknown as JsonValue,
    recordSha256: itemRecordSha256(record),
    legalHold: false,
    retainUntil: "2027-01-01T00:00:00.000Z",
    ...extra,
  });

function mismatch(events: AuditRecord[], message: RegExp): void {
  let error: unknown;
  try {
    foldItemFacts(events, record);
  } catch (e) {
    error = e;
  }
  expect(isCustodyError(error, "ERR_INTEGRITY_MISMATCH"), String(error)).toBe(true);
  expect((error as CustodyError).message).toMatch(message);
}

describe("foldItemFacts", () => {
  it("folds holds, releases, extensions and a purge after retention into the item's state", () => {
    const events = [
      fact("evidence.read", {}),
      ingested(),
      fact("evidence.hold-set", { legalHold: true }),
      fact("evidence.retention-extended", { retainUntil: "2028-01-01T00:00:00.000Z" }),
      fact("evidence.hold-released", { legalHold: false, requestId: "r-1", approvedBy: "bob" }),
    ];
    expect(foldItemFacts(events, record)).toEqual({
      legalHold: false,
      retainUntil: "2028-01-01T00:00:00.000Z",
      purged: false,
    });
    const purged = fact("evidence.purged", { requestId: "r-2" }, "2028-01-02T00:00:00.000Z");
    expect(foldItemFacts([...events, purged], record).purged).toBe(true);
  });

  it("refuses a history without exactly one ingest record, first among the facts", () => {
    mismatch([fact("evidence.read", {})], /no evidence\.ingested record/);
    mismatch(
      [fact("evidence.hold-set", { legalHold: true }), ingested()],
      /before the item's evidence\.ingested/,
    );
    mismatch([ingested(), ingested()], /a second ingest record/);
  });

  it("refuses an ingest record of another record, or with a wrong digest", () => {
    mismatch([ingested({ record: { ...record, caseId: "case-8" } })], /another item record/);
    mismatch([ingested({ recordSha256: "c".repeat(64) })], /recordSha256/);
  });

  it("refuses retention that shrinks, purges under hold or retention, and anything after a purge", () => {
    const shorten = fact("evidence.retention-extended", { retainUntil: "2026-06-01T00:00:00.000Z" });
    mismatch([ingested(), shorten], /shortens retention from 2027-01-01T00:00:00\.000Z/);
    const hold = fact("evidence.hold-set", { legalHold: true });
    const late = "2028-01-01T00:00:00.000Z";
    mismatch([ingested(), hold, fact("evidence.purged", {}, late)], /under legal hold/);
    mismatch([ingested(), fact("evidence.purged", {})], /retained until 2027/);
    mismatch([ingested(), fact("evidence.purged", {}, late), hold], /after the item was purged/);
  });

  it("refuses a fact record that was not allowed, or whose details are another action's", () => {
    mismatch([{ ...ingested(), outcome: "deny" }], /with outcome deny/);
    mismatch([ingested(), fact("evidence.hold-set", { legalHold: false })], /details .* legalHold/);
  });
});

const shaped = (format: string, id = record.id) => ({
  report: {
    format,
    generatedAt: "2026-03-01T00:00:00.000Z",
    generatedBy: "alice",
    vaultId: "vault-1",
    item: { record: { ...record, id }, state: { legalHold: false, purged: false } },
    events: [],
    proofs: [],
  },
  signature: "AAAA",
});

function code(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return isCustodyError(error) ? error.code : `not a CustodyError: ${String(error)}`;
  }
  return undefined;
}

describe("custody report guards", () => {
  it("refuses a report version they do not know, and anything that is not a report", () => {
    for (const format of ["custody.report/v1", "custody.report/v3"]) {
      expect(code(() => signedCustodyReportFromJson(JSON.stringify(shaped(format))))).toBe(
        "ERR_UNSUPPORTED_VERSION",
      );
      expect(code(() => verifyCustodyReport(shaped(format) as never, { trustAnchors: ["x"] }))).toBe(
        "ERR_UNSUPPORTED_VERSION",
      );
    }
    expect(code(() => signedCustodyReportFromJson("{not json"))).toBe("ERR_INVALID_ARGUMENT");
    expect(code(() => signedCustodyReportFromJson(JSON.stringify(shaped("custody.manifest/v1"))))).toBe(
      "ERR_INVALID_ARGUMENT",
    );
    const extra = { ...shaped("custody.report/v2"), note: "added" };
    expect(code(() => signedCustodyReportFromJson(JSON.stringify(extra)))).toBe("ERR_INVALID_ARGUMENT");
    const notSha = shaped("custody.report/v2", "disk.img");
    expect(code(() => assertSignedCustodyReport(notSha))).toBe("ERR_INVALID_ARGUMENT");
  });

  it("tell a well-formed report from anything else", () => {
    expect(isSignedCustodyReport(shaped("custody.report/v2"))).toBe(true);
    expect(isSignedCustodyReport(shaped("custody.report/v1"))).toBe(false);
    expect(code(() => assertSignedCustodyReport(shaped("custody.report/v2")))).toBeUndefined();
    expect(signedCustodyReportFromJson(JSON.stringify(shaped("custody.report/v2"))).report.vaultId).toBe(
      "vault-1",
    );
  });

  it("never sign a malformed report", async () => {
    const signer: Signer = {
      certificateChain: [],
      sign: () => Promise.reject(new Error("a malformed report reached the signer")),
    };
    const malformed = { ...shaped("custody.report/v2").report, events: [{ seq: -1 }] };
    const error = await signCustodyReport(malformed as never, signer).catch((e: unknown) => e);
    expect(isCustodyError(error, "ERR_INVALID_ARGUMENT"), String(error)).toBe(true);
  });
});

describe("item records", () => {
  it("digest as the sha256 of their canonical JSON, whatever the key order", () => {
    const reordered = Object.fromEntries(Object.entries(record).reverse()) as ItemRecord;
    const expected = createHash("sha256").update(canonicalJson(record)).digest("hex");
    expect(itemRecordSha256(reordered)).toBe(expected);
    expect(itemAuditTarget(record)).toBe(`item:case-7/${"b".repeat(64)}`);
  });
});

describe("custody report public surface", () => {
  it("exports the report format, its schemas, guards, signer and verifier", () => {
    const names = [
      "CUSTODY_REPORT_FORMAT",
      "ITEM_FACT_ACTIONS",
      "acquisitionSchema",
      "assertSignedCustodyReport",
      "custodyReportJsonSchemas",
      "custodyReportSchema",
      "foldItemFacts",
      "isItemFactAction",
      "isSignedCustodyReport",
      "itemAuditTarget",
      "itemRecordSchema",
      "itemRecordSha256",
      "itemStateSchema",
      "signCustodyReport",
      "signedCustodyReportFromJson",
      "signedCustodyReportSchema",
      "verifyCustodyReport",
    ];
    expect(Object.keys(audit)).toEqual(expect.arrayContaining(names));
    expect(audit.CUSTODY_REPORT_FORMAT).toBe("custody.report/v2");
  });

  it("gives JSON Schemas for the report and the item record", () => {
    const schemas = custodyReportJsonSchemas();
    expect(Object.keys(schemas).sort()).toEqual(["custody-item-v1", "custody-report-v2"]);
    const report = schemas["custody-report-v2"] as { properties: Record<string, unknown> };
    expect(Object.keys(report.properties).sort()).toEqual(["report", "signature"]);
  });
});
