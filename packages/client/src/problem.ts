import type { IncomingMessage } from "node:http";
import { CustodyError, ERROR_CODES, type ErrorCode } from "@custody/core";

/** What a body may hold before the client stops reading it (an error body is never large). */
const PROBLEM_LIMIT_BYTES = 64 * 1024;

const KNOWN_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/** When the server names no known code: its status says as much as it can. */
const CODE_BY_STATUS: Record<number, ErrorCode> = {
  400: "ERR_INVALID_ARGUMENT",
  401: "ERR_IDENTITY_INVALID",
  403: "ERR_ACCESS_DENIED",
  404: "ERR_NOT_FOUND",
  409: "ERR_CONFLICT",
  413: "ERR_SIZE_LIMIT",
  422: "ERR_INTEGRITY_MISMATCH",
  429: "ERR_BACKEND_UNAVAILABLE",
  502: "ERR_BACKEND_UNAVAILABLE",
  503: "ERR_BACKEND_UNAVAILABLE",
  504: "ERR_BACKEND_UNAVAILABLE",
};

/**
 * An RFC 9457 problem document as the `CustodyError` the vault threw on the server: same code, same
 * message, same details, so the CLI prints the same line and exits with the same code as locally.
 */
export async function problemError(response: IncomingMessage): Promise<CustodyError> {
  const status = response.statusCode ?? 0;
  const requestId = header(response, "x-request-id");
  const text = await readLimited(response, PROBLEM_LIMIT_BYTES).catch(() => "");
  const problem = parseProblem(text);
  const code = problem.code ?? CODE_BY_STATUS[status] ?? "ERR_INTERNAL";
  const message = problem.detail ?? `the server answered ${status} ${response.statusMessage ?? ""}`.trim();
  return new CustodyError(code, message, {
    details: { ...problem.details, status, ...(requestId === undefined ? {} : { requestId }) },
  });
}

interface ParsedProblem {
  code?: ErrorCode;
  detail?: string;
  details?: Record<string, unknown>;
}

function parseProblem(text: string): ParsedProblem {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof value !== "object" || value === null) return {};
  const { code, detail, details } = value as Record<string, unknown>;
  return {
    ...(typeof code === "string" && KNOWN_CODES.has(code) ? { code: code as ErrorCode } : {}),
    ...(typeof detail === "string" ? { detail } : {}),
    ...(isRecord(details) ? { details } : {}),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
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
