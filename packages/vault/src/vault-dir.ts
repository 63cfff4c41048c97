import { join, resolve } from "node:path";

/** The vault directory: an explicit choice, then CUSTODY_VAULT, then ./.custody. */
export function resolveVaultDir(explicit: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string {
  return resolve(cwd, explicit ?? env.CUSTODY_VAULT ?? ".custody");
}

/** Where a vault's fs store lies: its vault.json's `store.dir`, under the vault directory. */
export function fsStoreRoot(vaultDir: string, storeDir: string): string {
  return join(vaultDir, storeDir);
}
