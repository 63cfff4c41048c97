import { type Resource, scopeIdSchema } from "@custody/access";
import {
  CustodyError,
  canonicalJson,
  digestSetSchema,
  isoTimestampSchema,
  sha256HexSchema,
} from "@custody/core";
import type { StoredObject } from "@custody/store";
import { z } from "zod";

/** Who acquired an item, how, where and when: what a court asks first. */
export const acquisitionSchema = z.strictObject({
  by: z.string().min(1),
  byFingerprintSha256: sha256HexSchema,
  at: isoTimestampSchema,
  how: z.enum(["ingest", "collect"]),
  where: z.string().min(1),
  tool: z.string().min(1),
  source: z.string(),
});

/** The immutable facts of an evidence item, fixed at ingest and stored with its bytes. */
export const itemRecordSchema = z.strictObject({
  format: z.literal("custody.item/v1"),
  id: sha256HexSchema,
  kind: z.enum(["package", "file"]),
  caseId: scopeIdSchema,
  name: z.string().max(1024),
  labels: z.record(z.string().min(1).max(128), z.string().max(1024)),
  size: z.number().int().nonnegative(),
  digests: digestSetSchema,
  package: z
    .strictObject({
      verified: z.boolean(),
      manifestSha256: sha256HexSchema.optional(),
      packageName: z.string().optional(),
      deviceId: z.string().optional(),
      signer: z.string().optional(),
      /** From the signed manifest: when and by whom the package was collected, on which host, with what. */
      collectedAt: z.string().optional(),
      collectedBy: z.string().optional(),
      problems: z.array(
        z.strictObject({ code: z.string(), path: z.string().optional(), message: z.string() }),
      ),
    })
    .optional(),
  acquisition: acquisitionSchema,
});

export type ItemRecord = z.infer<typeof itemRecordSchema>;
export type Acquisition = z.infer<typeof acquisitionSchema>;

/** An item as a caller sees it: its record plus its current protection state. */
export interface EvidenceItem extends ItemRecord {
  retainUntil?: string;
  legalHold: boolean;
  storedAt: string;
}

/** The store metadata name under which an item's record travels with its bytes. */
export const RECORD_METADATA_KEY = "custodyrecord";

/** Store metadata values travel as HTTP headers on Azure, so the record is base64url of its canonical JSON. */
export function encodeItemRecord(record: ItemRecord): string {
  return Buffer.from(canonicalJson(record), "utf8").toString("base64url");
}

export function decodeItemRecord(value: string | undefined, key: string): ItemRecord {
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

export const ITEM_PREFIX = "items/";

export function itemKey(id: string): string {
  return `${ITEM_PREFIX}${id}`;
}

/** The caller's view of a stored object: its record plus its live protection state. */
export function toItem(object: StoredObject): EvidenceItem {
  const record = decodeItemRecord(object.metadata[RECORD_METADATA_KEY], object.key);
  return {
    ...record,
    legalHold: object.legalHold,
    storedAt: object.createdAt.toISOString(),
    ...(object.retainUntil === undefined ? {} : { retainUntil: object.retainUntil.toISOString() }),
  };
}

/** What access rules see of an item: its case and, for a package, its device. */
export function itemResource(item: ItemRecord): Resource {
  return { kind: "item", itemId: item.id, caseId: item.caseId, ...deviceOf(item) };
}

export function deviceOf(record: ItemRecord): { deviceId?: string } {
  return record.package?.deviceId === undefined ? {} : { deviceId: record.package.deviceId };
}
