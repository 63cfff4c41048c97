import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCustodyError } from "@custody/core";
import { Vault } from "@custody/vault";
import { afterAll, describe, expect, it } from "vitest";

// The README: a vault made by an earlier custody (custody.vault/v1) is refused, because its records
// were not bound to the log. Played by relabelling a real vault's vault.json as v1.
const work = mkdtempSync(join(tmpdir(), "custody-vault-claims-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("a custody.vault/v1 folder", () => {
  it("is refused with ERR_UNSUPPORTED_VERSION, and the current format still opens", async () => {
    const dir = join(work, "old");
    const { vault } = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
    await vault.close();
    const configPath = join(dir, "vault.json");
    const config = readFileSync(configPath, "utf8");
    const reopened = await Vault.open({ dir });
    await reopened.close();

    writeFileSync(configPath, config.replace(/"format":\s*"[^"]+"/, '"format":"custody.vault/v1"'));
    const error = await Vault.open({ dir }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(isCustodyError(error, "ERR_UNSUPPORTED_VERSION"), String(error)).toBe(true);
  });
});
