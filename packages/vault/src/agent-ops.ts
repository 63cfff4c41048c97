import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { CustodyError, type JsonValue } from "@custody/core";
import type { AuthenticatedPrincipal, RequestContext } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { DEVICE_FACT, type DeviceState } from "./device-facts.js";
import { VAULT_ACTOR } from "./rotation.js";

const sha256 = (text: string) => createHash("sha256").update(text).digest();

/** Where a device stands now, as the log states it (`unknown`: not a device this vault enrolled). */
export function deviceStanding(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
): DeviceState | "unknown" {
  if (principal.kind !== "device") return "unknown";
  const device = ctx.ledger.live.devices.get(principal.id);
  if (device === undefined || !device.serialNumbers.includes(principal.serialNumber)) return "unknown";
  const identity = ctx.ledger.identities.get(principal.serialNumber);
  return identity === undefined || identity.revoked ? "revoked" : device.state;
}

/**
 * An agent's hello: `prevNonce` must be the nonce the server gave this device last time (its sha256 is
 * in the log). A different one means two holders of the device key: the device is quarantined, the
 * attempt recorded, and the connection refused. Otherwise a fresh nonce is recorded and returned.
 */
export async function acceptAgentConnection(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  prevNonce: string | null,
  context: RequestContext,
): Promise<{ nonce: string }> {
  ctx.guard.assertAuthenticated(principal);
  const deviceId = principal.id;
  return ctx.locks.with([`device:${deviceId}`], async () => {
    const standing = deviceStanding(ctx, principal);
    if (standing === "quarantined") {
      await recordAgentEvent(ctx, principal, "agent.connect", "deny", "the device is quarantined", context);
      throw new CustodyError(
        "ERR_DEVICE_QUARANTINED",
        `${deviceId} is quarantined until a custodian approves it`,
      );
    }
    if (standing !== "active") {
      await recordAgentEvent(ctx, principal, "agent.connect", "deny", `the device is ${standing}`, context);
      throw new CustodyError("ERR_IDENTITY_INVALID", `${deviceId} is not an enrolled, unrevoked device`);
    }
    const expected = ctx.ledger.live.devices.get(deviceId)?.nonceSha256;
    if (expected !== undefined && !nonceMatches(prevNonce, expected)) {
      await quarantineDevice(ctx, deviceId, "clone suspected: the agent did not show the last nonce", {
        ...context,
        prevNonceSha256: prevNonce === null ? null : sha256(prevNonce).toString("hex"),
      });
      throw new CustodyError("ERR_DEVICE_QUARANTINED", `${deviceId} showed a stale nonce: quarantined`);
    }
    const nonce = randomBytes(32).toString("base64url");
    await ctx.guard.fact(deviceId, DEVICE_FACT.connected, `device:${deviceId}`, "agent connected", {
      deviceId,
      nonceSha256: sha256(nonce).toString("hex"),
    });
    return { nonce };
  });
}

function nonceMatches(prevNonce: string | null, expectedSha256: string): boolean {
  if (typeof prevNonce !== "string" || prevNonce.length > 256) return false;
  return timingSafeEqual(sha256(prevNonce), Buffer.from(expectedSha256, "hex"));
}

/** Quarantines a device (commands refused, connections refused) until a custodian approves it. */
export async function quarantineDevice(
  ctx: VaultContext,
  deviceId: string,
  reason: string,
  details: Record<string, JsonValue> = {},
): Promise<void> {
  const device = ctx.ledger.live.devices.get(deviceId);
  if (device === undefined) throw new CustodyError("ERR_NOT_FOUND", `no enrolled device ${deviceId}`);
  await ctx.guard.vaultEvent(VAULT_ACTOR, "device.clone-suspected", `device:${deviceId}`, reason, details);
  if (device.state !== "active") return;
  await ctx.guard.fact(VAULT_ACTOR, DEVICE_FACT.quarantined, `device:${deviceId}`, reason, {
    deviceId,
    reason: reason.slice(0, 500),
  });
}

/** Records what an agent connection did or had done to it (a protocol error, a refusal, a disconnect). */
export async function recordAgentEvent(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  action: string,
  outcome: "allow" | "deny",
  reason: string,
  context: RequestContext,
  details: Record<string, JsonValue> = {},
): Promise<void> {
  const all = {
    ...details,
    actorSerial: principal.serialNumber,
    requestId: context.requestId,
    clientAddress: context.clientAddress,
  };
  const target = `device:${principal.id}`;
  if (outcome === "allow") await ctx.guard.vaultEvent(principal.id, action, target, reason, all);
  else await ctx.guard.refuseAnonymous(principal.id, action, target, reason.slice(0, 2000), all);
}
