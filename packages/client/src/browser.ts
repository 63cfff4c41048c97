import {
  errorFromProblem,
  LIVE_ROUTES,
  type LiveCommand,
  type LiveCommandEvent,
  type LiveRouteSpec,
  type LiveSessionView,
  liveCommandEventSchema,
  parseProblem,
  type ResponseOf,
  ROUTES,
  type RouteSpec,
  routePath,
} from "@custody/api";
import { CustodyError } from "@custody/core";

// The client for a page served by `custody serve`: fetch on the page's own origin, where the browser
// presents the analyst's certificate at the TLS handshake. No node: module is imported, so a bundler
// ships only this, the route table, its schemas and the error codes. Requests are built from the same
// route table as the Node client and answers checked against the same schemas.

export interface BrowserClientOptions {
  /** The server's origin; the page's own (`""`) by default. */
  baseUrl?: string;
  /** The fetch to use (the global one by default). */
  fetch?: typeof fetch;
}

export interface BrowserCallInput {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  abortSignal?: AbortSignal;
}

/** A route of the table (`ROUTES`) or of the live routes (`LIVE_ROUTES`). */
export type AnyRoute = RouteSpec | LiveRouteSpec;

export interface BrowserClient {
  /** One JSON route: its answer checked against the route's schema; a problem document is thrown. */
  call<R extends AnyRoute>(route: R, input?: BrowserCallInput): Promise<ResponseOf<R>>;
  /** An item's bytes, refused (ERR_DIGEST_MISMATCH) unless they hash (SHA-256) to the item's id. */
  readItem(id: string, options?: { caseId?: string; abortSignal?: AbortSignal }): Promise<Uint8Array>;
  /** A command's rows as they come, then its result (the stream ends after it). */
  events(cmdId: string, options?: { abortSignal?: AbortSignal }): AsyncIterable<LiveCommandEvent>;
  openSession(deviceId: string, caseId: string): Promise<LiveSessionView>;
  closeSession(sessionId: string): Promise<LiveSessionView>;
  session(sessionId: string): Promise<LiveSessionView>;
  submit(sessionId: string, line: string): Promise<LiveCommand>;
  commandLog(sessionId: string): Promise<LiveCommand[]>;
  command(cmdId: string): Promise<LiveCommand>;
  cancel(cmdId: string, reason?: string): Promise<LiveCommand>;
}

/** A problem document is small; a JSON answer may be a whole audit log. */
const PROBLEM_LIMIT_BYTES = 64 * 1024;
const EVENT_LINE_LIMIT = 8 * 1024 * 1024;

