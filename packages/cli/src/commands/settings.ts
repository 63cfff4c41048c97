import { CustodyError } from "@custody/core";
import type { LiveResponseSetting, UnsignedScriptsSetting } from "@custody/vault";
import type { CommandContext, CommandSpec } from "../command.js";
import { VAULT_OPTIONS, withVaultApi } from "../vault-context.js";

const SETTINGS = ["live-response", "unsigned-scripts"] as const;
type SettingName = (typeof SETTINGS)[number];

function print(
  ctx: CommandContext,
  settings: Partial<Record<SettingName, LiveResponseSetting | UnsignedScriptsSetting>>,
): number {
  if (ctx.json) ctx.printJson(settings);
  else {
    for (const [name, setting] of Object.entries(settings)) {
      const changed =
        setting.changedAt === undefined ? "" : ` (since ${setting.changedAt} by ${setting.changedBy})`;
      ctx.out(`${name}: ${setting.enabled ? "on" : "off"}${changed}`);
    }
  }
  return 0;
}

export const settingsSetCommand: CommandSpec = {
  path: ["settings", "set"],
  summary: "change a vault setting (custodians): live-response on|off, unsigned-scripts on|off",
  usage: `live-response|unsigned-scripts on|off
Live response is off in a new vault: no live session opens until a custodian turns it on.
unsigned-scripts is off in a new vault: \`run\` refuses a library script without a script-signer
signature; on, such a script may run where the device's own policy also allows it, and each such run
is recorded as unsigned. Each change is a fact in the audit log.`,
  options: { ...VAULT_OPTIONS },
  positionals: { min: 2, max: 2 },
  async run(ctx) {
    const [name, value] = ctx.positionals;
    if (!SETTINGS.includes(name as SettingName))
      throw new CustodyError("ERR_USAGE", `unknown setting '${name}' (${SETTINGS.join(", ")})`);
    if (value !== "on" && value !== "off") {
      throw new CustodyError("ERR_USAGE", `${name} is on or off, not '${value}'`);
    }
    const enabled = value === "on";
    if (name === "unsigned-scripts")
      return print(ctx, {
        "unsigned-scripts": await withVaultApi(ctx, (api) => api.setUnsignedScripts(enabled)),
      });
    return print(ctx, { "live-response": await withVaultApi(ctx, (api) => api.setLiveResponse(enabled)) });
  },
};

export const settingsShowCommand: CommandSpec = {
  path: ["settings", "show"],
  summary: "the vault's settings (live-response, unsigned-scripts)",
  usage: "",
  options: { ...VAULT_OPTIONS },
  async run(ctx) {
    const [live, unsigned] = await withVaultApi(ctx, async (api) => [
      await api.liveResponse(),
      await api.unsignedScripts(),
    ]);
    return print(ctx, { "live-response": live, "unsigned-scripts": unsigned });
  },
};
