import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AccessPolicyStore } from "@custody/access";
import { canonicalJson, isCustodyError } from "@custody/core";
import { type AuthenticatedPrincipal, Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

const work = mkdtempSync(join(tmpdir(), "custody-bound-policy-"));
const dir = join(work, "vault");
let vault: Vault;
let alice: AuthenticatedPrincipal;

beforeAll(async () => {
  const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
  vault = created.vault;
  alice = vault.authenticate(created.identityPem);
});

afterAll(async () => {
  await vault.close().catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

const codeOf = (error: unknown) => (isCustodyError(error) ? error.code : String(error));

/** A next version written straight into the policy folder (not through the vault), granting mallory everything. */
function writeBrokenVersion(): string {
  const policyDir = join(dir, "policy");
  const versions = readdirSync(policyDir)
    .filter((name) => /^\d+\.json$/.test(name))
    .sort();
  const headText = readFileSync(join(policyDir, versions.at(-1) ?? ""), "utf8");
  const head = JSON.parse(headText);
  const next = {
    ...head,
    version: head.version + 1,
    previous: createHash("sha256").update(headText).digest("hex"),
    event: { kind: "apply", by: "alice", at: new Date().toISOString() },
    grants: [
      ...head.grants,
      { principal: "mallory", role: "custodian", scope: "*", grantedBy: "alice", grantedAt: head.event.at },
    ],
  };
  const file = join(policyDir, `${String(next.version).padStart(6, "0")}.json`);
  writeFileSync(file, canonicalJson(next));
  return file;
}

/** Waits for the open vault to learn of the folder's change, then expects it to refuse to decide. */
async function refusedWith(message: string): Promise<void> {
  await vi.waitFor(
    async () => {
      const outcome = await vault.whoami(alice).then(
        () => "served",
        (error: unknown) => codeOf(error),
      );
      expect(outcome).toBe("ERR_POLICY_INVALID");
    },
    { timeout: 10_000, interval: 50 },
  );
  // and keeps refusing: a refusal is not forgotten once the folder has been listed
  for (let n = 0; n < 3; n += 1) {
    await expect(vault.listAccess(alice)).rejects.toMatchObject({
      code: "ERR_POLICY_INVALID",
      message: expect.stringContaining(message),
    });
  }
}

describe("the policy an open vault decides on", () => {
  it("policy changes through the vault keep decisions going; a version added on disk stops them", async () => {
    // the vault's own changes, with decisions taken while they run: never refused, never a conflict
    const grants = Array.from({ length: 8 }, (_, n) =>
      vault.grant(alice, { name: `analyst${n}`, role: "investigator", scope: `case:C${n}` }),
    );
    const reads = Array.from({ length: 16 }, () => vault.whoami(alice));
    await Promise.all([...grants, ...reads]);
    expect((await vault.listAccess(alice)).grants.filter((g) => g.role === "investigator")).toHaveLength(8);

    // a version that does not replay (no change recorded) is refused while the file is there
    const broken = writeBrokenVersion();
    await refusedWith("no policy change recorded");
    rmSync(broken);
    await vi.waitFor(() => expect(vault.whoami(alice)).resolves.toMatchObject({ id: "alice" }), {
      timeout: 10_000,
      interval: 50,
    });

    // a consistent version, made with the policy library on the folder, is one the log does not state
    const outside = await AccessPolicyStore.open(join(dir, "policy"));
    await outside.apply(
      { kind: "grant", principal: "mallory", role: "custodian", scope: "*" },
      { id: "alice" },
    );
    await refusedWith("is not the one the signed audit log states");
  });
});
