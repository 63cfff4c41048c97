import type { Readable } from "node:stream";
import { renderCommandLine } from "@custody/agent/protocol";
import { collectDeviceBodySchema, collectorCertificateBodySchema, liveIdParamsSchema } from "@custody/api";
import { CustodyError } from "@custody/core";
import type { Vault } from "@custody/vault";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { z } from "zod";
import { principalOf } from "../../auth.js";
import type { LiveSessions } from "./service.js";

const device = { authenticated: true, principal: "device" } as const;

/**
 * collect's routes: the device's own collector certificate (devices), the package PUT (the device the
 * command went to), and a collect outside a session (people).
 */
export function collectRoutes(app: FastifyInstance, live: LiveSessions, vault: Vault): void {
  app.post(
    "/v1/agent/collector-certificate",
    { config: device, schema: { body: collectorCertificateBodySchema } },
    async (request, reply) => {
      const caller = principalOf(request);
      if (caller.kind !== "device")
        throw new CustodyError(
          "ERR_ACCESS_DENIED",
          "only an enrolled device gets a device collector certificate",
        );
      const { csrPem } = request.body as z.infer<typeof collectorCertificateBodySchema>;
      return reply.code(201).send(await vault.issueCollectorCertificate(caller, csrPem));
    },
  );
  app.route({
    method: "PUT",
    url: "/v1/agent/packages/:id",
    bodyLimit: live.limits.maxPackageBytes,
    config: { ...device, upload: true },
    schema: { params: liveIdParamsSchema },
    handler: async (request, reply) => {
      const caller = principalOf(request);
      const upload = live.commands.packages.get(idOf(request));
      if (upload === undefined || request.body !== request.raw) {
        reply.header("connection", "close");
        throw upload === undefined
          ? new CustodyError("ERR_NOT_FOUND", `no package upload ${idOf(request)}`)
          : new CustodyError("ERR_INVALID_ARGUMENT", "a package is the raw bytes, application/octet-stream");
      }
      const declared = request.headers["content-length"];
      const outcome = await upload.receive(
        vault,
        caller,
        request.raw as Readable,
        declared === undefined ? undefined : Number(declared),
      );
      if (outcome.error !== undefined) {
        reply.header("connection", "close");
        throw new CustodyError(outcome.error.code as "ERR_PACKAGE_INVALID", outcome.error.message);
      }
      return reply.code(201).send({ itemId: outcome.itemId });
    },
  });
  app.post(
    "/v1/devices/:id/collect",
    {
      config: { authenticated: true, principal: "person" },
      schema: { params: liveIdParamsSchema, body: collectDeviceBodySchema },
    },
    async (request, reply) => reply.code(202).send(await collectOutsideSession(live, request)),
  );
}

/**
 * The same collect as in a session, for a caller who has none open: a session on the device for the
 * case is opened (within the limits, authorized and audited like any) and the collect line submitted;
 * the session closes (its transcript stored) once the command has settled. The answer is the command's
 * log entry, at once: its events (`GET /v1/commands/:id/events`) follow it to the end.
 */
async function collectOutsideSession(live: LiveSessions, request: FastifyRequest) {
  const principal = principalOf(request);
  if (principal.kind !== "person")
    throw new CustodyError("ERR_ACCESS_DENIED", "collect is asked by a person");
  const body = request.body as z.infer<typeof collectDeviceBodySchema>;
  const line = renderCommandLine({
    name: "collect",
    positional: [],
    flags: { reason: body.reason, ...(body.only === undefined ? {} : { only: body.only.join(",") }) },
    background: false,
  });
  if (body.reason.trim() === "")
    throw new CustodyError("ERR_REASON_REQUIRED", "collect needs a reason: why this is done, for the record");
  const view = await live.open(principal, idOf(request), body.caseId);
  const session = live.get(principal, view.id);
  const closeSession = () => void live.close(session, "closed").catch(() => undefined);
  try {
    const entry = await live.commands.submit(principal, session, line);
    const tracked = live.commands.get(entry.id);
    if (tracked === undefined) closeSession();
    else void tracked.done.then(closeSession);
    return entry;
  } catch (error) {
    closeSession();
    throw error;
  }
}

function idOf(request: FastifyRequest): string {
  return (request.params as { id: string }).id;
}
