import { ROUTES } from "@custody/api";
import type { DeviceRecord } from "@custody/vault";
import type { FastifyInstance } from "fastify";
import { type RouteContext, route } from "../routes/register.js";
import type { DeviceHub, DeviceStatus } from "./hub.js";

/** A device as the vault states it, with what this server sees of its agent (online, last seen). */
export function withPresence(
  presence: ReadonlyMap<string, DeviceStatus>,
  device: DeviceRecord,
): DeviceRecord {
  const status = presence.get(device.deviceId);
  if (status === undefined) return device;
  const seen = [status.lastSeen, device.lastSeen].filter((t): t is string => t !== null).sort();
  return { ...device, online: status.online, lastSeen: seen.at(-1) ?? null };
}

function presenceOf(hub: DeviceHub): Map<string, DeviceStatus> {
  return new Map(hub.list().map((status) => [status.deviceId, status]));
}

/** The device and live-response settings routes (people only): each is one guarded vault operation. */
export function deviceRoutes(
  app: FastifyInstance,
  ctx: RouteContext,
  hub: DeviceHub & { cut(deviceId: string, reason: string): void },
): void {
  route(app, ctx, ROUTES.createEnrollmentToken, ({ api, body }) => api.createEnrollmentToken(body ?? {}));
  route(app, ctx, ROUTES.listDevices, async ({ api }) => {
    const devices = await api.listDevices();
    const presence = presenceOf(hub);
    return devices.map((device) => withPresence(presence, device));
  });
  route(app, ctx, ROUTES.showDevice, async ({ api, params }) =>
    withPresence(presenceOf(hub), await api.showDevice(params.id)),
  );
  route(app, ctx, ROUTES.approveDevice, ({ api, params }) => api.approveDevice(params.id));
  route(app, ctx, ROUTES.revokeDevice, async ({ api, params }) => {
    const revoked = await api.revokeDevice(params.id);
    hub.cut(params.id, "the device was revoked");
    ctx.onRevocation();
    return revoked;
  });
  route(app, ctx, ROUTES.liveResponse, ({ api }) => api.liveResponse());
  route(app, ctx, ROUTES.setLiveResponse, ({ api, body }) => api.setLiveResponse(body.enabled));
  // the hash lists analyze matches against
  route(app, ctx, ROUTES.listHashes, ({ api, query }) => api.listHashes(query.list));
  route(app, ctx, ROUTES.addHash, ({ api, params, body }) => api.addHash({ list: params.list, ...body }));
  route(app, ctx, ROUTES.removeHash, ({ api, params }) => api.removeHash(params.list, params.digest));
}
