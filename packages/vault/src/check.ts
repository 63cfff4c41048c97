import { CustodyError, type ErrorCode, isCustodyError } from "@custody/core";
import type { StoredObject } from "@custody/store";
import { checkSkippedRecords } from "./audit-ops.js";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { itemRequest } from "./evidence-ops.js";
import { itemTarget } from "./facts.js";
import { checkIndex } from "./index-ops.js";
import { ITEM_PREFIX, itemKey, itemResource, verifiedItem } from "./items.js";
import type { LedgerItem } from "./ledger.js";
import { checkLedgerSnapshot } from "./ledger-snapshot-check.js";
import { type ItemRef, resolveItem } from "./resolve.js";
import { verifiedItemBytes } from "./stored-bytes.js";

/** Items a vault-wide check examines at once. */
const CHECKS_IN_FLIGHT = 8;
/**
 * Items a vault-wide check decides together: their decision records are sequenced in one turn and
 * share one durable write (a sync each was most of a small item's check). Kept small: a check cut
 * short leaves at most this many decisions with no examination (and so no failure) after them.
 */
const DECIDED_TOGETHER = 16;

export interface CheckResult {
  id: string;
  caseId?: string;
  ok: boolean;
  code?: ErrorCode;
  message?: string;
}

/**
 * Reconciles store and log, both ways. For each item the log says exists: the object is there, its
 * record is the one bound at ingest, its hold and retention are the logged ones, and every byte hashes
 * to its content address. Then, for a vault-wide checker, every stored object the log never ingested
 * (or has purged). Every finding is recorded.
 */
export async function checkItems(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  ref?: ItemRef,
): Promise<CheckResult[]> {
  if (ref !== undefined) {
    const entry = await resolveItem(ctx, principal, "evidence.check", ref);
    return [await checkOne(ctx, principal, entry)];
  }
  ctx.guard.assertAuthenticated(principal);
  const policy = await ctx.guard.policy();
  const results: CheckResult[] = [];
  const known = new Set<string>();
  const allowed = async function* () {
    for (const entry of ctx.ledger.items.values()) {
      if (entry.purged) continue;
      known.add(itemKey(entry.caseId, entry.id));
      if (ctx.guard.allows(policy, principal, "evidence.check", itemResource(entry))) yield entry;
    }
  };
  // Items by groups: decided together, examined side by side, reported in the ledger's order.
  const examining = new Turns(CHECKS_IN_FLIGHT);
  for await (const group of inGroups(allowed(), DECIDED_TOGETHER)) {
    const settled = await Promise.allSettled(
      group.map((entry) => checkOne(ctx, principal, entry, examining)),
    );
    for (const one of settled) {
      if (one.status === "rejected") throw one.reason;
      results.push(one.value);
    }
  }
  if (ctx.guard.allows(policy, principal, "evidence.check", { kind: "vault" })) {
    // only the keys the ledger does not know are looked up (a live one is the finding)
    for await (const key of ctx.store.listKeys({ prefix: ITEM_PREFIX })) {
      if (known.has(key)) continue;
      const object = await ctx.store.head(key).catch((error: unknown) => {
        if (isCustodyError(error, "ERR_NOT_FOUND")) return undefined;
        throw error;
      });
      if (object !== undefined) results.push(await reportUnknown(ctx, principal, object));
    }
    const index = await checkIndex(ctx, principal);
    if (index !== undefined) results.push(index);
    const log = await checkSkippedRecords(ctx, principal);
    if (log !== undefined) results.push(log);
    // the snapshot is compared with a sound log's records (a damaged one is the finding above)
    const snapshot = log === undefined ? await checkLedgerSnapshot(ctx, principal) : undefined;
    if (snapshot !== undefined) results.push(snapshot);
  }
  return results;
}

async function checkOne(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  entry: LedgerItem,
  examining?: Turns,
): Promise<CheckResult> {
  const base = { id: entry.id, caseId: entry.caseId };
  return ctx.guard.run(itemRequest(principal, "evidence.check", entry), async () => {
    try {
      await (examining === undefined ? examine(ctx, entry) : examining.take(() => examine(ctx, entry)));
      return { ...base, ok: true };
    } catch (error) {
      if (!isCustodyError(error)) throw error;
      await ctx.guard.failed(
        principal,
        "evidence.check",
        itemTarget(entry.caseId, entry.id),
        new CustodyError(error.code, `integrity check FAILED: ${error.message}`),
        { caseId: entry.caseId },
      );
      return { ...base, ok: false, code: error.code, message: error.message };
    }
  });
}

async function examine(ctx: VaultContext, entry: LedgerItem): Promise<void> {
  const key = itemKey(entry.caseId, entry.id);
  const { object, body } = await ctx.store.readObject(key).catch((error: unknown) => {
    if (isCustodyError(error, "ERR_NOT_FOUND")) {
      throw new CustodyError(
        "ERR_NOT_FOUND",
        `item ${entry.id} was ingested and never purged, but is missing from the store`,
      );
    }
    throw error;
  });
  try {
    const item = verifiedItem(entry, object);
    assertProtection(entry, object);
    // Read to the end (a mismatch is the stream's error); no pipeline: it costs an abort per item.
    for await (const _ of verifiedItemBytes(body, item));
  } finally {
    body.destroy();
  }
}

// The store enforces holds and retention; what it enforces must be what the log says was set.
function assertProtection(entry: LedgerItem, object: StoredObject): void {
  const stored = object.retainUntil?.toISOString();
  if (object.legalHold !== entry.legalHold || stored !== entry.retainUntil) {
    throw new CustodyError(
      "ERR_INTEGRITY_MISMATCH",
      `item ${entry.id}'s stored protection (hold ${object.legalHold}, retained until ${stored ?? "not set"}) is not what the log states (hold ${entry.legalHold}, retained until ${entry.retainUntil ?? "not set"})`,
    );
  }
}

async function reportUnknown(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  object: StoredObject,
): Promise<CheckResult> {
  const error = new CustodyError(
    "ERR_INTEGRITY_MISMATCH",
    `stored object ${object.key} has no ingest record in the audit log (or was purged)`,
  );
  await ctx.guard.failed(principal, "evidence.check", `object:${object.key}`, error);
  return { id: object.key, ok: false, code: error.code, message: error.message };
}

/** `source` in arrays of up to `size`, in order. */
async function* inGroups<T>(source: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let group: T[] = [];
  for await (const value of source) {
    group.push(value);
    if (group.length === size) {
      yield group;
      group = [];
    }
  }
  if (group.length > 0) yield group;
}

/** At most `limit` pieces of work running at once; the others wait their turn in call order. */
class Turns {
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  async take<T>(work: () => Promise<T>): Promise<T> {
    if (this.#running >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    else this.#running += 1;
    try {
      return await work();
    } finally {
      const next = this.#waiting.shift();
      if (next === undefined) this.#running -= 1;
      else next();
    }
  }
}
