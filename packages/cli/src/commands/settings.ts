import { CustodyError } from "@custody/core";
import type { LiveResponseSetting } from "@custody/vault";
import type { CommandContext, CommandSpec } from "../command.js";
import { VAULT_OPTIONS, withVaultApi } from "../vault-context.js";

function print(ctx: CommandContext, setting: LiveResponseSetting): number {
  if (ctx.json) ctx.printJson({ "live-response": setting });
  else {
    const changed =
      setting.changedAt === undefined ? "" : ` (since ${setting.changedAt} by ${setting.changedBy})`;
    ctx.out(`live-response: ${setting.enabled ? "on" : "off"}${changed}`);
  }
  return 0;
}

export const settingsSetCommand: CommandSpec = {
  path: ["settings", "set"],
  summary: "change a vault setting (custodians): live-response on|off",
  usage: `live-response on|off
Live response is off in a new vault: no live session opens until a custodian turns it on. The change
is a fact in the audit log.`,
  options: { ...VAULT_OPTIONS },
  positionals: { min: 2, max: 2 },
  async run(ctx) {
    const [name, value] = ctx.positionals;
    if (name !== "live-response")
      throw new CustodyError("ERR_USAGE", `unknown setting '${name}' (live-response)`);
    if (value !== "on" && value !== "off") {
      throw new CustodyError("ERR_USAGE", `live-response is on or off, not '${value}'`);
    }
    return print(ctx, await withVaultApi(ctx, (api) => api.setLiveResponse(value === "on")));
  },
};

export const settingsShowCommand: CommandSpec = {
  path: ["settings", "show"],
  summary: "the vault's settings (live-response on or off)",
  usage: "",
  options: { ...VAULT_OPTIONS },
  async run(ctx) {
    return print(ctx, await withVaultApi(ctx, (api) => api.liveResponse()));
  },
};
