import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type EarlyCopy, startEarlyCopy } from "@custody/store/early-copy";
import { fsStoreRoot } from "./vault-dir.js";

// Kept free of the vault's other modules: `custody ingest` imports this before them, so the copy runs
// while they load and the vault opens.

export type { EarlyCopy } from "@custody/store/early-copy";
export { resolveVaultDir } from "./vault-dir.js";

/** A vault.json is a few hundred bytes; anything far larger is left to the open to refuse. */
const MAX_CONFIG_BYTES = 64 * 1024;

/**
 * Starts copying `file` into the fs store of the vault at `vaultDir`, for an `ingest` of it that opens
 * the vault next (`IngestOptions.earlyCopy`); undefined when nothing was started (no such vault, not an
 * fs store, not a regular file). The vault's config is read here only to find its store: the open that
 * follows checks everything, and the store takes the copy only if it is in its own staging area.
 */
export function startIngestEarlyCopy(vaultDir: string, file: string): EarlyCopy | undefined {
  try {
    const configFile = join(vaultDir, "vault.json");
    // Never a read that could block (a FIFO) or hold much: the open reads and checks it properly.
    const info = statSync(configFile, { throwIfNoEntry: false });
    if (info === undefined || !info.isFile() || info.size > MAX_CONFIG_BYTES) return undefined;
    const config = JSON.parse(readFileSync(configFile, "utf8")) as {
      store?: { kind?: unknown; dir?: unknown };
    };
    if (config.store?.kind !== "fs" || typeof config.store.dir !== "string") return undefined;
    return startEarlyCopy(fsStoreRoot(vaultDir, config.store.dir), file);
  } catch {
    return undefined;
  }
}
