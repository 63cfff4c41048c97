import { ROUTES } from "@custody/api";
import type { DeviceRecord } from "@custody/vault";
import type { FastifyInstance } from "fastify";
import { type RouteContext, route } from "../routes/register.js";
import type { DeviceHub } from "./hub.js";

/** A device as the vault states it, with what this server sees of its agent (online, last seen). */
export function withPresence(hub: DeviceHub, device: DeviceRecord): DeviceRecord {
  const status = hub.list().find((entry) => entry.deviceId === device.deviceId);
  if (status === undefined) return device;
  const seen = [status.lastSeen, device.lastSeen].filter((t): t is string => t !== null).sort();
  return { ...device, online: status.online, lastSeen: seen.at(-1) ?? null };
}

/** The device and live-response settings routes (people only): each is one guarded vault operation. */
export function deviceRoutes(
  app: FastifyInstance,
  ctx: RouteContext,
  hub: DeviceHub & { cut(deviceId: string, reason: string): void },
): void {
  route(app, ctx, ROUTES.createEnrollmentToken, ({ api, body }) => api.createEnrollmentToken(body ?? {}));
  route(app, ctx, ROUTES.listDevices, async ({ api }) =>
    (await api.listDevices()).map((device) => withPresence(hub, device)),
  );
  route(app, ctx, ROUTES.showDevice, async ({ api, params }) =>
    withPresence(hub, await api.showDevice(params.id)),
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
}
