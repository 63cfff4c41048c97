import type { IncomingMessage } from "node:http";
import { type RequestOptions, request } from "node:https";
import { Readable, type Writable } from "node:stream";
import { CustodyError, ERROR_CODES, type ErrorCode, toCustodyError } from "@custody/core";

const MAX_ANSWER_BYTES = 1024 * 1024;

export async function readLimited(response: IncomingMessage, limit = MAX_ANSWER_BYTES): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      response.destroy();
      throw new CustodyError("ERR_SIZE_LIMIT", `the server's answer exceeds ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The server's problem document as a CustodyError with its code, or ERR_BACKEND_UNAVAILABLE. */
export function problemError(status: number, text: string): CustodyError {
  let body: { code?: unknown; detail?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not a problem document: the status says it all
  }
  const code = (ERROR_CODES as readonly string[]).includes(String(body.code))
    ? (body.code as ErrorCode)
    : "ERR_BACKEND_UNAVAILABLE";
  const detail =
    typeof body.detail === "string" ? body.detail.slice(0, 2000) : `the server answered ${status}`;
  return new CustodyError(code, detail, { details: { status } });
}

export interface HttpsCall {
  url: URL;
  method: "POST" | "PUT" | "HEAD";
  tls: RequestOptions;
  headers: Record<string, string | number>;
  /** Text, a stream, or a writer that writes the body into the request (which then ends it). */
  body: string | Readable | ((request: Writable) => Promise<void>);
  signal?: AbortSignal;
}

/** One HTTPS request over TLS 1.3; resolves with the status and the (bounded) answer text. */
export function httpsCall(
  call: HttpsCall,
): Promise<{ status: number; text: string; headers: IncomingMessage["headers"] }> {
  return new Promise((resolve, reject) => {
    const req = request(call.url, {
      ...call.tls,
      method: call.method,
      headers: call.headers,
      minVersion: "TLSv1.3",
      agent: false,
      signal: call.signal,
    });
    req.on("error", (error) =>
      reject(toCustodyError(error, "ERR_BACKEND_UNAVAILABLE", `${call.method} ${call.url.pathname} failed`)),
    );
    req.on("response", (response) => {
      readLimited(response).then(
        (text) => resolve({ status: response.statusCode ?? 0, text, headers: response.headers }),
        reject,
      );
    });
    if (typeof call.body === "function") {
      call.body(req).then(
        () => req.end(),
        (error: unknown) => {
          // the device's own refusals keep their code; a write that failed is the connection's failure
          const failure = toCustodyError(
            error,
            "ERR_BACKEND_UNAVAILABLE",
            `${call.method} ${call.url.pathname} failed`,
          );
          req.destroy(failure);
          reject(failure);
        },
      );
      return;
    }
    const body = typeof call.body === "string" ? Readable.from([Buffer.from(call.body)]) : call.body;
    body.on("error", (error) => {
      req.destroy(error);
      reject(error);
    });
    body.pipe(req);
  });
}
