import { createBrowserClient } from "@custody/client/browser";

/** The API of the server that served this page, on its origin, as the analyst's certificate. */
export const api = createBrowserClient();

/** What a page shows of a failure: the HTTP status, the stable code and the server's words. */
export interface Failure {
  status: number;
  code: string;
  message: string;
  /** Refused by the access policy (403) or not there for this principal (404): not a fault. */
  denied: boolean;
  /** The problem's details (e.g. the session an analyst already holds). */
  details?: Record<string, unknown>;
}

export function failureOf(error: unknown): Failure {
  const e = error as {
    code?: unknown;
    message?: unknown;
    details?: { status?: unknown } & Record<string, unknown>;
  };
  const status = typeof e?.details?.status === "number" ? e.details.status : 0;
  const code = typeof e?.code === "string" ? e.code : "ERR_INTERNAL";
  const message = typeof e?.message === "string" ? e.message : String(error);
  const denied = status === 403 || status === 404;
  return { status, code, message, denied, ...(e?.details === undefined ? {} : { details: e.details }) };
}
