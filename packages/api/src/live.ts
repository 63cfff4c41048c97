import { isoTimestampSchema } from "@custody/core";
import { z } from "zod";
import { caseIdSchema } from "./requests.js";
import type { RouteSpec } from "./routes.js";

// Requests and answers of the live-response session routes (issue 13); the server registers them itself.

/** Session, command and transfer ids as the server makes them (`S-…`, `C-…`, `T-…`). */
export const liveIdParamsSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/),
});

export const openSessionBodySchema = z.strictObject({
  deviceId: z.string().min(1).max(128),
  caseId: z.string().min(1).max(128),
});

export const commandBodySchema = z.strictObject({ line: z.string().min(1).max(8192) });

export const cancelBodySchema = z.strictObject({ reason: z.string().max(1024).optional() }).optional();

/** `POST /v1/agent/collector-certificate`: the device's PKCS#10 request for its own package signer. */
export const collectorCertificateBodySchema = z.strictObject({
  csrPem: z
    .string()
    .min(1)
    .max(12 * 1024),
});

export const collectorCertificateSchema = z.object({
  certificatePem: z.string(),
  caPem: z.string(),
  serialNumber: z.string(),
  notAfter: isoTimestampSchema,
});

/** `POST /v1/devices/:id/collect`: the device's investigation package into a case, outside a session. */
export const collectDeviceBodySchema = z.strictObject({
  caseId: z.string().min(1).max(128),
  reason: z.string().max(1000),
  only: z
    .array(z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,63}$/))
    .min(1)
    .max(64)
    .optional(),
});

const statusSchema = z.enum(["queued", "running", "completed", "failed", "cancelled", "timed-out"]);

/** One line of a session's command log. */
export const liveCommandSchema = z.object({
  id: z.string(),
  sessionId: z.string(),
  line: z.string(),
  name: z.string(),
  analyst: z.string(),
  deviceId: z.string(),
  caseId: caseIdSchema,
  background: z.boolean(),
  prerequisiteOf: z.string().optional(),
  submittedAt: isoTimestampSchema,
  startedAt: isoTimestampSchema.optional(),
  durationMs: z.number().nonnegative().optional(),
  status: statusSchema,
  rows: z.number().int().nonnegative(),
  outputSha256: z.string().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
  itemId: z.string().optional(),
  decisions: z.array(z.number().int().nonnegative()),
});

export const liveSessionSchema = z.object({
  id: z.string(),
  deviceId: z.string(),
  caseId: caseIdSchema,
  createdBy: z.string(),
  createdAt: isoTimestampSchema,
  closedAt: isoTimestampSchema.optional(),
  closeReason: z.string().optional(),
  durationMs: z.number().nonnegative(),
  cwd: z.string().nullable(),
  transcriptItemId: z.string().optional(),
  commands: z.number().int().nonnegative(),
  limits: z.record(z.string(), z.number()).optional(),
});

/** One NDJSON line of `GET /v1/commands/:id/events`: rows as they come, keep-alives, then the result. */
export const liveCommandEventSchema = z.union([
  z.object({ type: z.literal("rows"), rows: z.array(z.record(z.string(), z.unknown())) }),
  z.object({ type: z.literal("wait") }),
  z.object({ type: z.literal("result"), command: liveCommandSchema }),
]);

/** One line of a session's command log, as the server keeps it. */
export type LiveCommand = z.infer<typeof liveCommandSchema>;
/** A session as the server shows it. */
export type LiveSessionView = z.infer<typeof liveSessionSchema>;
/** One line of a command's event stream. */
export type LiveCommandEvent = z.infer<typeof liveCommandEventSchema>;

/** A live route: as a table route, and a PUT for the device's transfer. */
export type LiveRouteSpec = Omit<RouteSpec, "method"> & { method: RouteSpec["method"] | "PUT" | "HEAD" };

const authenticated = { authenticated: true } as const;

