import { createHash } from "node:crypto";
import type { Resource } from "@custody/access";
import { type ItemRecord, itemRecordSchema, itemRecordSha256 } from "@custody/audit";
import { CustodyError, canonicalJson } from "@custody/core";
import type { StoredObject } from "@custody/store";
import type { LedgerItem } from "./ledger.js";

/** An item as a caller sees it: its record plus its current protection state, as the log states them. */
export interface EvidenceItem extends ItemRecord {
  retainUntil?: string;
  legalHold: boolean;
  storedAt: string;
}

/** The store metadata name under which an item's record travels with its bytes (a copy: the log decides). */
export const RECORD_METADATA_KEY = "custodyrecord";

export const ITEM_PREFIX = "items/";

/**
 * Where one case's copy of some bytes lives. The case is hashed into the key because case ids may hold
 * characters store keys may not, and two cases never share an object (each has its own holds and purge).
 */
export function itemKey(caseId: string, id: string): string {
  return `${ITEM_PREFIX}${createHash("sha256").update(caseId).digest("hex")}/${id}`;
}

/** Store metadata values travel as HTTP headers on Azure, so the record is base64url of its canonical JSON. */
export function encodeItemRecord(record: ItemRecord): string {
  return Buffer.from(canonicalJson(record), "utf8").toString("base64url");
}

/**
 * The item's record from the store, accepted only when it is the record the log bound at ingest
 * (same canonical digest): an edited record, moved to another case or rewritten, is refused.
 */
export function verifiedItem(entry: LedgerItem, object: StoredObject): EvidenceItem {
  const record = decodeItemRecord(object.metadata[RECORD_METADATA_KEY], object.key);
  if (itemRecordSha256(record) !== entry.recordSha256) {
    throw new CustodyError(
      "ERR_INTEGRITY_MISMATCH",
      `the stored record of item ${entry.id} is not the one the audit log bound at ingest`,
      { details: { id: entry.id } },
    );
  }
  return {
    ...record,
    legalHold: entry.legalHold,
    storedAt: object.createdAt.toISOString(),
    ...(entry.retainUntil === undefined ? {} : { retainUntil: entry.retainUntil }),
  };
}

function decodeItemRecord(value: string | undefined, key: string): ItemRecord {
  if (value === undefined) {
    throw new CustodyError("ERR_INTEGRITY_MISMATCH", `stored object ${key} has no custody record`);
  }
  const parsed = itemRecordSchema.safeParse(safeJson(Buffer.from(value, "base64url").toString("utf8")));
  if (!parsed.success) {
    throw new CustodyError("ERR_INTEGRITY_MISMATCH", `stored object ${key} has a malformed custody record`);
  }
  return parsed.data;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** What access rules see of an item: its case and, for a package, its device, as the log states them. */
export function itemResource(entry: Pick<LedgerItem, "id" | "caseId" | "deviceId">): Resource {
  return {
    kind: "item",
    itemId: entry.id,
    caseId: entry.caseId,
    ...(entry.deviceId === undefined ? {} : { deviceId: entry.deviceId }),
  };
}
