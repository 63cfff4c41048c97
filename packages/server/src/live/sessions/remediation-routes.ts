import { liveIdParamsSchema } from "@custody/api";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { principalOf } from "../../auth.js";
import type { LiveSessions } from "./service.js";

const device = { authenticated: true, principal: "device" } as const;

function idOf(request: FastifyRequest): string {
  return (request.params as { id: string }).id;
}

/**
 * The device's routes for remediate, undo and putfile: announce a file to quarantine (the answer is a
 * getfile transfer bound to its digest, filled with `PUT /v1/agent/transfers/:id`), and fetch bytes the
 * server offered for a command (once, by the device it was offered to).
 */
export function remediationRoutes(app: FastifyInstance, live: LiveSessions): void {
  app.post(
    "/v1/agent/quarantine/:id",
    { config: device, schema: { params: liveIdParamsSchema } },
    async (request, reply) => {
      const frame = live.commands.remediation.announce(principalOf(request), idOf(request), request.body);
      return reply.code(201).send(frame);
    },
  );
  app.get(
    "/v1/agent/downloads/:id",
    { config: device, schema: { params: liveIdParamsSchema } },
    async (request, reply) => {
      const { stream, size } = await live.commands.remediation.download(principalOf(request), idOf(request));
      return reply.type("application/octet-stream").header("content-length", String(size)).send(stream);
    },
  );
}
