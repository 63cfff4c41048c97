import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { CheckResult } from "./check.js";
import type { VaultContext } from "./context.js";

const TARGET = "index:items";

/** `custody index rebuild`: empties the item index and applies the whole log again. */
export async function rebuildIndex(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
): Promise<{ records: number; items: number }> {
  const request = {
    principal,
    action: "evidence.check",
    resource: { kind: "vault" },
    target: TARGET,
  } as const;
  return ctx.guard.run(request, async () => {
    const index = ctx.index;
    if (index === undefined) {
      throw new CustodyError(
        "ERR_NOT_PRESENT",
        "this vault has no item index (a vault whose state is shared in Azure lists from the ledger)",
      );
    }
    const records = await index.rebuild(ctx.guard.records(0));
    return { records, items: index.query({}).length };
  });
}

/** For a vault-wide check: the index must state what the log states, item for item. */
export async function checkIndex(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
): Promise<CheckResult | undefined> {
  const differences = ctx.index?.differences(ctx.ledger) ?? [];
  if (differences.length === 0) return undefined;
  const error = new CustodyError(
    "ERR_INDEX_MISMATCH",
    `the item index disagrees with the audit log (derived data; \`custody index rebuild\` rebuilds it): ${differences.join("; ")}`,
    { details: { differences } },
  );
  await ctx.guard.failed(principal, "evidence.check", TARGET, error);
  return { id: TARGET, ok: false, code: error.code, message: error.message };
}
