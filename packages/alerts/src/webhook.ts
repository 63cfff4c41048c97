import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { type Clock, silentLogger, systemClock } from "@custody/core";
import { z } from "zod";
import { type Alert, severityRank } from "./alert.js";
import { deliverySchema, parseOptions, type SinkRuntime, timeoutMsSchema } from "./options.js";
import { assertWebhookSecret, SIGNATURE_HEADER, signWebhookBody, type WebhookSecret } from "./signature.js";
import type { AlertSink } from "./sink.js";
import { type AttemptResult, DeliveryWorker } from "./worker.js";

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);

function parseUrl(text: string): URL | undefined {
  return URL.canParse(text) ? new URL(text) : undefined;
}

/** https, or plain http to this machine only (alerts name people and items); no credentials in the URL. */
const webhookUrlSchema = z
  .url()
  .refine((text) => {
    const url = parseUrl(text);
    return url?.protocol === "https:" || (url?.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname));
  }, "the URL must be https (plain http is allowed to 127.0.0.1, [::1] and localhost only)")
  .refine((text) => {
    const url = parseUrl(text);
    return url?.username === "" && url.password === "";
  }, "the URL must not carry credentials (the HMAC secret authenticates the sender)");

export const webhookOptionsSchema = z.strictObject({
  url: webhookUrlSchema,
  timeoutMs: timeoutMsSchema.default(10_000),
  ...deliverySchema,
  maxBodyBytes: z.number().int().min(1_024).max(1_048_576).default(65_536),
});

export type WebhookSinkOptions = z.input<typeof webhookOptionsSchema> &
  SinkRuntime & {
    secret: WebhookSecret;
    /** PEM CA certificate(s) the receiver's certificate must chain to (the system's otherwise). */
    ca?: string | string[];
    clock?: Clock;
  };

interface Delivery {
  id: string;
  body: string;
  rank: number;
}

/**
 * POSTs each alert as JSON, signed with HMAC-SHA256 (see SIGNATURE_HEADER), one at a time in order;
 * 5xx, 408, 429, timeouts and network errors are retried with back-off, other answers give up.
 */
export function createWebhookSink(options: WebhookSinkOptions): AlertSink {
  const { secret, ca, clock = systemClock, logger = silentLogger, random = Math.random, ...rest } = options;
  const settings = parseOptions(webhookOptionsSchema, rest, "webhook sink options");
  assertWebhookSecret(secret);
  const url = new URL(settings.url);
  // One kept-alive connection, since deliveries go one at a time: no handshake per alert.
  const agent = new (url.protocol === "https:" ? HttpsAgent : HttpAgent)({ keepAlive: true, maxSockets: 1 });
  const post = (delivery: Delivery, signal: AbortSignal) => {
    const timestamp = Math.floor(clock.now().getTime() / 1000);
    const headers = {
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(delivery.body)),
      "user-agent": "custody-alerts",
      "x-custody-alert-id": delivery.id,
      [SIGNATURE_HEADER]: signWebhookBody(delivery.body, secret, timestamp),
    };
    const timeout = AbortSignal.timeout(settings.timeoutMs);
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const request = send(url, {
      method: "POST",
      headers,
      agent,
      signal: AbortSignal.any([signal, timeout]),
      ...(ca === undefined ? {} : { ca }),
    });
    return answer(request, delivery.body, timeout);
  };
  const worker = new DeliveryWorker<Delivery>({
    ...settings,
    name: `webhook ${url.origin}`,
    logger,
    random,
    rank: (delivery) => delivery.rank,
    attempt: post,
  });
  return {
    name: "webhook",
    send(alert: Alert) {
      const body = JSON.stringify(alert);
      if (Buffer.byteLength(body) > settings.maxBodyBytes) {
        worker.drop("an alert larger than maxBodyBytes was not sent");
        return;
      }
      worker.enqueue({ id: alert.id, body, rank: severityRank(alert.severity) });
    },
    flush: () => worker.flush(),
    async close(closeOptions) {
      await worker.close(closeOptions?.timeoutMs ?? 5_000);
      agent.destroy();
    },
    stats: () => worker.stats(),
  };
}

/** Reading more of an answer than this is pointless: the status says it all. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * Sends the body and classifies the answer by its status. The answer's body is read and dropped, so the
 * connection can carry the next alert, but only up to MAX_ANSWER_BYTES: a longer (or endless) one is cut.
 */
function answer(request: ClientRequest, body: string, timeout: AbortSignal): Promise<AttemptResult> {
  return new Promise((resolve) => {
    request.once("response", (response: IncomingMessage) => {
      const result = classify(response.statusCode ?? 0);
      let bytes = 0;
      response.on("data", (chunk: Buffer) => {
        bytes += chunk.byteLength;
        if (bytes > MAX_ANSWER_BYTES) response.destroy();
      });
      response.on("error", () => {});
      response.once("end", () => resolve(result));
      response.once("close", () => resolve(result));
    });
    request.once("error", (error) => {
      const reason = timeout.aborted ? "the receiver did not answer in time" : error.message;
      resolve({ kind: "retry", error: reason });
    });
    request.end(body);
  });
}

function classify(status: number): AttemptResult {
  if (status >= 200 && status < 300) return { kind: "delivered" };
  const error = `the receiver answered HTTP ${status}`;
  if (status >= 500 || status === 408 || status === 429) return { kind: "retry", error };
  return { kind: "rejected", error };
}
