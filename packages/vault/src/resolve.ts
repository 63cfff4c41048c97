import type { Action } from "@custody/access";
import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { itemResource } from "./items.js";
import type { LedgerItem } from "./ledger.js";

/** How a caller names an item: its SHA-256 (or a unique prefix of 8+ hex digits), and its case when the same bytes sit in several. */
export interface ItemRef {
  id: string;
  caseId?: string;
  /** A purged item still has a history (custody reports); other operations refuse it. */
  includePurged?: boolean;
}

/**
 * Finds the one item the principal may act on, authorizing before anything is revealed: an item outside
 * the caller's grants and an item that does not exist give the same recorded denial, which names neither
 * a case nor a device. Only a principal whose grant covers the whole vault is told "not found".
 */
export async function resolveItem(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  action: Action,
  ref: ItemRef,
): Promise<LedgerItem> {
  const wanted = parseItemId(ref.id);
  ctx.guard.assertAuthenticated(principal);
  const policy = await ctx.guard.policy();
  const candidates = ctx.ledger
    .itemsWithId(wanted)
    .filter(
      (item) =>
        (ref.includePurged === true || !item.purged) &&
        (ref.caseId === undefined || item.caseId === ref.caseId),
    );
  const visible = candidates.filter((item) =>
    ctx.guard.allows(policy, principal, action, itemResource(item)),
  );
  const [only] = visible;
  if (visible.length === 1 && only !== undefined) return only;
  if (visible.length > 1) throw ambiguous(ref.id, visible);
  if (candidates.length === 0 && ctx.guard.allows(policy, principal, action, { kind: "vault" })) {
    throw new CustodyError("ERR_NOT_FOUND", `no evidence item ${ref.id}`, { details: { id: ref.id } });
  }
  const why =
    candidates.length === 0
      ? "no such item"
      : `the item is in case(s) ${[...new Set(candidates.map((c) => c.caseId))].join(", ")}, outside the principal's grants`;
  return ctx.guard.refuse(principal, action, `item ${ref.id}`, why);
}

function parseItemId(id: string): string {
  const wanted = id.trim().toLowerCase();
  if (!/^[0-9a-f]{8,64}$/.test(wanted)) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `'${id}' is not an item id (8 to 64 hex digits of its SHA-256)`,
    );
  }
  return wanted;
}

function ambiguous(id: string, items: LedgerItem[]): CustodyError {
  const ids = new Set(items.map((item) => item.id));
  if (ids.size > 1) {
    return new CustodyError("ERR_INVALID_ARGUMENT", `item id prefix ${id} is ambiguous (${ids.size} items)`);
  }
  const cases = items.map((item) => item.caseId).join(", ");
  return new CustodyError(
    "ERR_INVALID_ARGUMENT",
    `item ${id} is held in several cases you may see (${cases}): name one with --case`,
    { details: { cases: items.map((item) => item.caseId) } },
  );
}
