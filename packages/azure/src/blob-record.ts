import { createHash } from "node:crypto";
import { CustodyError, isoTimestampSchema, sha256HexSchema } from "@custody/core";
import { objectMetadataSchema, type StoredObject } from "@custody/store";

/** Blob metadata names (C# identifiers; the service lower-cases them). */
export const META = {
  format: "custodyformat",
  sha256: "custodysha256",
  size: "custodysize",
  createdAt: "custodycreatedat",
  version: "custodyversion",
  labels: "custodylabels",
  legalHold: "custodylegalhold",
  retainUntil: "custodyretainuntil",
} as const;
const FORMAT = "custody.blob/v1";

/** Internal blobs live under a prefix no evidence key can start with (segments never start with "."). */
export const INTERNAL_PREFIX = ".custody/";

/** The immutable part of the record, as written on the committed blob. */
export interface BlobRecord {
  key: string;
  size: number;
  sha256: string;
  createdAt: Date;
  version: string;
  metadata: Record<string, string>;
  /** The state the object was created with; later library-enforced changes live in state blobs. */
  initial: ObjectState;
}

export interface ObjectState {
  legalHold: boolean;
  retainUntil?: string;
  deleted: boolean;
}

export function recordToMetadata(record: BlobRecord): Record<string, string> {
  return {
    [META.format]: FORMAT,
    [META.sha256]: record.sha256,
    [META.size]: String(record.size),
    [META.createdAt]: record.createdAt.toISOString(),
    [META.version]: record.version,
    // Labels travel as one base64url JSON value: any text survives, whatever HTTP headers allow.
    [META.labels]: Buffer.from(JSON.stringify(record.metadata)).toString("base64url"),
    [META.legalHold]: String(record.initial.legalHold),
    ...(record.initial.retainUntil === undefined ? {} : { [META.retainUntil]: record.initial.retainUntil }),
  };
}

/** Parses a committed blob's metadata; a blob without a valid record is reported, never guessed at. */
export function metadataToRecord(key: string, metadata: Record<string, string> | undefined): BlobRecord {
  const m = metadata ?? {};
  const size = Number(m[META.size]);
  const labels = decodeLabels(m[META.labels]);
  const retainUntil = m[META.retainUntil];
  const ok =
    m[META.format] === FORMAT &&
    sha256HexSchema.safeParse(m[META.sha256]).success &&
    Number.isSafeInteger(size) &&
    size >= 0 &&
    isoTimestampSchema.safeParse(m[META.createdAt]).success &&
    typeof m[META.version] === "string" &&
    labels !== undefined &&
    (retainUntil === undefined || isoTimestampSchema.safeParse(retainUntil).success);
  if (!ok) {
    throw new CustodyError(
      "ERR_INTEGRITY_MISMATCH",
      `blob ${JSON.stringify(key)} has no valid custody record`,
      {
        details: { key },
      },
    );
  }
  return {
    key,
    size,
    sha256: m[META.sha256] as string,
    createdAt: new Date(m[META.createdAt] as string),
    version: m[META.version] as string,
    metadata: labels,
    initial: {
      legalHold: m[META.legalHold] === "true",
      ...(retainUntil ? { retainUntil } : {}),
      deleted: false,
    },
  };
}

export function toStoredObject(record: BlobRecord, state: ObjectState): StoredObject {
  return {
    key: record.key,
    size: record.size,
    sha256: record.sha256,
    createdAt: record.createdAt,
    ...(state.retainUntil === undefined ? {} : { retainUntil: new Date(state.retainUntil) }),
    legalHold: state.legalHold,
    version: record.version,
    metadata: { ...record.metadata },
  };
}

/**
 * Block ids are derived from the key, the block's index and the sha256 of the object's bytes up to the
 * block's end: a retried upload of the same bytes finds its staged blocks again, and a block staged
 * after other bytes (in it or before it) is never reused. The prefix digest is a copy of the running
 * whole-object hash, so no block is hashed twice.
 */
export function blockId(key: string, index: number, prefixSha256: string): string {
  const keyTag = createHash("sha256").update(key).digest("hex").slice(0, 16);
  return Buffer.from(`${keyTag}-${String(index).padStart(6, "0")}-${prefixSha256.slice(0, 32)}`).toString(
    "base64",
  );
}

function decodeLabels(value: string | undefined): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  try {
    const parsed = objectMetadataSchema.safeParse(
      JSON.parse(Buffer.from(value, "base64url").toString("utf8")),
    );
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}
