import { ACTION_ROUTES, type QueueActionBody, type QueueBatchBody } from "@custody/api";
import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "@custody/vault";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { principalOf } from "../../auth.js";
import type { LiveSessions } from "../sessions/service.js";
import { ActionQueue, type ActionQueueLimits } from "./queue.js";

const authenticated = { config: { authenticated: true, principal: "person" } };
const R = ACTION_ROUTES;

/** The action-queue routes (people only): queue a command or a batch, list, show, cancel. */
export function actionRoutes(app: FastifyInstance, queue: ActionQueue): void {
  app.post(
    R.queueAction.path,
    { ...authenticated, schema: { body: R.queueAction.body } },
    async (request, reply) => {
      const body = request.body as QueueActionBody;
      const view = await queue.queue(person(request), {
        deviceId: body.deviceId,
        caseId: body.caseId,
        lines: [body.line],
        kind: "command",
        ...(body.expiresInMs === undefined ? {} : { expiresInMs: body.expiresInMs }),
      });
      return reply.code(201).send(view);
    },
  );
  app.post(
    R.queueBatch.path,
    { ...authenticated, schema: { body: R.queueBatch.body } },
    async (request, reply) => {
      const body = request.body as QueueBatchBody;
      const view = await queue.queue(person(request), {
        deviceId: body.deviceId,
        caseId: body.caseId,
        lines: body.steps.map((step) => step.line),
        kind: "batch",
        ...(body.expiresInMs === undefined ? {} : { expiresInMs: body.expiresInMs }),
      });
      return reply.code(201).send(view);
    },
  );
  app.get(
    R.listActions.path,
    { ...authenticated, schema: { querystring: R.listActions.query } },
    async (request) => queue.list(person(request), request.query as { device?: string; case?: string }),
  );
  app.get(
    R.showAction.path,
    { ...authenticated, schema: { params: R.showAction.params } },
    async (request) => queue.get(person(request), idOf(request)).view,
  );
  app.post(
    R.cancelAction.path,
    { ...authenticated, schema: { params: R.cancelAction.params, body: R.cancelAction.body } },
    async (request) => {
      const reason = (request.body as { reason?: string } | undefined)?.reason ?? "cancelled by the analyst";
      return queue.cancel(person(request), idOf(request), reason);
    },
  );
}

/** The queue on a server's app: its routes, and at shutdown what is still open ends cancelled, recorded. */
export function registerActionQueue(
  app: FastifyInstance,
  options: { live: LiveSessions } & Omit<ConstructorParameters<typeof ActionQueue>[0], "live"> & {
      limits?: Partial<ActionQueueLimits>;
    },
): ActionQueue {
  const queue = new ActionQueue(options);
  actionRoutes(app, queue);
  // registered before the sessions' hook runs (hooks run in order): the queue stops before sessions close
  app.addHook("onClose", () => queue.close());
  return queue;
}

function person(request: FastifyRequest): AuthenticatedPrincipal {
  const principal = principalOf(request);
  if (principal.kind !== "person") {
    throw new CustodyError("ERR_ACCESS_DENIED", "actions are queued by people, not devices");
  }
  return principal;
}

function idOf(request: FastifyRequest): string {
  return (request.params as { id: string }).id;
}
