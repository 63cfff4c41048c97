import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { DEVICE_FACT, type DeviceState, type LedgerDevice } from "./device-facts.js";
import type { Ledger } from "./ledger.js";
import { grantedAnywhere } from "./listing.js";
import { ACCESS_LOCK } from "./locks.js";
import { LIVE_RESPONSE, readSwitch, type SwitchSetting, setSwitch } from "./switch-settings.js";

export interface DeviceRecord {
  deviceId: string;
  hostname: string;
  os: string;
  arch: string;
  agentVersion: string;
  state: DeviceState;
  quarantineReason?: string;
  caseId?: string;
  enrolledAt: string;
  tokenId: string;
  serialNumbers: string[];
  /** Whether its agent is connected to the server that answers (a vault opened locally: never). */
  online: boolean;
  /** The last time the agent was seen: its last connection the log records, or newer from a server. */
  lastSeen: string | null;
}

export type LiveResponseSetting = SwitchSetting;

function deviceResource(device: { deviceId: string; caseId?: string | undefined }) {
  return {
    kind: "device",
    deviceId: device.deviceId,
    ...(device.caseId === undefined ? {} : { caseId: device.caseId }),
  } as const;
}

/** A device whose every certificate was revoked (by `devices revoke` or by identity) is revoked. */
function stateOf(ledger: Ledger, device: LedgerDevice): DeviceState {
  const live = device.serialNumbers.some((serial) => ledger.identities.get(serial)?.revoked === false);
  return live ? device.state : "revoked";
}

export function deviceRecord(ledger: Ledger, device: LedgerDevice): DeviceRecord {
  return {
    deviceId: device.deviceId,
    ...device.facts,
    state: stateOf(ledger, device),
    ...(device.quarantineReason === undefined ? {} : { quarantineReason: device.quarantineReason }),
    ...(device.caseId === undefined ? {} : { caseId: device.caseId }),
    enrolledAt: device.enrolledAt,
    tokenId: device.tokenId,
    serialNumbers: [...device.serialNumbers],
    online: false,
    lastSeen: device.lastConnectedAt ?? null,
  };
}

/** Devices the principal may read (`device.read` in their scope); one audit record for the listing. */
export async function listDevices(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
): Promise<DeviceRecord[]> {
  ctx.guard.assertAuthenticated(principal);
  const policy = await ctx.guard.policy();
  if (!grantedAnywhere(policy, principal.id, "device.read", ctx.clock.now())) {
    await ctx.guard.refuse(principal, "device.read", "devices", "no unexpired grant reads devices");
  }
  const visible = [...ctx.ledger.live.devices.values()].filter((device) =>
    ctx.guard.allows(policy, principal, "device.read", deviceResource(device)),
  );
  await ctx.guard.note(principal, "device.read", "devices", `listed ${visible.length} device(s)`, {
    returned: visible.length,
  });
  return visible.map((device) => deviceRecord(ctx.ledger, device));
}

function knownDevice(ctx: VaultContext, deviceId: string): LedgerDevice {
  const device = ctx.ledger.live.devices.get(deviceId);
  if (device === undefined) throw new CustodyError("ERR_NOT_FOUND", `no enrolled device ${deviceId}`);
  return device;
}

/** Runs `work` on a device under `action`; an unknown device is denied like one out of scope. */
async function onDevice<T>(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  action: "device.read" | "device.manage",
  deviceId: string,
  work: (device: LedgerDevice) => Promise<T>,
): Promise<T> {
  await ctx.guard.catchUp();
  const device = ctx.ledger.live.devices.get(deviceId);
  const target = `device:${deviceId}`;
  if (device === undefined) return ctx.guard.refuse(principal, action, target, "no such device");
  const request = { principal, action, resource: deviceResource(device), target } as const;
  return ctx.guard.run(request, () => ctx.locks.with([target], () => work(knownDevice(ctx, deviceId))));
}

export function showDevice(ctx: VaultContext, principal: AuthenticatedPrincipal, deviceId: string) {
  return onDevice(ctx, principal, "device.read", deviceId, async (device) =>
    deviceRecord(ctx.ledger, device),
  );
}

/** Lifts a quarantine (a suspected clone): the next connection starts a new nonce chain. */
export function approveDevice(ctx: VaultContext, principal: AuthenticatedPrincipal, deviceId: string) {
  return onDevice(ctx, principal, "device.manage", deviceId, async (device) => {
    if (stateOf(ctx.ledger, device) === "revoked") {
      throw new CustodyError("ERR_CONFLICT", `${deviceId} is revoked; enroll the device again`);
    }
    await ctx.guard.fact(principal.id, DEVICE_FACT.approved, `device:${deviceId}`, "approved", {
      deviceId,
    });
    return deviceRecord(ctx.ledger, knownDevice(ctx, deviceId));
  });
}

/** Revokes the device's certificates: the log first (effective at once), then the CRL TLS reads. */
export function revokeDevice(ctx: VaultContext, principal: AuthenticatedPrincipal, deviceId: string) {
  return onDevice(ctx, principal, "device.manage", deviceId, async (device) => {
    if (stateOf(ctx.ledger, device) === "revoked") {
      throw new CustodyError("ERR_CONFLICT", `${deviceId} is already revoked`);
    }
    await ctx.guard.fact(principal.id, DEVICE_FACT.revoked, `device:${deviceId}`, "revoked", {
      deviceId,
      serialNumbers: [...device.serialNumbers],
    });
    // the CRL file is shared with identity revocations, which publish under the access lock
    await ctx.locks.with([ACCESS_LOCK], () => ctx.revocations.publish(ctx.ledger));
    return deviceRecord(ctx.ledger, knownDevice(ctx, deviceId));
  });
}

export function liveResponseSetting(ctx: VaultContext, principal: AuthenticatedPrincipal) {
  return readSwitch(ctx, principal, LIVE_RESPONSE);
}

/** Turns live response on or off (custodians: `settings.manage`); off in a new vault. */
export function setLiveResponse(ctx: VaultContext, principal: AuthenticatedPrincipal, enabled: boolean) {
  return setSwitch(ctx, principal, LIVE_RESPONSE, enabled);
}
