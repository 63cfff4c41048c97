import type { AuditRecord, AuditVerifyReport } from "@custody/audit";
import { checkpointAudit, proveAuditRecord, showAudit, verifyVaultAudit } from "@custody/vault";
import type { CommandContext } from "../command.js";
import { withVault } from "../vault-context.js";

/** Without --log, the audit commands work on the vault's own log, authorized and recorded like any other call. */
export type VaultAuditCommand =
  | { kind: "verify"; describe: (report: AuditVerifyReport) => string }
  | { kind: "show"; since?: number; line: (record: AuditRecord) => string }
  | { kind: "prove"; seq: number }
  | { kind: "checkpoint" };

export async function runVaultAudit(ctx: CommandContext, command: VaultAuditCommand): Promise<number> {
  switch (command.kind) {
    case "verify": {
      const report = await withVault(ctx, (vault, principal) => verifyVaultAudit(vault, principal));
      if (ctx.json) ctx.printJson(report);
      else (report.ok ? ctx.out : ctx.err)(command.describe(report));
      return report.ok ? 0 : 1;
    }
    case "show": {
      const records = await withVault(ctx, (vault, principal) => showAudit(vault, principal, command.since));
      for (const record of records) ctx.out(ctx.json ? JSON.stringify(record) : command.line(record));
      return 0;
    }
    case "prove": {
      const bundle = await withVault(ctx, (vault, principal) =>
        proveAuditRecord(vault, principal, command.seq),
      );
      ctx.out(JSON.stringify(bundle, null, ctx.json ? undefined : 2));
      return 0;
    }
    case "checkpoint": {
      const signed = await withVault(ctx, (vault, principal) => checkpointAudit(vault, principal));
      if (ctx.json) ctx.printJson(signed.checkpoint);
      else ctx.out(`checkpoint ${signed.checkpoint.treeSize}: ${signed.checkpoint.rootHash}`);
      return 0;
    }
  }
}
