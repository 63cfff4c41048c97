import * as audit from "@custody/audit";
import { describe, expect, it } from "vitest";

describe("@custody/audit public surface", () => {
  it("exports exactly the documented values", () => {
    expect(Object.keys(audit).sort()).toEqual(
      [
        "CHECKPOINT_FORMAT",
        "CONSISTENCY_BUNDLE_FORMAT",
        "DirectoryCheckpointWitness",
        "FileAuditSink",
        "FileAuditSource",
        "GENESIS_PREV",
        "INCLUSION_BUNDLE_FORMAT",
        "MAX_DETAILS_BYTES",
        "RECOVERY_ACTION",
        "RECOVERY_ACTOR",
        "TAIL_SIGNED_ACTION",
        "auditEventSchema",
        "auditJsonSchemas",
        "auditOutcomeSchema",
        "auditRecordSchema",
        "checkpointSchema",
        "consistencyBundleSchema",
        "createConsistencyBundle",
        "createInclusionBundle",
        "createInclusionBundles",
        "inclusionBundleSchema",
        "isSharedSink",
        "openAuditLog",
        "openFileAuditLog",
        "parseCheckpointBytes",
        "readAuditRecords",
        "readLatestCheckpoint",
        "recordLeafHash",
        "signedCheckpointFromJson",
        "signedCheckpointJsonSchema",
        "signedCheckpointToJson",
        "verifyAuditLog",
        "verifyCheckpointSignature",
        "verifyConsistencyBundle",
        "verifyInclusionBundle",
        // the custody report format and its verifier
        "foldItemFacts",
        "ITEM_FACT_ACTIONS",
        "isItemFactAction",
        "assertSignedCustodyReport",
        "isSignedCustodyReport",
        "signedCustodyReportFromJson",
        "acquisitionSchema",
        "itemAuditTarget",
        "itemRecordSchema",
        "itemRecordSha256",
        "custodyReportJsonSchemas",
        "diskImageSchema",
        "CUSTODY_REPORT_FORMAT",
        "custodyReportSchema",
        "itemStateSchema",
        "signedCustodyReportSchema",
        "signCustodyReport",
        "verifyCustodyReport",
      ].sort(),
    );
  });

  it("gives JSON Schemas for every audit format", () => {
    const schemas = audit.auditJsonSchemas();
    expect(Object.keys(schemas).sort()).toEqual([
      "custody-audit-checkpoint-v1",
      "custody-audit-consistency-v1",
      "custody-audit-inclusion-v1",
      "custody-audit-record",
    ]);
    const record = schemas["custody-audit-record"] as { properties: Record<string, { type?: string }> };
    expect(record.properties.details?.type).toBe("object");
    expect(record.properties.seq?.type).toBe("integer");
  });

  it("validates events with the exported schema", () => {
    const event = { actor: "a", action: "b", target: "c", outcome: "allow", reason: "" };
    expect(audit.auditEventSchema.safeParse(event).success).toBe(true);
    expect(audit.auditEventSchema.safeParse({ ...event, outcome: "perhaps" }).success).toBe(false);
    expect(audit.GENESIS_PREV).toBe("0".repeat(64));
  });

  it("defines a record's Merkle leaf as the RFC 9162 leaf hash of its 32 raw hash bytes", () => {
    // sha256(0x00 || 32 zero bytes)
    expect(audit.recordLeafHash("00".repeat(32)).toString("hex")).toBe(
      "7f9c9e31ac8256ca2f258583df262dbc7d6f68f2a03043d5c99a4ae5a7396ce9",
    );
  });
});
