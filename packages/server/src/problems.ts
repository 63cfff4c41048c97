import { PROBLEM_CONTENT_TYPE, problemFromError } from "@custody/api";
import { CustodyError, isCustodyError } from "@custody/core";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";

// Fastify's own refusals, as the stable codes a client branches on.
const FASTIFY_CODES: Record<string, () => CustodyError> = {
  FST_ERR_CTP_BODY_TOO_LARGE: () =>
    new CustodyError("ERR_SIZE_LIMIT", "the request body is larger than this route takes"),
  FST_ERR_CTP_INVALID_JSON_BODY: () =>
    new CustodyError("ERR_INVALID_ARGUMENT", "the request body is not valid JSON"),
  FST_ERR_CTP_EMPTY_JSON_BODY: () => new CustodyError("ERR_INVALID_ARGUMENT", "the JSON body is empty"),
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () =>
    new CustodyError("ERR_INVALID_ARGUMENT", "this route does not take that content-type"),
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () =>
    new CustodyError("ERR_INVALID_ARGUMENT", "the content-length does not match the body"),
  FST_ERR_CTP_INVALID_TYPE: () => new CustodyError("ERR_INVALID_ARGUMENT", "the content-type is not valid"),
};

/** Every failure leaves as RFC 9457 problem details with the stable code and the request id. */
export function toCustody(error: unknown): unknown {
  if (isCustodyError(error)) return error;
  const code = (error as FastifyError | undefined)?.code;
  const known = code === undefined ? undefined : FASTIFY_CODES[code];
  if (known !== undefined) return known();
  if ((error as { name?: string } | undefined)?.name === "SyntaxError") {
    return new CustodyError("ERR_INVALID_ARGUMENT", "the request body is not valid JSON");
  }
  return error;
}

export function sendProblem(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const custody = toCustody(error);
  const problem = problemFromError(custody, request.id);
  if (problem.status >= 500) request.log.error({ err: error }, "request failed");
  else request.log.info({ code: problem.code }, problem.detail);
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(problem);
}

export function notFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return sendProblem(
    new CustodyError("ERR_NOT_FOUND", `no route ${request.method} ${request.url}`),
    request,
    reply,
  );
}
