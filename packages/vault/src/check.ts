import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type CustodyError, type ErrorCode, isCustodyError } from "@custody/core";
import type { StoredObject } from "@custody/store";
import type { AuthenticatedPrincipal } from "./identity.js";
import { type EvidenceItem, ITEM_PREFIX, itemKey, itemResource, toItem } from "./item.js";
import type { Vault } from "./vault.js";

export interface CheckResult {
  id: string;
  ok: boolean;
  code?: ErrorCode;
  message?: string;
}

/**
 * Re-reads items and compares every byte with the recorded SHA-256. With an id, that item (a denial
 * is recorded and thrown); without, every item the principal may check, each check recorded.
 */
export async function checkItems(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  id?: string,
): Promise<CheckResult[]> {
  vault.assertAuthenticated(principal);
  if (id !== undefined) return [await checkOne(vault, principal, await vault.findItem(id))];
  const policy = await vault.policy.refresh();
  const results: CheckResult[] = [];
  for await (const object of vault.store.list({ prefix: ITEM_PREFIX })) {
    const item = tryToItem(object);
    if ("damaged" in item) {
      // A record that no longer decodes names no case: only a vault-wide checker sees (and records) it.
      if (vault.allows(policy, principal, "evidence.check", { kind: "item", itemId: object.key })) {
        results.push(await reportDamaged(vault, principal, object.key, item.damaged));
      }
    } else if (vault.allows(policy, principal, "evidence.check", itemResource(item))) {
      results.push(await checkOne(vault, principal, item));
    }
  }
  return results;
}

function tryToItem(object: StoredObject): EvidenceItem | { damaged: CustodyError } {
  try {
    return toItem(object);
  } catch (error) {
    if (isCustodyError(error)) return { damaged: error };
    throw error;
  }
}

async function reportDamaged(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  key: string,
  error: CustodyError,
): Promise<CheckResult> {
  await vault.audit.append({
    actor: principal.id,
    action: "evidence.check",
    target: `object:${key}`,
    outcome: "error",
    reason: `integrity check FAILED: ${error.code}: ${error.message}`,
    details: {},
  });
  return { id: key, ok: false, code: error.code, message: error.message };
}

async function checkOne(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  item: EvidenceItem,
): Promise<CheckResult> {
  return vault.run(vault.itemRequest(principal, "evidence.check", item), async () => {
    const result = await rehash(vault, item);
    if (!result.ok) {
      await vault.audit.append({
        actor: principal.id,
        action: "evidence.check",
        target: `item:${item.id}`,
        outcome: "error",
        reason: `integrity check FAILED: ${result.code}: ${result.message}`,
        details: { caseId: item.caseId },
      });
    }
    return result;
  });
}

async function rehash(vault: Vault, item: EvidenceItem): Promise<CheckResult> {
  try {
    const stream = await vault.store.read(itemKey(item.id));
    await pipeline(stream, new Writable({ write: (_chunk, _encoding, done) => done() }));
    return { id: item.id, ok: true };
  } catch (error) {
    if (!isCustodyError(error)) throw error;
    return { id: item.id, ok: false, code: error.code, message: error.message };
  }
}
