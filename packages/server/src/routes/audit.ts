import { ROUTES } from "@custody/api";
import { signedCheckpointFromJson, signedCheckpointToJson } from "@custody/audit";
import type { FastifyInstance } from "fastify";
import { type RouteContext, route } from "./register.js";

export function auditRoutes(app: FastifyInstance, ctx: RouteContext): void {
  route(app, ctx, ROUTES.verifyAudit, ({ api, body }) => {
    const known = (body?.knownCheckpoints ?? []).map((checkpoint) => signedCheckpointFromJson(checkpoint));
    return api.verifyAudit(known.length === 0 ? {} : { knownCheckpoints: known });
  });
  route(app, ctx, ROUTES.showAudit, ({ api, query }) =>
    api.showAudit(query.since === undefined ? 0 : Number(query.since)),
  );
  route(app, ctx, ROUTES.proveAudit, ({ api, params }) => api.proveAudit(Number(params.seq)));
  route(app, ctx, ROUTES.checkpoint, async ({ api }) => signedCheckpointToJson(await api.checkpoint()));
  route(app, ctx, ROUTES.rotateSigner, ({ api }) => api.rotateSigner());
}