/** The live-response routes, for the OpenAPI document (people's routes, and the device's transfer). */
export const LIVE_ROUTES = {
  openSession: {
    ...authenticated,
    operation: "openSession",
    method: "POST",
    path: "/v1/sessions",
    summary: "Opens a live-response session on a device for a case (within the session limits)",
    body: openSessionBodySchema,
    bodyLimit: "json",
    status: 201,
    response: liveSessionSchema,
  },
  showSession: {
    ...authenticated,
    operation: "showSession",
    method: "GET",
    path: "/v1/sessions/:id",
    summary: "The caller's session: who created it, when, how long, its directory",
    params: liveIdParamsSchema,
    bodyLimit: "empty",
    status: 200,
    response: liveSessionSchema,
  },
  closeSession: {
    ...authenticated,
    operation: "closeSession",
    method: "DELETE",
    path: "/v1/sessions/:id",
    summary: "Ends the session: its commands cancelled, its transcript stored in the case",
    params: liveIdParamsSchema,
    bodyLimit: "empty",
    status: 200,
    response: liveSessionSchema,
  },
  submitCommand: {
    ...authenticated,
    operation: "submitCommand",
    method: "POST",
    path: "/v1/sessions/:id/commands",
    summary: "Parses, authorizes and queues one command line; answers its log entry",
    params: liveIdParamsSchema,
    body: commandBodySchema,
    bodyLimit: "json",
    status: 202,
    response: liveCommandSchema,
  },
  commandLog: {
    ...authenticated,
    operation: "commandLog",
    method: "GET",
    path: "/v1/sessions/:id/commands",
    summary: "The session's command log",
    params: liveIdParamsSchema,
    bodyLimit: "empty",
    status: 200,
    response: z.array(liveCommandSchema),
  },
  showCommand: {
    ...authenticated,
    operation: "showCommand",
    method: "GET",
    path: "/v1/commands/:id",
    summary: "One command of the caller's sessions",
    params: liveIdParamsSchema,
    bodyLimit: "empty",
    status: 200,
    response: liveCommandSchema,
  },
  commandEvents: {
    ...authenticated,
    operation: "commandEvents",
    method: "GET",
    path: "/v1/commands/:id/events",
    summary:
      "The command's output as NDJSON (application/x-ndjson), one event per line, ending with its result",
    params: liveIdParamsSchema,
    bodyLimit: "empty",
    status: 200,
    response: liveCommandEventSchema,
  },
  cancelCommand: {
    ...authenticated,
    operation: "cancelCommand",
    method: "POST",
    path: "/v1/commands/:id/cancel",
    summary: "Cancels a command: a queued one never leaves, a running one is stopped on the device",
    params: liveIdParamsSchema,
    body: cancelBodySchema,
    bodyLimit: "json",
    status: 200,
    response: liveCommandSchema,
  },
  transfer: {
    ...authenticated,
    operation: "transfer",
    method: "PUT",
    path: "/v1/agent/transfers/:id",
    summary: "A getfile's bytes from the device the command went to, streamed into the vault create-only",
    params: liveIdParamsSchema,
    body: "octet-stream",
    bodyLimit: "upload",
    status: 201,
    response: z.object({ itemId: z.string() }),
  },
  transferOffset: {
    ...authenticated,
    operation: "transferOffset",
    method: "HEAD",
    path: "/v1/agent/transfers/:id",
    summary:
      "How many bytes of a cut getfile PUT the server holds staged (upload-offset, upload-complete headers); the device's next PUT sends the rest with content-range",
    params: liveIdParamsSchema,
    bodyLimit: "empty",
    status: 204,
    response: z.object({}),
  },
  collectorCertificate: {
    ...authenticated,
    operation: "collectorCertificate",
    method: "POST",
    path: "/v1/agent/collector-certificate",
    summary:
      "The calling device's own package-signing certificate (device-collector role, CN its id) for the key its request proves; devices only",
    body: collectorCertificateBodySchema,
    bodyLimit: "small-json",
    status: 201,
    response: collectorCertificateSchema,
  },
  packageUpload: {
    ...authenticated,
    operation: "packageUpload",
    method: "PUT",
    path: "/v1/agent/packages/:id",
    summary:
      "A collect's investigation package from the device the command went to: stored only if it verifies against the vault CA and is signed by that device's own collector certificate",
    params: liveIdParamsSchema,
    body: "octet-stream",
    bodyLimit: "upload",
    status: 201,
    response: z.object({ itemId: z.string() }),
  },
  collectDevice: {
    ...authenticated,
    operation: "collectDevice",
    method: "POST",
    path: "/v1/devices/:id/collect",
    summary:
      "Collects an online device's investigation package into a case with a reason (a session opened for it, closed once the collect settles); answers the command at once, its events follow it",
    params: liveIdParamsSchema,
    body: collectDeviceBodySchema,
    bodyLimit: "json",
    status: 202,
    response: liveCommandSchema,
  },
  quarantine: {
    ...authenticated,
    operation: "quarantine",
    method: "POST",
    path: "/v1/agent/quarantine/:id",
    summary:
      "A remediating device announces a file it will delete or rewrite ({path, sha256, size, mode}); the answer is a transfer bound to that digest, filled like a getfile's",
    params: liveIdParamsSchema,
    body: z.object({ path: z.string(), sha256: z.string(), size: z.number().int(), mode: z.number().int() }),
    bodyLimit: "json",
    status: 201,
    response: z.object({
      id: z.string(),
      path: z.string(),
      expectedSha256: z.string(),
      expectedSize: z.number().int(),
      maxBytes: z.number().int(),
    }),
  },
  download: {
    ...authenticated,
    operation: "download",
    method: "GET",
    path: "/v1/agent/downloads/:id",
    summary:
      "Bytes the server offered the device for a command (putfile's library file, undo's quarantine items), once, checked against their digest on the device",
    params: liveIdParamsSchema,
    bodyLimit: "empty",
    status: 200,
    response: z.object({}),
  },
} as const satisfies Record<string, LiveRouteSpec>;
