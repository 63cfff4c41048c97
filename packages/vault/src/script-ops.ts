import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { assertLibraryName, MAX_LIBRARY_FILE_BYTES, MAX_SIGNATURE_BYTES } from "./library-ops.js";
import { readLibraryBytes } from "./library-store.js";
import { readSwitch, type SwitchSetting, setSwitch, UNSIGNED_SCRIPTS } from "./switch-settings.js";

// What a run needs from the library, and the vault setting that allows unsigned scripts.

export type UnsignedScriptsSetting = SwitchSetting;

/** What the server sends a device to run: the bytes and signature the log names, checked on read. */
export interface LibraryScript {
  name: string;
  version: number;
  sha256: string;
  content: Buffer;
  signature: Buffer | undefined;
  signer: string | undefined;
}

/**
 * The current version of a library script for a run the server has already authorized (`live.advanced`
 * on the device and the case): the bytes and the signature the log names, each checked on read.
 */
export async function libraryScript(ctx: VaultContext, name: string): Promise<LibraryScript> {
  assertLibraryName(name);
  await ctx.guard.catchUp();
  const entry = ctx.ledger.library.entries.get(name);
  const version = ctx.ledger.library.current(name);
  if (entry === undefined || version === undefined) {
    throw new CustodyError("ERR_NOT_FOUND", `${name} is not in the library`, { details: { name } });
  }
  const content = await readLibraryBytes(ctx, version.sha256, MAX_LIBRARY_FILE_BYTES);
  const signature =
    version.signatureSha256 === undefined
      ? undefined
      : await readLibraryBytes(ctx, version.signatureSha256, MAX_SIGNATURE_BYTES);
  return {
    name,
    version: version.version,
    sha256: version.sha256,
    content,
    signature,
    signer: version.signer?.subject,
  };
}

export function unsignedScriptsSetting(ctx: VaultContext, principal: AuthenticatedPrincipal) {
  return readSwitch(ctx, principal, UNSIGNED_SCRIPTS);
}

/** Allows or forbids running unsigned library scripts (custodians: `settings.manage`); off in a new vault. */
export function setUnsignedScripts(ctx: VaultContext, principal: AuthenticatedPrincipal, enabled: boolean) {
  return setSwitch(ctx, principal, UNSIGNED_SCRIPTS, enabled);
}
