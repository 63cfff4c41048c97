import { createInterface } from "node:readline";
import {
  ACTION_ROUTES,
  type ActionState,
  type ActionView,
  LIVE_ROUTES,
  type LiveCommand,
  type LiveCommandEvent,
  type LiveSessionView,
  ROUTES,
  type RouteSpec,
  routePath,
} from "@custody/api";
import { CustodyError } from "@custody/core";
import type { VaultClientOptions } from "./client.js";
import { parseTlsIdentity } from "./identity.js";
import { type CallInput, callRoute } from "./route-call.js";
import { Transport } from "./transport.js";
import type { LibraryFile } from "./types.js";

export type {
  ActionState,
  ActionStep,
  ActionView,
  LiveCommand,
  LiveCommandEvent,
  LiveSessionView,
} from "@custody/api";
/** How a command stands in the log: queued, running, then completed, failed, cancelled or timed-out. */
export type LiveCommandStatus = LiveCommand["status"];

/** Live-response sessions on a server, as the console uses them. */
export interface LiveClient {
  openSession(deviceId: string, caseId: string): Promise<LiveSessionView>;
  closeSession(sessionId: string): Promise<LiveSessionView>;
  session(sessionId: string): Promise<LiveSessionView>;
  submit(sessionId: string, line: string): Promise<LiveCommand>;
  commandLog(sessionId: string): Promise<LiveCommand[]>;
  command(cmdId: string): Promise<LiveCommand>;
  /** The command's rows as they come, then its result (the stream ends after it). */
  events(cmdId: string, options?: { abortSignal?: AbortSignal }): AsyncIterable<LiveCommandEvent>;
  cancel(cmdId: string, reason?: string): Promise<LiveCommand>;
  /** The live-response library (the console's `library`). */
  library(): Promise<LibraryFile[]>;
  /** Queues one device command for a device, online or not (`expiresInMs`: the server's 3 days by default). */
  queueAction(request: QueueActionRequest): Promise<ActionView>;
  /** Queues a batch of putfile, run and getfile lines, run in order, stopping at the first failure. */
  queueBatch(request: QueueBatchRequest): Promise<ActionView>;
  /** The caller's queued actions, oldest first. */
  actions(filter?: ActionFilter): Promise<ActionView[]>;
  action(actionId: string): Promise<ActionView>;
  cancelAction(actionId: string, reason?: string): Promise<ActionView>;
  close(): void;
}

export interface QueueActionRequest {
  deviceId: string;
  caseId: string;
  line: string;
  expiresInMs?: number;
}

export interface QueueBatchRequest {
  deviceId: string;
  caseId: string;
  steps: readonly string[];
  expiresInMs?: number;
}

export interface ActionFilter {
  deviceId?: string;
  caseId?: string;
  state?: ActionState;
}

/** A line of events is small rows; past this the client stops reading. */
const EVENT_LINE_LIMIT = 8 * 1024 * 1024;

export function createLiveClient(options: VaultClientOptions): LiveClient {
  const identity = parseTlsIdentity(options.identityPem, options.passphrase);
  const transport = new Transport({
    baseUrl: options.baseUrl,
    identity: options.caPem === undefined ? identity : { ...identity, trustAnchorsPem: [options.caPem] },
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
    // a command is not repeated behind the analyst's back
    retries: 0,
    ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
    ...(options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal }),
  });
  // each JSON route is built from the route table and its answer checked against its schema
  const call = <T>(route: RouteSpec, input: CallInput) => callRoute(transport, route, input) as Promise<T>;
  const params = (id: string) => ({ params: { id } });
  return {
    openSession: (deviceId, caseId) => call(LIVE_ROUTES.openSession, { body: { deviceId, caseId } }),
    closeSession: (sessionId) => call(LIVE_ROUTES.closeSession, params(sessionId)),
    session: (sessionId) => call(LIVE_ROUTES.showSession, params(sessionId)),
    submit: (sessionId, line) => call(LIVE_ROUTES.submitCommand, { ...params(sessionId), body: { line } }),
    commandLog: (sessionId) => call(LIVE_ROUTES.commandLog, params(sessionId)),
    command: (cmdId) => call(LIVE_ROUTES.showCommand, params(cmdId)),
    events: (cmdId, eventOptions) =>
      events(transport, routePath(LIVE_ROUTES.commandEvents.path, { id: cmdId }), eventOptions?.abortSignal),
    cancel: (cmdId, reason) =>
      call(LIVE_ROUTES.cancelCommand, { ...params(cmdId), body: reason === undefined ? {} : { reason } }),
    library: () => call(ROUTES.listLibrary, {}),
    queueAction: (request) => call(ACTION_ROUTES.queueAction, { body: request }),
    queueBatch: ({ steps, ...rest }) =>
      call(ACTION_ROUTES.queueBatch, { body: { ...rest, steps: steps.map((line) => ({ line })) } }),
    actions: (filter) => call(ACTION_ROUTES.listActions, { query: actionQuery(filter) }),
    action: (actionId) => call(ACTION_ROUTES.showAction, params(actionId)),
    cancelAction: (actionId, reason) =>
      call(ACTION_ROUTES.cancelAction, { ...params(actionId), body: reason === undefined ? {} : { reason } }),
    close: () => transport.close(),
  };
}

function actionQuery(filter: ActionFilter | undefined): Record<string, string> {
  const query: Record<string, string> = {};
  if (filter?.deviceId !== undefined) query.device = filter.deviceId;
  if (filter?.caseId !== undefined) query.case = filter.caseId;
  if (filter?.state !== undefined) query.state = filter.state;
  return query;
}

async function* events(
  transport: Transport,
  path: string,
  abortSignal: AbortSignal | undefined,
): AsyncIterable<LiveCommandEvent> {
  const response = await transport.send({ method: "GET", path, abortSignal });
  const lines = createInterface({ input: response, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const line of lines) {
      if (line === "") continue;
      if (line.length > EVENT_LINE_LIMIT)
        throw new CustodyError("ERR_SIZE_LIMIT", "an event line is too long");
      const event = JSON.parse(line) as LiveCommandEvent;
      yield event;
      if (event.type === "result") return;
    }
  } finally {
    lines.close();
    response.destroy();
  }
  throw new CustodyError(
    "ERR_BACKEND_UNAVAILABLE",
    "the server ended the command's events before its result",
  );
}
