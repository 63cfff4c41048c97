import { basename } from "node:path";
import type { Readable } from "node:stream";
import type { Resource } from "@custody/access";
import { type ItemRecord, itemRecordSha256 } from "@custody/audit";
import { CustodyError } from "@custody/core";
import type { EarlyCopy, StoredObject } from "@custody/store";
import { retentionOf } from "./acquire-ops.js";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { FACT, itemTarget } from "./facts.js";
import {
  assertCaseId,
  assertIngestable,
  type BodyIngestOptions,
  examineForIngest,
  examineStaged,
  type IngestOptions,
  ingestFileSize,
  openForStore,
} from "./ingest.js";
import { resolveIngestHashes } from "./ingest-hashes.js";
import { viewItem } from "./item-view.js";
import { type EvidenceItem, encodeItemRecord, itemKey, itemResource, RECORD_METADATA_KEY } from "./items.js";
import type { LedgerItem } from "./ledger.js";
import { itemLock } from "./locks.js";
import { type ItemRef, resolveItem } from "./resolve.js";
import { type StagedBody, stageBody, stagesLocally } from "./stage-body.js";
import { type StagedExaminer, startStagedExamination } from "./staged-examination.js";
import { verifiedItemBytes } from "./stored-bytes.js";

export async function ingestItem(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  file: string,
  options: IngestOptions,
): Promise<EvidenceItem> {
  try {
    return await ingestFile(ctx, principal, file, options);
  } finally {
    options.earlyCopy?.discard();
  }
}

async function ingestFile(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  file: string,
  options: IngestOptions,
): Promise<EvidenceItem> {
  resolveIngestHashes(options.hashes);
  await refuseUngrantedIngest(ctx, principal, options.caseId, options.source ?? file);
  if (stagesLocally(ctx.store)) {
    // One read of the file: staged durably while hashed, then examined from the staged copy.
    const expectedSize = await ingestFileSize(file);
    const body = openForStore(file);
    const named = { ...options, name: basename(file), source: options.source ?? file, expectedSize };
    // The package check starts on the staged copy as the kernel copies it (where the package's entries
    // lie is read from the file itself): the store's read of the copy (its sha256) feeds the check's
    // hashing of the package's entries, one read for both.
    const examine = (path: string, whole: Promise<void>) =>
      startStagedExamination(ctx, path, named, { of: file, whole });
    return ingestBody(ctx, principal, body, named, false, {
      wholeFile: true,
      examine,
      ...(options.earlyCopy === undefined ? {} : { earlyCopy: options.earlyCopy }),
    });
  }
  const record = await examineForIngest(ctx, principal, file, options);
  const { retainUntil, legalHold } = protectionOf(ctx, options);
  const store = (key: string, metadata: Record<string, string>) =>
    ctx.store.create(key, openForStore(file), {
      expectedSha256: record.id,
      ...(retainUntil === undefined ? {} : { retainUntil }),
      legalHold,
      metadata,
      ...(options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal }),
    });
  return ctx.guard.run(ingestRequest(principal, record, file), () =>
    ctx.locks.with([itemLock(record.caseId, record.id)], () =>
      storeIngested(ctx, principal, record, options, { retainUntil, legalHold, store }),
    ),
  );
}

/**
 * Ingests a stream (a server's upload) in one pass from the body to the durable store; only for a store
 * that stages locally (`stagesLocally`). A failure before the vault decides (the client left, the digest
 * differed) is recorded as an `error` of `evidence.ingest` in the case.
 */
export async function ingestStreamed(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  body: Readable,
  options: BodyIngestOptions,
): Promise<EvidenceItem> {
  if (!stagesLocally(ctx.store)) {
    body.destroy();
    throw new CustodyError("ERR_INTERNAL", "a streamed ingest needs a store that stages locally");
  }
  try {
    await refuseUngrantedIngest(ctx, principal, options.caseId, options.source ?? options.name);
  } catch (error) {
    body.destroy();
    throw error;
  }
  return ingestBody(ctx, principal, body, options, true, {
    ...(options.expectedSize === undefined ? {} : { sizeHint: options.expectedSize }),
  });
}

