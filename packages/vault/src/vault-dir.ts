import { resolve } from "node:path";

/** The vault directory: an explicit choice, then CUSTODY_VAULT, then ./.custody. */
export function resolveVaultDir(explicit: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string {
  return resolve(cwd, explicit ?? env.CUSTODY_VAULT ?? ".custody");
}
