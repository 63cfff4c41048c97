import { ROUTES } from "@custody/api";
import type { FastifyInstance } from "fastify";
import { type RouteContext, route } from "../routes/register.js";

/** The live-response library and the unsigned-scripts setting (people only): each one guarded vault operation. */
export function libraryRoutes(app: FastifyInstance, ctx: RouteContext): void {
  route(app, ctx, ROUTES.listLibrary, ({ api }) => api.listLibrary());
  route(app, ctx, ROUTES.uploadLibrary, ({ api, body }) =>
    api.uploadLibrary({
      name: body.name,
      content: Buffer.from(body.contentBase64, "base64"),
      ...(body.signatureBase64 === undefined
        ? {}
        : { signature: Buffer.from(body.signatureBase64, "base64") }),
      ...(body.description === undefined ? {} : { description: body.description }),
      ...(body.parameters === undefined ? {} : { parameters: body.parameters }),
      ...(body.overwrite === undefined ? {} : { overwrite: body.overwrite }),
    }),
  );
  route(app, ctx, ROUTES.removeLibrary, ({ api, params }) => api.removeLibrary(params.name));
  route(app, ctx, ROUTES.unsignedScripts, ({ api }) => api.unsignedScripts());
  route(app, ctx, ROUTES.setUnsignedScripts, ({ api, body }) => api.setUnsignedScripts(body.enabled));
}