async function ingestBody(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  body: Readable,
  options: BodyIngestOptions,
  recordEarlyFailure: boolean,
  how: {
    wholeFile?: boolean;
    sizeHint?: number;
    examine?: (stagedPath: string, whole: Promise<void>) => Promise<StagedExaminer>;
    earlyCopy?: EarlyCopy;
  },
): Promise<EvidenceItem> {
  const { retainUntil, legalHold } = protectionOf(ctx, options);
  let bytes = 0;
  let staged: StagedBody | undefined;
  let decided = false;
  let staging = false;
  try {
    // The case id was checked by the gate both callers pass first (`refuseUngrantedIngest`).
    const extraHashes = resolveIngestHashes(options.hashes);
    staging = true;
    staged = await stageBody(ctx, body, {
      retainUntil,
      legalHold,
      abortSignal: options.abortSignal,
      extraHashes,
      onProgress: (n) => {
        bytes = n;
      },
      ...how,
    });
    const record = await examineStaged(ctx, principal, staged, options);
    const commit = staged.commit;
    const store = (key: string, metadata: Record<string, string>) => commit({ key, metadata });
    decided = true;
    return await ctx.guard.run(ingestRequest(principal, record, options.source ?? options.name), () =>
      ctx.locks.with([itemLock(record.caseId, record.id)], () =>
        storeIngested(ctx, principal, record, options, { retainUntil, legalHold, store }),
      ),
    );
  } catch (error) {
    body.destroy();
    // Once the body is being stored, a failure before the decision is recorded (a full disk, a
    // client that left, a digest that differed); a stream's failure always is.
    if (!decided && (recordEarlyFailure || staging)) {
      ctx.guard.assertAuthenticated(principal);
      await ctx.guard.failed(principal, "evidence.ingest", `case:${options.caseId}`, error, {
        bytesReceived: bytes,
      });
    }
    throw error;
  } finally {
    await staged?.discard(new CustodyError("ERR_ABORTED", "the ingest was not committed"));
  }
}

/**
 * Before a byte is read: a caller that no grant allows to ingest into the case, whatever device a
 * package might name, is refused now (recorded as a denial on `case:<id>`) instead of once the whole
 * body has been copied, hashed and examined.
 */
export function refuseUngrantedIngest(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  caseId: string,
  source: string,
): Promise<void> {
  assertCaseId(caseId);
  return ctx.guard.refuseUnlessAnyDeviceAllows({
    principal,
    action: "evidence.ingest",
    resource: { kind: "case", caseId },
    target: `case:${caseId}`,
    details: { source, caseId, bytesRead: 0 },
  });
}

function ingestRequest(principal: AuthenticatedPrincipal, record: ItemRecord, source: string) {
  const deviceId = record.package?.deviceId;
  const resource: Resource = {
    kind: "case",
    caseId: record.caseId,
    ...(deviceId === undefined ? {} : { deviceId }),
  };
  const details = {
    source,
    size: record.size,
    sha256: record.id,
    kind: record.kind,
    caseId: record.caseId,
  };
  const target = itemTarget(record.caseId, record.id);
  return { principal, action: "evidence.ingest", resource, target, details } as const;
}

function protectionOf(
  ctx: VaultContext,
  options: IngestOptions,
): { retainUntil: Date | undefined; legalHold: boolean } {
  return { retainUntil: retentionOf(ctx, options), legalHold: options.legalHold === true };
}

/** Under the item's lock: two ingests of the same bytes into one case cannot both store and state it. */
async function storeIngested(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  record: ItemRecord,
  options: IngestOptions,
  how: {
    retainUntil: Date | undefined;
    legalHold: boolean;
    store: (key: string, metadata: Record<string, string>) => Promise<StoredObject>;
  },
): Promise<EvidenceItem> {
  const target = itemTarget(record.caseId, record.id);
  assertIngestable(record, options);
  const existing = ctx.ledger.item(record.caseId, record.id);
  if (existing !== undefined && !existing.purged) {
    throw new CustodyError("ERR_ALREADY_EXISTS", `item ${record.id} is already in case ${record.caseId}`, {
      details: { id: record.id, caseId: record.caseId },
    });
  }
  const { retainUntil, legalHold } = how;
  const stored = await how.store(itemKey(record.caseId, record.id), {
    [RECORD_METADATA_KEY]: encodeItemRecord(record),
  });
  await ctx.guard.fact(
    principal.id,
    FACT.ingested,
    target,
    `${record.name} stored in case ${record.caseId}`,
    {
      record,
      recordSha256: itemRecordSha256(record),
      legalHold,
      ...(retainUntil === undefined ? {} : { retainUntil: retainUntil.toISOString() }),
    },
  );
  const entry = ctx.ledger.item(record.caseId, record.id);
  if (entry === undefined) throw new CustodyError("ERR_INTERNAL", "the ingest fact did not reach the ledger");
  return {
    ...record,
    legalHold,
    storedAt: stored.createdAt.toISOString(),
    ...(entry.retainUntil === undefined ? {} : { retainUntil: entry.retainUntil }),
  };
}

export { type ListedItem, type ListOptions, listItems } from "./listing.js";

