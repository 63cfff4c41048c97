import { PassThrough, type Readable } from "node:stream";
import { cancelBodySchema, commandBodySchema, liveIdParamsSchema, openSessionBodySchema } from "@custody/api";
import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "@custody/vault";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { z } from "zod";
import { principalOf } from "../../auth.js";
import { collectRoutes } from "./collect-routes.js";
import { remediationRoutes } from "./remediation-routes.js";
import { LiveSessions, type LiveSessionsOptions } from "./service.js";
import type { CommandEvent } from "./session.js";
import type { TransferRange } from "./transfers.js";

const idParams = liveIdParamsSchema;
const openBody = openSessionBodySchema;
const commandBody = commandBodySchema;
const cancelBody = cancelBodySchema;

/** NDJSON lines of a followed command; a keep-alive line while it is silent, so idle sockets are not cut. */
export const EVENTS_CONTENT_TYPE = "application/x-ndjson";
const KEEPALIVE_MS = 20_000;

const authenticated = { config: { authenticated: true, principal: "person" } };

/**
 * The live-response routes: sessions, commands, their events, cancel (people only), and the transfer
 * PUT (devices only, the device the command went to).
 */
export function sessionRoutes(app: FastifyInstance, live: LiveSessions): void {
  app.post("/v1/sessions", { ...authenticated, schema: { body: openBody } }, async (request, reply) => {
    const { deviceId, caseId } = request.body as z.infer<typeof openBody>;
    const view = await live.open(person(request), deviceId, caseId);
    return reply.code(201).send({ ...view, limits: publicLimits(live) });
  });
  app.get("/v1/sessions/:id", { ...authenticated, schema: { params: idParams } }, async (request) =>
    live.view(live.get(person(request), idOf(request))),
  );
  app.delete("/v1/sessions/:id", { ...authenticated, schema: { params: idParams } }, async (request) =>
    live.close(live.get(person(request), idOf(request)), "closed"),
  );
  app.post(
    "/v1/sessions/:id/commands",
    { ...authenticated, schema: { params: idParams, body: commandBody } },
    async (request, reply) => {
      const principal = person(request);
      const session = live.get(principal, idOf(request));
      const entry = await live.commands.submit(principal, session, (request.body as { line: string }).line);
      return reply.code(202).send(entry);
    },
  );
  app.get("/v1/sessions/:id/commands", { ...authenticated, schema: { params: idParams } }, async (request) =>
    live.commands.log(live.get(person(request), idOf(request))),
  );
  app.get(
    "/v1/commands/:id",
    { ...authenticated, schema: { params: idParams } },
    async (request) => ownCommand(live, request).entry,
  );
  app.get(
    "/v1/commands/:id/events",
    { ...authenticated, schema: { params: idParams } },
    async (request, reply) => {
      const tracked = ownCommand(live, request);
      return reply.type(EVENTS_CONTENT_TYPE).send(eventStream(live, tracked.entry.id, request));
    },
  );
  app.post(
    "/v1/commands/:id/cancel",
    { ...authenticated, schema: { params: idParams, body: cancelBody } },
    async (request) => {
      const tracked = ownCommand(live, request);
      const reason = (request.body as { reason?: string } | undefined)?.reason ?? "cancelled by the analyst";
      return live.commands.cancel(person(request), tracked.entry.id, reason);
    },
  );
  transferRoute(app, live);
  remediationRoutes(app, live);
}

