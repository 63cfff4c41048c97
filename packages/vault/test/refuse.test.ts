import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isCustodyError } from "@custody/core";
import { type AuthenticatedPrincipal, Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The second custodian may refuse what the first proposed: the request leaves the pending list, nothing
// it names happens, and the refusal is recorded with who refused it.
const work = mkdtempSync(join(tmpdir(), "custody-refuse-"));
const dir = join(work, "vault");
let vault: Vault;
let alice: AuthenticatedPrincipal;
let bob: AuthenticatedPrincipal;
let carol: AuthenticatedPrincipal;
let id = "";
const item = () => ({ id, caseId: "R-1" });

async function codeOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => "resolved",
    (e: unknown) => (isCustodyError(e) ? e.code : e),
  );
}

beforeAll(async () => {
  const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
  vault = created.vault;
  alice = vault.authenticate(created.identityPem);
  bob = vault.authenticate((await vault.issueIdentity(alice, "bob", "person")).identityPem);
  carol = vault.authenticate((await vault.issueIdentity(alice, "carol", "person")).identityPem);
  await vault.grant(alice, { name: "bob", role: "custodian", scope: "*" });
  writeFileSync(join(work, "evidence.txt"), "held evidence\n");
  id = (await vault.ingest(alice, join(work, "evidence.txt"), { caseId: "R-1" })).id;
  await vault.hold(alice, item());
});

afterAll(async () => {
  await vault.close();
  rmSync(work, { recursive: true, force: true });
});

describe("refusing a pending request", () => {
  it("withdraws a release the second custodian refuses: the hold stays, and the log says who refused", async () => {
    const proposed = await vault.release(alice, item());
    expect(proposed.status).toBe("pending");
    const requestId = proposed.status === "pending" ? proposed.request.id : "";
    expect(await codeOf(vault.refuse(carol, requestId))).toBe("ERR_ACCESS_DENIED");
    const refused = await vault.refuse(bob, requestId);
    expect(refused).toMatchObject({ status: "done", message: expect.stringMatching(/refused by bob/) });
    expect((await vault.listAccess(alice)).pendingApprovals).toEqual([]);
    expect((await vault.show(alice, item())).legalHold).toBe(true);
    expect(await codeOf(vault.approve(bob, requestId))).not.toBe("resolved");
    const lines = (await readFile(join(dir, "audit", "audit.log"), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(
      lines.some(
        (r) => r.actor === "bob" && r.details.refusedBy === "bob" && r.details.requestId === requestId,
      ),
    ).toBe(true);
    expect(
      lines.some((r) => r.actor === "carol" && r.target === `request:${requestId}` && r.outcome === "deny"),
    ).toBe(true);
  });

  it("refuses an unknown request with a clear code and changes nothing", async () => {
    const before = (await vault.listAccess(alice)).version;
    expect(await codeOf(vault.refuse(bob, "no-such-request"))).toMatch(/^ERR_/);
    expect((await vault.listAccess(alice)).version).toBe(before);
  });
});
