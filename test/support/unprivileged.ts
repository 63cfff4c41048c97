import { spawnSync } from "node:child_process";

/**
 * Tests that check what an unprivileged user cannot read run a child as `nobody`. The child starts as
 * root, loads its code, then drops to nobody (test/support/become-user.mjs) before it reads anything:
 * nobody never has to reach the node binary or the checkout, which may sit in a private 0700 folder
 * (a home folder on Debian 12, a CI clone), so the test runs wherever the checkout lives.
 */
export interface Unprivileged {
  uid: number;
  gid: number;
  /** For the child's environment: become-user.mjs's becomeUserFromEnv reads it. */
  env: { CUSTODY_TEST_BECOME: string };
}

/** nobody's ids where this runner can become nobody (root on Linux with a nobody account), else undefined. */
export function unprivilegedUser(): Unprivileged | undefined {
  if (process.platform !== "linux" || process.getuid?.() !== 0) return undefined;
  const id = (flag: string): number | undefined => {
    const run = spawnSync("id", [flag, "nobody"], { encoding: "utf8" });
    const value = Number(run.stdout.trim());
    return run.status === 0 && Number.isInteger(value) && value > 0 ? value : undefined;
  };
  const uid = id("-u");
  const gid = id("-g");
  if (uid === undefined || gid === undefined) return undefined;
  return { uid, gid, env: { CUSTODY_TEST_BECOME: `${uid}:${gid}` } };
}

/** The file URL a child imports becomeUser / becomeUserFromEnv from. */
export const becomeUserModule = new URL("./become-user.mjs", import.meta.url).href;
