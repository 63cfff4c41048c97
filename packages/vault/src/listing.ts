import type { AccessPolicy, Action } from "@custody/access";
import type { StoredObject } from "@custody/store";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import type { IndexQuery } from "./item-index.js";
import { listedItem } from "./item-view.js";
import { type EvidenceItem, ITEM_PREFIX, itemKey, itemResource } from "./items.js";
import type { LedgerItem } from "./ledger.js";

export type ListedItem = EvidenceItem & { finding?: string };

/** What to list: items of one case, of one device, with a label (`key` or `key=value`), acquired in a time range. */
export type ListOptions = Omit<IndexQuery, "limit">;

/** Items the principal may list, matching `options`; one audit record for the listing. */
export async function listItems(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  options: ListOptions = {},
): Promise<ListedItem[]> {
  const { caseId } = options;
  if (caseId !== undefined) {
    const request = {
      principal,
      action: "evidence.list",
      resource: { kind: "case", caseId },
      target: `case:${caseId}`,
    } as const;
    return ctx.guard.run(request, () => listed(ctx, candidates(ctx, options), options));
  }
  ctx.guard.assertAuthenticated(principal);
  const policy = await ctx.guard.policy();
  const visible = candidates(ctx, options).filter((item) =>
    ctx.guard.allows(policy, principal, "evidence.list", itemResource(item)),
  );
  // Nobody without a listing grant learns even how many items there are: that is a recorded denial.
  if (!grantedAnywhere(policy, principal.id, "evidence.list", ctx.clock.now())) {
    await ctx.guard.refuse(principal, "evidence.list", "vault", "no unexpired grant lists evidence");
  }
  const items = await listed(ctx, visible, options);
  await ctx.guard.note(
    principal,
    "evidence.list",
    "vault",
    `listed ${items.length} item(s) within the principal's grants`,
    {
      returned: items.length,
    },
  );
  return items;
}

/**
 * The ledger's items that may match. By case or device alone the ledger (in memory, rebuilt from the
 * signed log) is walked, a case's items only when a case is given: a row deleted from the index file
 * cannot hide an item there. By label or time,
 * a current index finds them (the ledger holds no labels) and the ledger confirms each: a row the log
 * does not state the same way is left out here, and a missing one is reported by `check`. Without an
 * index (stale, missing, or a shared vault), the label and time criteria apply to the records once read.
 */
function candidates(ctx: VaultContext, options: ListOptions): LedgerItem[] {
  const { index, ledger } = ctx;
  const needsIndex =
    options.label !== undefined || options.since !== undefined || options.until !== undefined;
  if (needsIndex && index !== undefined && index.stale === undefined) {
    const found: LedgerItem[] = [];
    for (const row of index.query(options)) {
      const item = ledger.item(row.caseId, row.id);
      if (item === undefined || item.purged || item.recordSha256 !== row.recordSha256) continue;
      // the row's device column is not covered by its record hash: the ledger states the device
      if (options.deviceId !== undefined && item.deviceId !== options.deviceId) continue;
      found.push(item);
    }
    return found;
  }
  const found: LedgerItem[] = [];
  const walked = options.caseId === undefined ? ledger.items.values() : ledger.itemsOfCase(options.caseId);
  for (const item of walked) {
    if (options.caseId !== undefined && item.caseId !== options.caseId) continue;
    if (options.deviceId !== undefined && item.deviceId !== options.deviceId) continue;
    found.push(item);
  }
  return found;
}

/** Whether `id` holds an unexpired grant whose role has `action`, in any scope. */
export function grantedAnywhere(policy: AccessPolicy, id: string, action: Action, now: Date): boolean {
  return policy.grants.some(
    (grant) =>
      grant.principal === id &&
      (grant.expiresAt === undefined || Date.parse(grant.expiresAt) > now.getTime()) &&
      policy.roles[grant.role]?.permissions.includes(action) === true,
  );
}

/** Cases listed by their own store prefix; more than this many and the whole item space is listed once. */
const PREFIX_LISTINGS = 32;

async function listed(ctx: VaultContext, entries: LedgerItem[], options: ListOptions): Promise<ListedItem[]> {
  const live = entries.filter((entry) => !entry.purged);
  if (live.length === 0) return [];
  const stored = new Map<string, StoredObject>();
  const cases = new Set(live.map((entry) => entry.caseId));
  // One case's objects live under their own prefix: list that, not every item of the vault.
  const prefixes =
    cases.size <= PREFIX_LISTINGS ? [...cases].map((caseId) => itemKey(caseId, "")) : [ITEM_PREFIX];
  for (const prefix of prefixes) {
    for await (const object of ctx.store.list({ prefix })) stored.set(object.key, object);
  }
  const items: ListedItem[] = [];
  for (const entry of live) {
    const item = await listedItem(ctx, entry, stored.get(itemKey(entry.caseId, entry.id)));
    if (matches(item, options)) items.push(item);
  }
  return items;
}

/** The criteria checked against each record (the index applied them already; this also covers the walk without it). */
function matches(item: ListedItem, options: ListOptions): boolean {
  if (options.label !== undefined) {
    const at = options.label.indexOf("=");
    const key = at < 0 ? options.label : options.label.slice(0, at);
    if (!Object.hasOwn(item.labels, key)) return false;
    if (at >= 0 && item.labels[key] !== options.label.slice(at + 1)) return false;
  }
  if (options.since !== undefined && item.acquisition.at < options.since) return false;
  if (options.until !== undefined && item.acquisition.at >= options.until) return false;
  return true;
}
