import type { CommandSpec } from "../command.js";
import { formatTable } from "../table.js";
import { VAULT_OPTIONS, withVault } from "../vault-context.js";

export const checkCommand: CommandSpec = {
  path: ["check"],
  summary: "re-hash stored items against their records (one item, or every item you may check)",
  usage: "[ID]\nExit 1 when any item's bytes no longer match its recorded SHA-256.",
  options: { ...VAULT_OPTIONS },
  positionals: { min: 0, max: 1 },
  async run(ctx) {
    const id = ctx.positionals[0];
    const results = await withVault(ctx, (v, p) => v.check(p, id));
    const ok = results.every((r) => r.ok);
    if (ctx.json) ctx.printJson({ ok, results });
    else {
      const rows = results.map((r) => [
        r.id.slice(0, 16),
        r.ok ? "ok" : "FAILED",
        r.code ?? "",
        r.message ?? "",
      ]);
      ctx.out(formatTable(["ID", "STATUS", "CODE", "DETAIL"], rows));
      ctx.err(
        ok ? `${results.length} item(s) verified` : `${results.filter((r) => !r.ok).length} item(s) FAILED`,
      );
    }
    return ok ? 0 : 1;
  },
};
