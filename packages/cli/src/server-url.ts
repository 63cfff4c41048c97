import type { CommandContext } from "./command.js";

/** The server of --server or CUSTODY_SERVER, when the vault is reached over the network. */
export function serverUrl(ctx: CommandContext): string | undefined {
  const url = ctx.string("server") ?? ctx.env.CUSTODY_SERVER;
  return url === undefined || url === "" ? undefined : url;
}