export async function showItem(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  ref: ItemRef,
): Promise<EvidenceItem> {
  const entry = await resolveItem(ctx, principal, "evidence.list", ref);
  return ctx.guard.run(itemRequest(principal, "evidence.list", entry), () => viewItem(ctx, entry));
}

/** The bytes of an item, checked against its content address as they stream. */
export interface ItemRead {
  item: EvidenceItem;
  stream: Readable;
  /** The SHA-256 the stream computed, once it has ended without error. */
  computedSha256(): string | undefined;
}

export async function readItem(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  ref: ItemRef,
  options: { abortSignal?: AbortSignal } = {},
): Promise<ItemRead> {
  const entry = await resolveItem(ctx, principal, "evidence.read", ref);
  const target = itemTarget(entry.caseId, entry.id);
  return ctx.guard.run(itemRequest(principal, "evidence.read", entry), async () => {
    const item = await viewItem(ctx, entry);
    const source = await ctx.store.read(itemKey(entry.caseId, entry.id), options);
    const check = verifiedItemBytes(source, item);
    // A read that fails mid-way (a byte changed on disk) is part of the item's history too.
    check.once("error", (error) => {
      ctx.guard
        .failed(principal, "evidence.read", target, error, { caseId: entry.caseId })
        .catch((auditError: unknown) =>
          ctx.logger.error({ err: auditError }, "could not record a failed read"),
        );
    });
    return { item, stream: check, computedSha256: () => check.sha256 };
  });
}

export async function holdItem(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  ref: ItemRef,
): Promise<EvidenceItem> {
  const entry = await resolveItem(ctx, principal, "evidence.hold", ref);
  return ctx.guard.run(itemRequest(principal, "evidence.hold", entry), () =>
    ctx.locks.with([itemLock(entry.caseId, entry.id)], async () => {
      assertLive(entry);
      await ctx.store.setLegalHold(itemKey(entry.caseId, entry.id), true);
      if (!entry.legalHold) {
        await ctx.guard.fact(
          principal.id,
          FACT.holdSet,
          itemTarget(entry.caseId, entry.id),
          "legal hold set",
          { legalHold: true },
          // Another replica stated something about the item first: hold it again unless the log says held.
          async () => {
            assertLive(entry);
            if (entry.legalHold) return false;
            await ctx.store.setLegalHold(itemKey(entry.caseId, entry.id), true);
            return true;
          },
        );
      }
      return viewItem(ctx, entry);
    }),
  );
}

export async function extendItemRetention(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  ref: ItemRef,
  until: Date,
): Promise<EvidenceItem> {
  const entry = await resolveItem(ctx, principal, "evidence.retain", ref);
  const request = itemRequest(principal, "evidence.retain", entry, { until: until.toISOString() });
  return ctx.guard.run(request, () =>
    ctx.locks.with([itemLock(entry.caseId, entry.id)], async () => {
      assertLive(entry);
      if (entry.retainUntil !== undefined && Date.parse(entry.retainUntil) > until.getTime()) {
        throw new CustodyError(
          "ERR_IMMUTABLE",
          `item ${entry.id} is retained until ${entry.retainUntil}; retention only grows`,
        );
      }
      await ctx.store.extendRetention(itemKey(entry.caseId, entry.id), until);
      await ctx.guard.fact(
        principal.id,
        FACT.retentionExtended,
        itemTarget(entry.caseId, entry.id),
        "retention extended",
        { retainUntil: until.toISOString() },
        async () => {
          assertLive(entry);
          if (entry.retainUntil !== undefined && Date.parse(entry.retainUntil) >= until.getTime())
            return false;
          await ctx.store.extendRetention(itemKey(entry.caseId, entry.id), until);
          return true;
        },
      );
      return viewItem(ctx, entry);
    }),
  );
}

/** Inside an item's lock: the item may have been purged while the caller waited for it. */
export function assertLive(entry: LedgerItem): void {
  if (entry.purged) {
    throw new CustodyError("ERR_NOT_FOUND", `item ${entry.id} was purged`, {
      details: { id: entry.id, caseId: entry.caseId },
    });
  }
}

/** The guarded request for one item: its target names case and id; a refused caller is told only the id. */
export function itemRequest(
  principal: AuthenticatedPrincipal,
  action: Parameters<VaultContext["guard"]["run"]>[0]["action"],
  entry: { caseId: string; id: string; deviceId: string | undefined },
  details: Record<string, string> = {},
) {
  return {
    principal,
    action,
    resource: itemResource(entry),
    target: itemTarget(entry.caseId, entry.id),
    publicTarget: `item ${entry.id}`,
    details: { caseId: entry.caseId, ...details },
  };
}
