import { type RouteSpec, routePath } from "@custody/api";
import { CustodyError } from "@custody/core";
import { readLimited } from "./problem.js";
import type { Call, Transport } from "./transport.js";
import type { ItemSelector } from "./types.js";

/** A JSON answer may be a whole audit log; past this the client stops reading. */
const JSON_LIMIT_BYTES = 512 * 1024 * 1024;

export interface CallInput {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  abortSignal?: AbortSignal;
}

/**
 * One JSON route: the request built from the route table, the answer checked against the route's
 * response schema. The value returned is the server's JSON as sent (the schema only vouches for it), so
 * it prints exactly as the local vault's value does.
 */
export async function callRoute(transport: Transport, route: RouteSpec, input: CallInput): Promise<unknown> {
  const call: Call = {
    method: route.method,
    path: routePath(route.path, input.params ?? {}),
    ...(input.query === undefined ? {} : { query: new URLSearchParams(input.query) }),
    ...(input.abortSignal === undefined ? {} : { abortSignal: input.abortSignal }),
    ...jsonBody(input.body),
  };
  const response = await transport.send(call);
  const text = await readLimited(response, JSON_LIMIT_BYTES);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw unexpected(route, "it is not JSON");
  }
  if (typeof route.response === "string") return value;
  const checked = route.response.safeParse(value);
  if (!checked.success) throw unexpected(route, checked.error.issues[0]?.message ?? "it does not match");
  return value;
}

function jsonBody(body: unknown): Pick<Call, "body" | "headers"> {
  if (body === undefined) return {};
  const text = JSON.stringify(body);
  return { body: () => text, headers: { "content-type": "application/json" } };
}

function unexpected(route: RouteSpec, why: string): CustodyError {
  return new CustodyError(
    "ERR_BACKEND_UNAVAILABLE",
    `the server's answer to ${route.operation} is not what the API describes: ${why}`,
    { details: { operation: route.operation } },
  );
}

/** The path parameter and `?case=` of an item; ids are lower-cased as the local vault reads them. */
export function itemInput(selector: ItemSelector): CallInput {
  const ref = typeof selector === "string" ? { id: selector } : selector;
  return {
    params: { id: ref.id.trim().toLowerCase() },
    ...(ref.caseId === undefined ? {} : { query: { case: ref.caseId } }),
  };
}
