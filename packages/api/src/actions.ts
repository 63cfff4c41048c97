import { isoTimestampSchema } from "@custody/core";
import { z } from "zod";
import { type LiveRouteSpec, liveIdParamsSchema } from "./live.js";
import { caseIdSchema } from "./requests.js";

// Requests and answers of the action queue (issue 14): live-response actions for a device that may be
// offline, queued, run in order when it connects, each state change a fact of the signed log.

/** pending → in-progress → succeeded | failed; pending → timed-out (expired) | cancelled; in-progress → cancelled. */
export const actionStateSchema = z.enum([
  "pending",
  "in-progress",
  "succeeded",
  "failed",
  "timed-out",
  "cancelled",
]);

/** A step of an action: its command's outcome, or not-run after an earlier failure or a cancel. */
export const actionStepStateSchema = z.enum([
  "pending",
  "running",
  "succeeded",
  "failed",
  "cancelled",
  "not-run",
]);

const errorSchema = z.object({ code: z.string(), message: z.string() });

/** One step: a command line of the console grammar, and once run, its command and result. */
export const actionStepSchema = z.object({
  index: z.number().int().nonnegative(),
  line: z.string(),
  name: z.string(),
  state: actionStepStateSchema,
  /** The live command that ran it (`GET /v1/commands/:id` while the server keeps it). */
  cmdId: z.string().optional(),
  startedAt: isoTimestampSchema.optional(),
  endedAt: isoTimestampSchema.optional(),
  /** The step's result as an item of the action's case (a run's output, a file taken): `GET /v1/items/:id?case=`. */
  itemId: z.string().optional(),
  rows: z.number().int().nonnegative().optional(),
  outputSha256: z.string().optional(),
  error: errorSchema.optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});

/** A queued action as the server shows it. */
export const actionSchema = z.object({
  id: z.string(),
  kind: z.enum(["command", "batch"]),
  deviceId: z.string(),
  caseId: caseIdSchema,
  /** The analyst who queued it: it runs under that identity, whose grants are checked again when it starts. */
  queuedBy: z.string(),
  state: actionStateSchema,
  queuedAt: isoTimestampSchema,
  /** Still pending at this time, it ends timed-out (ERR_ACTION_EXPIRED). */
  expiresAt: isoTimestampSchema,
  startedAt: isoTimestampSchema.optional(),
  endedAt: isoTimestampSchema.optional(),
  /** The live session it ran in, and that session's transcript (an item of the case). */
  sessionId: z.string().optional(),
  transcriptItemId: z.string().optional(),
  error: errorSchema.optional(),
  cancelledBy: z.string().optional(),
  steps: z.array(actionStepSchema),
});

const deviceIdSchema = z.string().min(1).max(128);
/** How long the action may wait for its device; the server's default (3 days) when absent, at most its maximum. */
const expiresInMsSchema = z
  .number()
  .int()
  .positive()
  .max(366 * 24 * 3_600_000)
  .optional();

export const queueActionBodySchema = z.strictObject({
  deviceId: deviceIdSchema,
  caseId: z.string().min(1).max(128),
  /** One device command line, as in the console (`processes`, `getfile /etc/passwd -auto`, `run s.sh`). */
  line: z.string().min(1).max(8192),
  expiresInMs: expiresInMsSchema,
});

export const batchStepBodySchema = z.strictObject({ line: z.string().min(1).max(8192) });

/** At most 32 steps, each `putfile`, `run` or `getfile`, run in order and stopping at the first failure. */
export const queueBatchBodySchema = z.strictObject({
  deviceId: deviceIdSchema,
  caseId: z.string().min(1).max(128),
  steps: z.array(batchStepBodySchema).min(1).max(32),
  expiresInMs: expiresInMsSchema,
});

export const listActionsQuerySchema = z.strictObject({
  device: z.string().min(1).max(128).optional(),
  case: z.string().min(1).max(128).optional(),
  state: actionStateSchema.optional(),
});

export const cancelActionBodySchema = z.strictObject({ reason: z.string().max(1024).optional() }).optional();

export type ActionView = z.infer<typeof actionSchema>;
export type ActionStep = z.infer<typeof actionStepSchema>;
export type ActionState = z.infer<typeof actionStateSchema>;
export type QueueActionBody = z.infer<typeof queueActionBodySchema>;
export type QueueBatchBody = z.infer<typeof queueBatchBodySchema>;

const authenticated = { authenticated: true } as const;

/** The action-queue routes (people only; another person's action answers 404). */
export const ACTION_ROUTES = {
  queueAction: {
    ...authenticated,
    operation: "queueAction",
    method: "POST",
    path: "/v1/actions",
    summary:
      "Queues one device command for a device, online or not; authorized and recorded now, run in order",
    body: queueActionBodySchema,
    bodyLimit: "json",
    status: 201,
    response: actionSchema,
  },
  queueBatch: {
    ...authenticated,
    operation: "queueBatch",
    method: "POST",
    path: "/v1/actions/batches",
    summary:
      "Queues a batch of putfile, run and getfile steps for one device (one pending batch per device: ERR_BATCH_PENDING)",
    body: queueBatchBodySchema,
    bodyLimit: "json",
    status: 201,
    response: actionSchema,
  },
  listActions: {
    ...authenticated,
    operation: "listActions",
    method: "GET",
    path: "/v1/actions",
    summary: "The caller's queued actions, oldest first, filtered by device, case and state",
    query: listActionsQuerySchema,
    bodyLimit: "empty",
    status: 200,
    response: z.array(actionSchema),
  },
  showAction: {
    ...authenticated,
    operation: "showAction",
    method: "GET",
    path: "/v1/actions/:id",
    summary: "One action: its state, its steps, their results (items of the case)",
    params: liveIdParamsSchema,
    bodyLimit: "empty",
    status: 200,
    response: actionSchema,
  },
  cancelAction: {
    ...authenticated,
    operation: "cancelAction",
    method: "POST",
    path: "/v1/actions/:id/cancel",
    summary: "Cancels an action: a pending one never runs, a running one stops at its current step",
    params: liveIdParamsSchema,
    body: cancelActionBodySchema,
    bodyLimit: "json",
    status: 200,
    response: actionSchema,
  },
} as const satisfies Record<string, LiveRouteSpec>;
