import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { type ItemRecord, itemRecordSha256 } from "@custody/audit";
import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import { TOOL, type VaultContext } from "./context.js";
import { FACT, itemTarget } from "./facts.js";
import { encodeItemRecord, itemKey, RECORD_METADATA_KEY } from "./items.js";
import { LIBRARY_CASE } from "./library-facts.js";
import { itemLock } from "./locks.js";
import { verifiedItemBytes } from "./stored-bytes.js";

/**
 * Stores `bytes` as an item of the library case, create-only under their sha256, unless the log already
 * holds them there (the same bytes under another name, or a version uploaded again). The caller has
 * already been authorized (`library.manage`); the ingest is a fact like any other item's.
 */
export async function storeLibraryBytes(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  bytes: Buffer,
  name: string,
  labels: Record<string, string>,
): Promise<string> {
  const id = createHash("sha256").update(bytes).digest("hex");
  return ctx.locks.with([itemLock(LIBRARY_CASE, id)], async () => {
    const existing = ctx.ledger.item(LIBRARY_CASE, id);
    if (existing !== undefined && !existing.purged) return id;
    const record: ItemRecord = {
      format: "custody.item/v1",
      id,
      kind: "file",
      caseId: LIBRARY_CASE,
      name,
      labels: { source: "library", ...labels },
      size: bytes.length,
      digests: {
        sha256: id,
        sha1: createHash("sha1").update(bytes).digest("hex"),
        md5: createHash("md5").update(bytes).digest("hex"),
      },
      acquisition: {
        by: principal.id,
        byFingerprintSha256: principal.fingerprintSha256,
        at: ctx.clock.now().toISOString(),
        how: "ingest",
        where: ctx.hostname,
        tool: TOOL,
        source: `library upload of ${name}`,
      },
    };
    await ctx.store.create(itemKey(LIBRARY_CASE, id), Readable.from([bytes]), {
      expectedSha256: id,
      legalHold: false,
      metadata: { [RECORD_METADATA_KEY]: encodeItemRecord(record) },
    });
    await ctx.guard.fact(
      principal.id,
      FACT.ingested,
      itemTarget(LIBRARY_CASE, id),
      `${name} stored in the library`,
      { record, recordSha256: itemRecordSha256(record), legalHold: false },
    );
    return id;
  });
}

/** Reads a library item whole, checked against its content address (a changed byte on disk fails). */
export async function readLibraryBytes(ctx: VaultContext, id: string, maxBytes: number): Promise<Buffer> {
  const entry = ctx.ledger.item(LIBRARY_CASE, id);
  if (entry === undefined || entry.purged) {
    throw new CustodyError("ERR_NOT_FOUND", `library item ${id} is not in the vault`);
  }
  const { object, body } = await ctx.store.readObject(itemKey(LIBRARY_CASE, id));
  if (object.size > maxBytes) {
    body.destroy();
    throw new CustodyError("ERR_SIZE_LIMIT", `library item ${id} is over ${maxBytes} bytes`, {
      details: { size: object.size, limit: maxBytes },
    });
  }
  // only the content address and the size are checked here (a library item is never an image)
  const record = { id, size: object.size } as ItemRecord;
  const check = verifiedItemBytes(body, record);
  const chunks: Buffer[] = [];
  for await (const chunk of check) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
