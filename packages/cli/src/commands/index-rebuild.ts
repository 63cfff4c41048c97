import type { CommandSpec } from "../command.js";
import { VAULT_OPTIONS, withLocalVault } from "../vault-context.js";

export const indexRebuildCommand: CommandSpec = {
  path: ["index", "rebuild"],
  summary: "rebuild the vault's item index (derived data) from the whole audit log",
  usage: `
The item index (index/items.sqlite in the vault folder) answers listings by case, device, label and
time. It is derived from the signed audit log and never believed over it: it catches up from the log
at every open, \`custody check\` reports any difference (ERR_INDEX_MISMATCH), and this rebuilds it
from scratch. Deleting the file is also safe: the next open rebuilds it.`,
  options: VAULT_OPTIONS,
  async run(ctx) {
    const started = performance.now();
    const result = await withLocalVault(ctx, "index rebuild", (vault, principal) =>
      vault.rebuildIndex(principal),
    );
    const seconds = (performance.now() - started) / 1000;
    if (ctx.json) ctx.printJson({ ...result, seconds });
    else
      ctx.err(
        `item index rebuilt: ${result.items} item(s) from ${result.records} record(s) in ${seconds.toFixed(1)} s`,
      );
    return 0;
  },
};
