import { createHash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { type ItemRecord, itemRecordSchema } from "@custody/audit";
import { CustodyError, isCustodyError } from "@custody/core";
import type { StoredObject } from "@custody/store";
import type { VaultContext } from "./context.js";
import { FACT } from "./facts.js";
import { type EvidenceItem, itemKey, verifiedItem } from "./items.js";
import type { LedgerItem } from "./ledger.js";

/** The item as the log states it, its record checked against the copy stored with the bytes. */
export async function viewItem(ctx: VaultContext, entry: LedgerItem): Promise<EvidenceItem> {
  return verifiedItem(entry, await ctx.store.head(itemKey(entry.caseId, entry.id)));
}

/** An item for a listing: a stored record that disagrees with the log is shown from the log, with a finding. */
export async function listedItem(
  ctx: VaultContext,
  entry: LedgerItem,
  object: StoredObject | undefined,
): Promise<EvidenceItem & { finding?: string }> {
  if (object !== undefined) {
    try {
      return verifiedItem(entry, object);
    } catch (error) {
      if (!isCustodyError(error)) throw error;
      return { ...(await loggedView(ctx, entry)), finding: error.message };
    }
  }
  return {
    ...(await loggedView(ctx, entry)),
    finding: "ingested and not purged, but missing from the store",
  };
}

async function loggedView(ctx: VaultContext, entry: LedgerItem): Promise<EvidenceItem> {
  const record = await loggedRecord(ctx, entry);
  return {
    ...record,
    legalHold: entry.legalHold,
    storedAt: "",
    ...(entry.retainUntil === undefined ? {} : { retainUntil: entry.retainUntil }),
  };
}

/** The item record exactly as its ingest fact states it. */
export async function loggedRecord(ctx: VaultContext, entry: LedgerItem): Promise<ItemRecord> {
  for await (const record of ctx.guard.records(entry.ingestedSeq)) {
    if (record.seq === entry.ingestedSeq && record.action === FACT.ingested) {
      return itemRecordSchema.parse(record.details.record);
    }
    break;
  }
  throw new CustodyError(
    "ERR_AUDIT_RECORD_INVALID",
    `the ingest record ${entry.ingestedSeq} of item ${entry.id} is gone`,
  );
}

/**
 * Passes the bytes through and, at their end, compares them with the item's content address and
 * recorded size: the store's own metadata is not trusted for this. `sha256` holds what was computed.
 */
export class ContentAddressCheck extends Transform {
  readonly #hash = createHash("sha256");
  #size = 0;
  sha256: string | undefined;

  constructor(
    private readonly expectedSha256: string,
    private readonly expectedSize: number,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#hash.update(chunk);
    this.#size += chunk.length;
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    this.sha256 = this.#hash.digest("hex");
    if (this.sha256 !== this.expectedSha256 || this.#size !== this.expectedSize) {
      done(
        new CustodyError(
          "ERR_INTEGRITY_MISMATCH",
          `the stored bytes (${this.#size} bytes, sha256 ${this.sha256}) are not item ${this.expectedSha256} (${this.expectedSize} bytes)`,
          { details: { expected: this.expectedSha256, actual: this.sha256, size: this.#size } },
        ),
      );
      return;
    }
    done();
  }
}
