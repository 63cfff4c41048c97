import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuthenticatedPrincipal, Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The actions the log holds open, rebuilt from the log at open, and the claim an `action.started`
// makes: a second runner is refused with nothing recorded, `action.deferred` frees the claim.
let dir: string;
let vaultDir: string;
let vault: Vault;
let alice: AuthenticatedPrincipal;
let identity: string;
const DEVICE = "D-0123456789ABCDEFGHJKMNPQRS";

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "custody-actions-"));
  vaultDir = join(dir, "vault");
  const made = await Vault.init(vaultDir, { custodian: "alice", keyBits: 2048 });
  vault = made.vault;
  identity = made.identityPem;
  alice = vault.authenticate(identity);
});
afterAll(async () => {
  await vault.close();
  await rm(dir, { recursive: true, force: true });
});

async function queued(lines = ["processes"]): Promise<string> {
  const actionId = `A-${randomUUID()}`;
  await vault.decideLive(alice, {
    auditAction: "action.queued",
    checks: [],
    target: `device:${DEVICE}`,
    // a caller's details cannot name another certificate: the vault writes the actor's serial last
    details: {
      actionId,
      caseId: "IR-5",
      deviceId: DEVICE,
      kind: "command",
      lines,
      expiresAt: new Date(Date.now() + 60_000).toISOString(),
      actorSerial: "ABCDEF",
    },
  });
  return actionId;
}

const start = (principal: AuthenticatedPrincipal, actionId: string, runner: string) =>
  vault.decideLive(principal, {
    auditAction: "action.started",
    checks: [],
    target: `device:${DEVICE}`,
    details: { actionId },
    claim: { actionId, runner },
  });

const outcome = (action: string, actionId: string, details: Record<string, string> = {}) =>
  vault.recordLiveOutcome(alice, {
    action,
    target: `device:${DEVICE}`,
    outcome: "allow",
    reason: action,
    details: { actionId, ...details },
  });

const recordCount = async () => (await vault.showAudit(alice)).length;

describe("queued actions in the log", () => {
  it("holds an action open from its queued decision to its end, under the certificate that queued it", async () => {
    const id = await queued(["dir /tmp"]);
    expect(vault.openActions().find((a) => a.id === id)).toMatchObject({
      actor: "alice",
      actorSerial: alice.serialNumber,
      lines: ["dir /tmp"],
      deviceId: DEVICE,
    });
    await outcome("action.ended", id);
    expect(vault.openActions().some((a) => a.id === id)).toBe(false);
    await expect(start(alice, id, "R-1")).rejects.toMatchObject({ code: "ERR_CONFLICT" });
  });

  it("lets one runner claim an action; another is refused with nothing recorded until the claim is handed back", async () => {
    const id = await queued();
    await start(alice, id, "R-1");
    expect(vault.openActions().find((a) => a.id === id)?.runner).toBe("R-1");
    await start(alice, id, "R-1"); // the same process starting it again (its device came back)
    const before = await recordCount();
    await expect(start(alice, id, "R-2")).rejects.toMatchObject({
      code: "ERR_CONFLICT",
      details: { actionId: id, claim: "refused" },
    });
    expect(await recordCount()).toBe(before + 1); // only showAudit's own read record
    await outcome("action.deferred", id, { runner: "R-1" });
    await start(alice, id, "R-2");
    await outcome("action.ended", id);
  });

  it("rebuilds the open actions at open and answers for who queued them, and only for them", async () => {
    const id = await queued();
    await vault.close();
    vault = await Vault.open({ dir: vaultDir });
    expect(vault.openActions().map((a) => a.id)).toEqual([id]);
    const actor = vault.actorOfAction(id);
    expect(actor).toMatchObject({ id: "alice", kind: "person", serialNumber: alice.serialNumber });
    await start(actor, id, "R-3"); // a principal the guard accepts
    expect(() => vault.actorOfAction(`A-${randomUUID()}`)).toThrow(/no open action/);
    alice = vault.authenticate(identity);
    await outcome("action.ended", id);
    expect(() => vault.actorOfAction(id)).toThrow(/no open action/);
  });
});