function transferRoute(app: FastifyInstance, live: LiveSessions): void {
  // how much of a cut PUT the server holds: the device's next PUT continues from there
  app.route({
    method: "HEAD",
    url: "/v1/agent/transfers/:id",
    config: { authenticated: true, principal: "device" },
    schema: { params: idParams },
    handler: async (request, reply) => {
      const device = principalOf(request);
      const transfer = live.commands.transfers.get(idOf(request));
      if (transfer === undefined) throw new CustodyError("ERR_NOT_FOUND", `no transfer ${idOf(request)}`);
      const { offset, complete } = await transfer.staged(device);
      reply.header("upload-offset", String(offset));
      reply.header("upload-complete", complete ? "?1" : "?0");
      return reply.code(204).send();
    },
  });
  app.route({
    method: "PUT",
    url: "/v1/agent/transfers/:id",
    bodyLimit: live.limits.maxGetfileBytes,
    // a long upload has its own pace: the JSON routes' body deadline does not apply
    config: { authenticated: true, upload: true, principal: "device" },
    schema: { params: idParams },
    handler: async (request, reply) => {
      const device = principalOf(request);
      if (device.kind !== "device") {
        throw new CustodyError("ERR_ACCESS_DENIED", "only a device uploads a transfer");
      }
      const transfer = live.commands.transfers.get(idOf(request));
      if (transfer === undefined) {
        reply.header("connection", "close");
        throw new CustodyError("ERR_NOT_FOUND", `no transfer ${idOf(request)}`);
      }
      if (request.body !== request.raw) {
        reply.header("connection", "close");
        throw new CustodyError(
          "ERR_INVALID_ARGUMENT",
          "a transfer is the raw bytes, application/octet-stream",
        );
      }
      const range = transferRange(request, transfer.request.size);
      const outcome = await transfer.receive(
        live.commands.transfers.vault,
        device,
        request.raw as Readable,
        range,
      );
      if (outcome.error !== undefined) {
        reply.header("connection", "close");
        if (outcome.staged !== undefined) reply.header("upload-offset", String(outcome.staged));
        throw new CustodyError(outcome.error.code as "ERR_INTEGRITY_MISMATCH", outcome.error.message);
      }
      return reply.code(201).send({ itemId: outcome.itemId });
    },
  });
}

/** The offset a PUT resumes from (`content-range: bytes START-END/TOTAL`, 0 without it) and its length. */
function transferRange(request: FastifyRequest, size: number): TransferRange {
  const header = request.headers["content-range"];
  const declared = request.headers["content-length"];
  const length = declared === undefined ? undefined : Number(declared);
  if (header === undefined) return { offset: 0, length };
  const match = /^bytes (\d{1,15})-(\d{1,15})\/(\d{1,15})$/.exec(header);
  const [start, end, total] = (match?.slice(1) ?? []).map(Number);
  if (start === undefined || end === undefined || total !== size || end !== size - 1 || start > end) {
    request.raw.resume();
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `content-range '${header.slice(0, 100)}' is not bytes START-${size - 1}/${size}`,
    );
  }
  return { offset: start, length };
}

function eventStream(live: LiveSessions, cmdId: string, request: FastifyRequest): PassThrough {
  const out = new PassThrough();
  const keepAlive = setInterval(() => out.write(`${JSON.stringify({ type: "wait" })}\n`), KEEPALIVE_MS);
  keepAlive.unref();
  let stop = () => undefined as unknown;
  const end = () => {
    clearInterval(keepAlive);
    stop();
  };
  stop = live.commands.follow(cmdId, (event: CommandEvent) => {
    out.write(`${JSON.stringify(event)}\n`);
    if (event.type === "result") {
      end();
      out.end();
    }
  });
  request.raw.once("close", end);
  return out;
}

function person(request: FastifyRequest): AuthenticatedPrincipal {
  const principal = principalOf(request);
  if (principal.kind !== "person") {
    throw new CustodyError("ERR_ACCESS_DENIED", "live-response sessions are for people, not devices");
  }
  return principal;
}

function idOf(request: FastifyRequest): string {
  return (request.params as { id: string }).id;
}

function ownCommand(live: LiveSessions, request: FastifyRequest) {
  const principal = person(request);
  const tracked = live.commands.get(idOf(request));
  if (tracked === undefined || tracked.session.principal.id !== principal.id) {
    throw new CustodyError("ERR_NOT_FOUND", `no command ${idOf(request)}`);
  }
  return tracked;
}

function publicLimits(live: LiveSessions) {
  const { idleMs, maxGetfileBytes, sessionsPerUser, sessionsPerDevice, maxSessions } = live.limits;
  return { idleMs, maxGetfileBytes, sessionsPerUser, sessionsPerDevice, maxSessions };
}

/**
 * Live sessions on a server's app: the routes, and at shutdown every open session closed (reason
 * `server-restart`) with its transcript stored, while the vault is still open.
 */
export function registerLiveSessions(app: FastifyInstance, options: LiveSessionsOptions): LiveSessions {
  const live = new LiveSessions(options);
  sessionRoutes(app, live);
  collectRoutes(app, live, options.vault);
  app.addHook("onClose", async () => {
    await live.closeAll("server-restart");
    await live.commands.transfers.close();
  });
  return live;
}
