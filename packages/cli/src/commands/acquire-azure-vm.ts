import { acquireAzureVm } from "@custody/acquire";
import { CustodyError } from "@custody/core";
import type { CommandContext, CommandSpec } from "../command.js";
import { intOption, VAULT_OPTIONS, withLocalVault } from "../vault-context.js";

export const acquireAzureVmCommand: CommandSpec = {
  path: ["acquire", "azure-vm"],
  summary: "snapshot every disk of an Azure VM, acquire each snapshot into the vault, then revoke and delete",
  usage: `--subscription S --resource-group G --vm NAME --case ID [--compress zstd] [--verify-source] [--access-seconds N]
Runs the reference runbook with DefaultAzureCredential (environment, workload or managed identity,
Azure CLI login): for each OS and data disk, a full snapshot in the VM's resource group, read access
granted (a SAS URL, never recorded), the snapshot acquired into the vault like any SAS URL, access
revoked, the snapshot deleted. A disk that fails stops the run; its snapshot is kept for a retry.
Each step is printed (--json: in the output); the items' labels name the VM, disk and snapshot. The
permissions it needs are in docs/acquisition.md. Not exercised by the project's tests (no subscription).`,
  options: {
    ...VAULT_OPTIONS,
    subscription: { type: "string" },
    "resource-group": { type: "string" },
    vm: { type: "string" },
    case: { type: "string" },
    compress: { type: "string" },
    "verify-source": { type: "boolean" },
    "access-seconds": { type: "string" },
  },
  positionals: { min: 0, max: 0 },
  async run(ctx) {
    const required = (name: string): string => {
      const value = ctx.string(name);
      if (value === undefined) throw new CustodyError("ERR_USAGE", `acquire azure-vm needs --${name}`);
      return value;
    };
    const target = {
      subscriptionId: required("subscription"),
      resourceGroup: required("resource-group"),
      vmName: required("vm"),
    };
    const caseId = required("case");
    const compress = ctx.string("compress");
    if (compress !== undefined && compress !== "zstd")
      throw new CustodyError("ERR_USAGE", "--compress is zstd");
    const accessSeconds = intOption(ctx, "access-seconds");
    const { ComputeVmSnapshots, defaultAzureCredential } = await import("@custody/azure");
    const service = new ComputeVmSnapshots({ ...target, credential: defaultAzureCredential() });
    const run = await withLocalVault(ctx, "acquire azure-vm", (vault, principal) =>
      acquireAzureVm(vault, principal, service, {
        caseId,
        verifySource: ctx.flag("verify-source"),
        ...(compress === undefined ? {} : { compress }),
        ...(accessSeconds === undefined ? {} : { accessSeconds }),
        onStep: (step) => printStep(ctx, step),
      }),
    );
    if (ctx.json) ctx.printJson(run);
    else for (const item of run.items) ctx.out(`${item.id}  ${item.name}`);
    return 0;
  },
};

function printStep(
  ctx: CommandContext,
  step: { step: string; disk: string; target: string; outcome: string },
): void {
  if (!ctx.json)
    ctx.err(
      `${step.outcome === "ok" ? "ok    " : "FAILED"} ${step.step.padEnd(15)} ${step.disk} (${step.target})`,
    );
}
