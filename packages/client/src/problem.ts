import type { IncomingMessage } from "node:http";
import { errorFromProblem, parseProblem } from "@custody/api";
import { CustodyError } from "@custody/core";

/** What an error body may hold before the client stops reading it (a problem document is small). */
const PROBLEM_LIMIT_BYTES = 64 * 1024;

/**
 * An RFC 9457 problem document as the `CustodyError` the vault threw on the server: same code, same
 * message, same details, so the CLI prints the same line and exits with the same code as locally.
 */
export async function problemError(response: IncomingMessage): Promise<CustodyError> {
  const status = response.statusCode ?? 0;
  const text = await readLimited(response, PROBLEM_LIMIT_BYTES).catch(() => "");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return errorFromProblem(parseProblem(body, status));
}

export function header(response: IncomingMessage, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The whole body as text, refused past `limit` bytes (a server cannot make the client buffer without end). */
export async function readLimited(response: IncomingMessage, limit: number): Promise<string> {
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
