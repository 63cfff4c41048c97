import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { VaultClient } from "@custody/client";
import { CustodyError, toCustodyError } from "@custody/core";
import type { CommandContext } from "./command.js";
import { serverUrl } from "./server-url.js";

/**
 * The vault behind --server as the caller: the identity file is the TLS client certificate (and, after
 * it, the vault CA that the server's certificate must chain to, unless --ca names another anchor).
 */
export async function openRemoteVault(ctx: CommandContext): Promise<VaultClient> {
  const server = serverUrl(ctx) as string;
  const identity = ctx.string("identity") ?? ctx.env.CUSTODY_IDENTITY;
  if (identity === undefined || identity === "") {
    throw new CustodyError(
      "ERR_USAGE",
      `--server ${server} needs your identity file: --identity FILE or CUSTODY_IDENTITY`,
    );
  }
  const ca = ctx.string("ca");
  // Loaded here, not at start-up: a command run on a local vault never needs the client.
  const { createVaultClient } = await import("@custody/client");
  return createVaultClient({
    baseUrl: server,
    identityPem: await readText(resolve(ctx.cwd, identity), "ERR_IDENTITY_INVALID", "identity file"),
    ...(ctx.env.CUSTODY_IDENTITY_PASSPHRASE === undefined
      ? {}
      : { passphrase: ctx.env.CUSTODY_IDENTITY_PASSPHRASE }),
    ...(ca === undefined ? {} : { caPem: await readText(resolve(ctx.cwd, ca), "ERR_USAGE", "--ca file") }),
  });
}

async function readText(
  file: string,
  code: "ERR_IDENTITY_INVALID" | "ERR_USAGE",
  what: string,
): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (cause) {
    throw toCustodyError(cause, code, `cannot read ${what} ${file}`);
  }
}