export function createBrowserClient(options: BrowserClientOptions = {}): BrowserClient {
  const base = options.baseUrl ?? "";
  const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));

  async function send(route: AnyRoute, input: BrowserCallInput): Promise<Response> {
    const query = input.query === undefined ? "" : `?${new URLSearchParams(input.query)}`;
    const url = `${base}${routePath(route.path, input.params ?? {})}${query}`;
    const init: RequestInit = {
      method: route.method,
      credentials: "same-origin",
      headers: { accept: "application/json" },
      ...(input.abortSignal === undefined ? {} : { signal: input.abortSignal }),
    };
    if (input.body !== undefined) {
      init.body = JSON.stringify(input.body);
      init.headers = { accept: "application/json", "content-type": "application/json" };
    }
    let response: Response;
    try {
      response = await doFetch(url, init);
    } catch (cause) {
      if (input.abortSignal?.aborted === true)
        throw new CustodyError("ERR_ABORTED", "the request was stopped");
      throw new CustodyError("ERR_BACKEND_UNAVAILABLE", `the server cannot be reached: ${String(cause)}`);
    }
    if (!response.ok) throw await problemOf(response);
    return response;
  }

  async function call<R extends AnyRoute>(route: R, input: BrowserCallInput = {}): Promise<ResponseOf<R>> {
    const response = await send(route, input);
    const value = await parseJson(route, await response.text());
    if (typeof route.response === "string") return value as ResponseOf<R>;
    const checked = route.response.safeParse(value);
    if (!checked.success) throw unexpected(route, checked.error.issues[0]?.message ?? "it does not match");
    return value as ResponseOf<R>;
  }

  const id = (value: string) => ({ params: { id: value } });
  return {
    call,
    readItem: async (itemId, readOptions) => {
      const response = await send(ROUTES.read, {
        ...id(itemId.trim().toLowerCase()),
        ...(readOptions?.caseId === undefined ? {} : { query: { case: readOptions.caseId } }),
        ...(readOptions?.abortSignal === undefined ? {} : { abortSignal: readOptions.abortSignal }),
      });
      const bytes = new Uint8Array(await response.arrayBuffer());
      const digest = await sha256Hex(bytes);
      if (digest !== itemId.trim().toLowerCase())
        throw new CustodyError("ERR_DIGEST_MISMATCH", `the bytes received hash to ${digest}, not ${itemId}`);
      return bytes;
    },
    events: (cmdId, eventOptions) =>
      events(send(LIVE_ROUTES.commandEvents, { ...id(cmdId), ...abortOf(eventOptions?.abortSignal) })),
    openSession: (deviceId, caseId) => call(LIVE_ROUTES.openSession, { body: { deviceId, caseId } }),
    closeSession: (sessionId) => call(LIVE_ROUTES.closeSession, id(sessionId)),
    session: (sessionId) => call(LIVE_ROUTES.showSession, id(sessionId)),
    submit: (sessionId, line) => call(LIVE_ROUTES.submitCommand, { ...id(sessionId), body: { line } }),
    commandLog: (sessionId) => call(LIVE_ROUTES.commandLog, id(sessionId)),
    command: (cmdId) => call(LIVE_ROUTES.showCommand, id(cmdId)),
    cancel: (cmdId, reason) =>
      call(LIVE_ROUTES.cancelCommand, { ...id(cmdId), body: reason === undefined ? {} : { reason } }),
  };
}

function abortOf(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal === undefined ? {} : { abortSignal: signal };
}

/** Lowercase hex SHA-256 with WebCrypto (a secure context: the console is only served over HTTPS). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(
    await globalThis.crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
  );
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function problemOf(response: Response): Promise<CustodyError> {
  const text = await response.text().catch(() => "");
  let body: unknown;
  try {
    body = text.length > PROBLEM_LIMIT_BYTES ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  return errorFromProblem(parseProblem(body, response.status));
}

async function parseJson(route: AnyRoute, text: string): Promise<unknown> {
  try {
    return JSON.parse(text);
  } catch {
    throw unexpected(route, "it is not JSON");
  }
}

function unexpected(route: AnyRoute, why: string): CustodyError {
  return new CustodyError(
    "ERR_BACKEND_UNAVAILABLE",
    `the server's answer to ${route.operation} is not what the API describes: ${why}`,
    { details: { operation: route.operation } },
  );
}

/** The NDJSON lines of `GET /v1/commands/:id/events`, each checked against the event schema. */
async function* events(pending: Promise<Response>): AsyncIterable<LiveCommandEvent> {
  const response = await pending;
  if (response.body === null) throw new CustodyError("ERR_BACKEND_UNAVAILABLE", "the events have no body");
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      if (buffered.length > EVENT_LINE_LIMIT && !buffered.includes("\n"))
        throw new CustodyError("ERR_SIZE_LIMIT", "an event line is too long");
      let newline = buffered.indexOf("\n");
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        newline = buffered.indexOf("\n");
        if (line === "") continue;
        const event = parseEvent(line);
        yield event;
        if (event.type === "result") return;
      }
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  throw new CustodyError(
    "ERR_BACKEND_UNAVAILABLE",
    "the server ended the command's events before its result",
  );
}

function parseEvent(line: string): LiveCommandEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new CustodyError("ERR_BACKEND_UNAVAILABLE", "an event line is not JSON");
  }
  const checked = liveCommandEventSchema.safeParse(value);
  if (!checked.success) throw new CustodyError("ERR_BACKEND_UNAVAILABLE", "an event line is not an event");
  return checked.data as LiveCommandEvent;
}
