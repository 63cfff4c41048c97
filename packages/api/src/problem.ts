import { CustodyError, ERROR_CODES, type ErrorCode, isCustodyError } from "@custody/core";
import { z } from "zod";
import { httpStatusFor } from "./status.js";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";
export const PROBLEM_TYPE_PREFIX = "urn:custody:error:";

/** RFC 9457 problem details, with custody's stable code and the server's request id. */
export const problemDetailsSchema = z.object({
  type: z.string().max(200),
  title: z.string().max(200),
  status: z.number().int().min(400).max(599),
  detail: z.string().max(4000),
  code: z.enum(ERROR_CODES),
  requestId: z.string().max(200),
  details: z.record(z.string(), z.unknown()).optional(),
});

export type ProblemDetails = z.infer<typeof problemDetailsSchema>;

const TITLES: Partial<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  422: "Unprocessable Content",
  423: "Locked",
  429: "Too Many Requests",
  499: "Client Closed Request",
  500: "Internal Server Error",
  503: "Service Unavailable",
  507: "Insufficient Storage",
};

/**
 * The problem a failure is answered with. Anything that is not a CustodyError is ERR_INTERNAL with a
 * generic detail: an unexpected error's message may hold paths or secrets and never leaves the server.
 */
export function problemFromError(error: unknown, requestId: string): ProblemDetails {
  const known = isCustodyError(error);
  const code: ErrorCode = known ? error.code : "ERR_INTERNAL";
  const status = httpStatusFor(code);
  const details = known && Object.keys(error.details).length > 0 ? jsonSafe(error.details) : undefined;
  return {
    type: `${PROBLEM_TYPE_PREFIX}${code}`,
    title: TITLES[status] ?? "Error",
    status,
    detail: known ? error.message.slice(0, 4000) : "internal server error",
    code,
    requestId,
    ...(details === undefined ? {} : { details }),
  };
}

/** The error a client rethrows for a problem, so it prints and exits as the local vault would. */
export function errorFromProblem(problem: ProblemDetails): CustodyError {
  return new CustodyError(problem.code, problem.detail, {
    details: { ...problem.details, requestId: problem.requestId, status: problem.status },
  });
}

/** Parses a problem body received from a server; anything else is ERR_BACKEND_UNAVAILABLE. */
export function parseProblem(body: unknown, status: number): ProblemDetails {
  const parsed = problemDetailsSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  return {
    type: `${PROBLEM_TYPE_PREFIX}ERR_BACKEND_UNAVAILABLE`,
    title: TITLES[status] ?? "Error",
    status: status >= 400 && status <= 599 ? status : 502,
    detail: `the server answered ${status} without a custody problem document`,
    code: "ERR_BACKEND_UNAVAILABLE",
    requestId: "",
  };
}

function jsonSafe(details: Record<string, unknown>): Record<string, unknown> | undefined {
  try {
    return JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
