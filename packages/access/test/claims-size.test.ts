import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AccessPolicyStore, MAX_POLICY_FILE_BYTES, verifyPolicyHistory } from "@custody/access";
import { isCustodyError } from "@custody/core";
import { afterAll, describe, expect, it } from "vitest";

// The README: policy files larger than 16 MiB are refused (a version is read whole, so its size is
// checked before it is read).
const cleanups: string[] = [];
afterAll(async () => {
  for (const dir of cleanups) await rm(dir, { recursive: true, force: true });
});

async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
}

describe("policy file size", () => {
  it("refuses a policy version larger than 16 MiB on load", async () => {
    expect(MAX_POLICY_FILE_BYTES).toBe(16 * 1024 * 1024);
    const dir = await mkdtemp(join(tmpdir(), "custody-access-size-"));
    cleanups.push(dir);
    await AccessPolicyStore.init(dir, { id: "alice", kind: "person" });
    const [first] = await readdir(dir);
    expect(first).toBe("000001.json");
    await writeFile(join(dir, "000002.json"), Buffer.alloc(MAX_POLICY_FILE_BYTES + 1, 0x20));
    // One at a time: a second promise made up front could reject before anything awaits it.
    for (const attempt of [() => AccessPolicyStore.open(dir), () => verifyPolicyHistory(dir)]) {
      const error = await failure(attempt());
      expect(isCustodyError(error, "ERR_POLICY_INVALID"), String(error)).toBe(true);
      expect(String((error as Error).message)).toMatch(/larger than/);
    }
  });
});
