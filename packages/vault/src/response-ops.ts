import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { grantedAnywhere } from "./listing.js";
import {
  HASH_LISTS,
  type HashEntry,
  type HashListName,
  type IsolationState,
  RESPONSE_FACT,
} from "./response-facts.js";

const SHA256 = /^[0-9a-f]{64}$/;
const HASHLIST_LOCK = "hashlists";

export interface HashListChange {
  list: HashListName;
  sha256: string;
  note?: string;
  /** A label for the entry, e.g. the file name it was computed from. */
  name?: string;
}

function assertList(list: string): asserts list is HashListName {
  if (!(HASH_LISTS as readonly string[]).includes(list))
    throw new CustodyError("ERR_INVALID_ARGUMENT", `no hash list '${list}' (known-bad, known-good)`);
}

function assertSha256(sha256: string): void {
  if (!SHA256.test(sha256))
    throw new CustodyError("ERR_INVALID_ARGUMENT", `'${sha256}' is not a lower-case sha256`);
}

function assertText(value: string | undefined, what: string, max: number): void {
  if (value === undefined) return;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (value.length > max || /[\u0000-\u001f\u007f-\u009f]/.test(value))
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `the ${what} is at most ${max} characters, no control characters`,
    );
}

function sorted(entries: Iterable<HashEntry>): HashEntry[] {
  return [...entries].sort((a, b) => a.list.localeCompare(b.list) || a.sha256.localeCompare(b.sha256));
}

/** Adds a digest to a list (`hashlist.manage`). A digest is never on both lists: remove it first. */
export function addHash(ctx: VaultContext, principal: AuthenticatedPrincipal, change: HashListChange) {
  assertList(change.list);
  assertSha256(change.sha256);
  assertText(change.note, "note", 500);
  assertText(change.name, "name", 255);
  const target = `hashlist:${change.list}`;
  const request = {
    principal,
    action: "hashlist.manage",
    resource: { kind: "vault" },
    target,
    details: { sha256: change.sha256 },
  } as const;
  return ctx.guard.run(request, () =>
    ctx.locks.with([HASHLIST_LOCK], async (): Promise<HashEntry> => {
      const lists = ctx.ledger.response.hashLists;
      const other: HashListName = change.list === "known-bad" ? "known-good" : "known-bad";
      if (lists[other].has(change.sha256))
        throw new CustodyError(
          "ERR_CONFLICT",
          `${change.sha256} is on ${other}; remove it there first (custody hashlist remove ${other} ...)`,
        );
      const known = lists[change.list].get(change.sha256);
      if (known !== undefined) return known;
      await ctx.guard.fact(principal.id, RESPONSE_FACT.hashAdded, target, `added to ${change.list}`, {
        list: change.list,
        sha256: change.sha256,
        ...(change.note === undefined ? {} : { note: change.note }),
        ...(change.name === undefined ? {} : { name: change.name }),
      });
      return lists[change.list].get(change.sha256) as HashEntry;
    }),
  );
}

/** Removes a digest from a list (`hashlist.manage`); one that is not there is ERR_NOT_FOUND. */
export function removeHash(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  list: HashListName,
  sha256: string,
) {
  assertList(list);
  assertSha256(sha256);
  const target = `hashlist:${list}`;
  const request = {
    principal,
    action: "hashlist.manage",
    resource: { kind: "vault" },
    target,
    details: { sha256 },
  } as const;
  return ctx.guard.run(request, () =>
    ctx.locks.with([HASHLIST_LOCK], async (): Promise<HashEntry> => {
      const entry = ctx.ledger.response.hashLists[list].get(sha256);
      if (entry === undefined) throw new CustodyError("ERR_NOT_FOUND", `${sha256} is not on ${list}`);
      await ctx.guard.fact(principal.id, RESPONSE_FACT.hashRemoved, target, `removed from ${list}`, {
        list,
        sha256,
      });
      return entry;
    }),
  );
}

/**
 * The lists' entries (one list, or both). Readable by whoever manages them or may run advanced
 * live-response commands (`analyze` reports matches against them); others are refused and recorded.
 */
export async function listHashes(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  list?: HashListName,
): Promise<HashEntry[]> {
  if (list !== undefined) assertList(list);
  ctx.guard.assertAuthenticated(principal);
  const policy = await ctx.guard.policy();
  const now = ctx.clock.now();
  const target = `hashlist:${list ?? "*"}`;
  if (
    !grantedAnywhere(policy, principal.id, "hashlist.manage", now) &&
    !grantedAnywhere(policy, principal.id, "live.advanced", now)
  ) {
    await ctx.guard.refuse(
      principal,
      "hashlist.manage",
      target,
      "no grant manages hash lists or runs analyze",
    );
  }
  const lists = ctx.ledger.response.hashLists;
  const entries = sorted(
    list === undefined
      ? [...lists["known-bad"].values(), ...lists["known-good"].values()]
      : lists[list].values(),
  );
  await ctx.guard.note(principal, "hashlist.manage", target, `listed ${entries.length} hash(es)`, {
    returned: entries.length,
  });
  return entries;
}

/** The entries for a digest a device reported (the server's verdict; no caller's view, no record). */
export function lookupHash(ctx: VaultContext, sha256: string): HashEntry[] {
  return SHA256.test(sha256) ? ctx.ledger.response.lookup(sha256) : [];
}

/** Where the log says a device's network stands (undefined: never isolated). */
export function isolationOf(ctx: VaultContext, deviceId: string): IsolationState | undefined {
  return ctx.ledger.response.isolation.get(deviceId);
}

export interface IsolationFact {
  deviceId: string;
  isolated: boolean;
  allowed: string[];
  sessionId?: string;
  cmdId?: string;
  caseId?: string;
}

/**
 * States that a device was isolated or released, after its agent reported it done. The command itself
 * was authorized (`live.advanced` on the device and the case) before it was sent; this is its fact.
 */
export async function recordIsolation(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  fact: IsolationFact,
): Promise<IsolationState> {
  ctx.guard.assertAuthenticated(principal);
  const target = `device:${fact.deviceId}`;
  const context = {
    deviceId: fact.deviceId,
    ...(fact.sessionId === undefined ? {} : { sessionId: fact.sessionId }),
    ...(fact.cmdId === undefined ? {} : { cmdId: fact.cmdId }),
    ...(fact.caseId === undefined ? {} : { caseId: fact.caseId }),
  };
  if (!ctx.ledger.live.devices.has(fact.deviceId))
    throw new CustodyError("ERR_NOT_FOUND", `no enrolled device ${fact.deviceId}`);
  await ctx.locks.with([target], async () => {
    if (fact.isolated) {
      await ctx.guard.fact(principal.id, RESPONSE_FACT.isolated, target, "network isolated", {
        ...context,
        allowed: fact.allowed,
      });
    } else {
      await ctx.guard.fact(principal.id, RESPONSE_FACT.released, target, "network released", context);
    }
  });
  return ctx.ledger.response.isolation.get(fact.deviceId) as IsolationState;
}
