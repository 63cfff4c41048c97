import type { Readable } from "node:stream";
import type { Resource } from "@custody/access";
import { itemRecordSha256 } from "@custody/audit";
import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { FACT, itemTarget } from "./facts.js";
import { assertIngestable, examineForIngest, type IngestOptions, openForStore } from "./ingest.js";
import { viewItem } from "./item-view.js";
import { type EvidenceItem, encodeItemRecord, itemKey, itemResource, RECORD_METADATA_KEY } from "./items.js";
import type { LedgerItem } from "./ledger.js";
import { itemLock } from "./locks.js";
import { type ItemRef, resolveItem } from "./resolve.js";
import { verifiedItemBytes } from "./stored-bytes.js";

const DAY_MS = 86_400_000;

export async function ingestItem(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  file: string,
  options: IngestOptions,
): Promise<EvidenceItem> {
  const record = await examineForIngest(ctx, principal, file, options);
  const deviceId = record.package?.deviceId;
  const resource: Resource = {
    kind: "case",
    caseId: record.caseId,
    ...(deviceId === undefined ? {} : { deviceId }),
  };
  const target = itemTarget(record.caseId, record.id);
  const details = {
    source: file,
    size: record.size,
    sha256: record.id,
    kind: record.kind,
    caseId: record.caseId,
  };
  const request = { principal, action: "evidence.ingest", resource, target, details } as const;
  return ctx.guard.run(request, () =>
    ctx.locks.with([itemLock(record.caseId, record.id)], () =>
      storeIngested(ctx, principal, file, record, options),
    ),
  );
}

/** Under the item's lock: two ingests of the same bytes into one case cannot both store and state it. */
async function storeIngested(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  file: string,
  record: Awaited<ReturnType<typeof examineForIngest>>,
  options: IngestOptions,
): Promise<EvidenceItem> {
  const target = itemTarget(record.caseId, record.id);
  assertIngestable(record, options);
  const existing = ctx.ledger.item(record.caseId, record.id);
  if (existing !== undefined && !existing.purged) {
    throw new CustodyError("ERR_ALREADY_EXISTS", `item ${record.id} is already in case ${record.caseId}`, {
      details: { id: record.id, caseId: record.caseId },
    });
  }
  const retainDays = options.retainDays ?? ctx.config.defaultRetentionDays;
  const retainUntil = retainDays > 0 ? new Date(ctx.clock.now().getTime() + retainDays * DAY_MS) : undefined;
  const legalHold = options.legalHold === true;
  const stored = await ctx.store.create(itemKey(record.caseId, record.id), openForStore(file), {
    expectedSha256: record.id,
    ...(retainUntil === undefined ? {} : { retainUntil }),
    legalHold,
    metadata: { [RECORD_METADATA_KEY]: encodeItemRecord(record) },
    ...(options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal }),
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
