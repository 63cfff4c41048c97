import type { CommandSpec } from "../command.js";
import { formatTable } from "../table.js";
import { ITEM_OPTIONS, itemSelector, withVaultApi } from "../vault-context.js";

export const checkCommand: CommandSpec = {
  path: ["check"],
  summary: "re-hash stored items against their records (one item, or every item you may check)",
  usage: `[ID [--case ID]]
Reconciles store and audit log both ways: every item the log ingested is present, its record and its
hold and retention are the logged ones, and its bytes hash to its id; every stored object was ingested.
A vault opened from its ledger snapshot (whose open read only the records after it) also has its whole
audit log verified: a damaged one is the finding audit-log. The ledger snapshot on disk is compared
with the log's records before its point: one that states anything else is the finding ledger-snapshot.
Exit 1 on any finding.`,
  options: ITEM_OPTIONS,
  positionals: { min: 0, max: 1 },
  async run(ctx) {
    const item = ctx.positionals[0] === undefined ? undefined : itemSelector(ctx);
    const results = await withVaultApi(ctx, (api) => api.check(item));
    const ok = results.every((r) => r.ok);
    if (ctx.json) ctx.printJson({ ok, results });
    else {
      const rows = results.map((r) => [
        r.id.slice(0, 16),
        r.caseId ?? "",
        r.ok ? "ok" : "FAILED",
        r.code ?? "",
        r.message ?? "",
      ]);
      ctx.out(formatTable(["ID", "CASE", "STATUS", "CODE", "DETAIL"], rows));
      ctx.err(
        ok ? `${results.length} item(s) verified` : `${results.filter((r) => !r.ok).length} item(s) FAILED`,
      );
    }
    return ok ? 0 : 1;
  },
};
