import { createInterface } from "node:readline";
import type { LiveCommand, LiveCommandEvent, LiveSessionView } from "@custody/api";
import { CustodyError } from "@custody/core";
import type { VaultClientOptions } from "./client.js";
import { parseTlsIdentity } from "./identity.js";
import { readLimited } from "./problem.js";
import { type Call, Transport } from "./transport.js";

export type { LiveCommand, LiveCommandEvent, LiveSessionView } from "@custody/api";
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
  close(): void;
}

/** A line of events is small rows; past this the client stops reading. */
const EVENT_LINE_LIMIT = 8 * 1024 * 1024;
const JSON_LIMIT = 64 * 1024 * 1024;

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
  const json = async <T>(call: Call): Promise<T> => {
    const response = await transport.send(call);
    return JSON.parse(await readLimited(response, JSON_LIMIT)) as T;
  };
  const body = (value: unknown) => {
    const text = JSON.stringify(value);
    return { body: () => text, headers: { "content-type": "application/json" } };
  };
  const id = (value: string) => encodeURIComponent(value);
  return {
    openSession: (deviceId, caseId) =>
      json({ method: "POST", path: "/v1/sessions", ...body({ deviceId, caseId }) }),
    closeSession: (sessionId) => json({ method: "DELETE", path: `/v1/sessions/${id(sessionId)}` }),
    session: (sessionId) => json({ method: "GET", path: `/v1/sessions/${id(sessionId)}` }),
    submit: (sessionId, line) =>
      json({ method: "POST", path: `/v1/sessions/${id(sessionId)}/commands`, ...body({ line }) }),
    commandLog: (sessionId) => json({ method: "GET", path: `/v1/sessions/${id(sessionId)}/commands` }),
    command: (cmdId) => json({ method: "GET", path: `/v1/commands/${id(cmdId)}` }),
    events: (cmdId, eventOptions) =>
      events(transport, `/v1/commands/${id(cmdId)}/events`, eventOptions?.abortSignal),
    cancel: (cmdId, reason) =>
      json({
        method: "POST",
        path: `/v1/commands/${id(cmdId)}/cancel`,
        ...body(reason === undefined ? {} : { reason }),
      }),
    close: () => transport.close(),
  };
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
