import { ROUTES } from "@custody/api";
import type { FastifyInstance } from "fastify";
import { type RouteContext, route } from "./register.js";

function grantOf(body: {
  name: string;
  role: string;
  scope: "*" | `case:${string}` | `device:${string}`;
  expiresAt?: string | undefined;
}) {
  return {
    name: body.name,
    role: body.role,
    scope: body.scope,
    ...(body.expiresAt === undefined ? {} : { expiresAt: new Date(body.expiresAt) }),
  };
}

export function accessRoutes(app: FastifyInstance, ctx: RouteContext): void {
  route(app, ctx, ROUTES.approve, async ({ api, params }) => {
    const outcome = await api.approve(params.requestId);
    ctx.onRevocation();
    return outcome;
  });
  route(app, ctx, ROUTES.refuse, ({ api, params }) => api.refuse(params.requestId));
  route(app, ctx, ROUTES.grant, ({ api, body }) => api.grant(grantOf(body)));
  route(app, ctx, ROUTES.revoke, ({ api, body }) => api.revoke(grantOf(body)));
  route(app, ctx, ROUTES.listAccess, ({ api }) => api.listAccess());
  route(app, ctx, ROUTES.issueIdentity, ({ api, body }) =>
    api.issueIdentity(body.name, body.kind ?? "person"),
  );
  route(app, ctx, ROUTES.revokeIdentity, async ({ api, params }) => {
    const outcome = await api.revokeIdentity(params.name);
    ctx.onRevocation();
    return outcome;
  });
  route(app, ctx, ROUTES.whoami, ({ api }) => api.whoami());
}
