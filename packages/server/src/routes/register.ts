import { BODY_LIMIT_BYTES, type RouteSpec } from "@custody/api";
import { bindVault, type Vault, type VaultApi } from "@custody/vault";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import { principalOf } from "../auth.js";
import type { ServerLimits } from "../options.js";

/** What route handlers share: the vault, the limits, and hooks the server reacts to. */
export interface RouteContext {
  vault: Vault;
  limits: ServerLimits;
  uploads: { active: number };
  /** A revocation may have changed the CRL: TLS picks it up now rather than at the next check. */
  onRevocation(): void;
}

export interface Call<S extends RouteSpec> {
  api: VaultApi;
  params: S["params"] extends z.ZodType ? z.infer<S["params"]> : undefined;
  query: S["query"] extends z.ZodType ? z.infer<S["query"]> : undefined;
  body: S["body"] extends z.ZodType ? z.infer<S["body"]> : undefined;
  request: FastifyRequest;
  reply: FastifyReply;
}

/**
 * Registers one route of the table: its schemas validate params, query and body before the handler runs,
 * its body limit is the table's, and the handler works on the caller's VaultApi (bindVault with the
 * principal the TLS peer certificate gave). The handler's value is the JSON body.
 */
export function route<S extends RouteSpec>(
  app: FastifyInstance,
  ctx: RouteContext,
  spec: S,
  handler: (call: Call<S>) => Promise<unknown>,
): void {
  const limit = spec.bodyLimit === "upload" ? ctx.limits.maxUploadBytes : BODY_LIMIT_BYTES[spec.bodyLimit];
  app.route({
    method: spec.method,
    url: spec.path,
    bodyLimit: limit,
    config: { authenticated: spec.authenticated, upload: spec.bodyLimit === "upload" },
    schema: {
      ...(spec.params === undefined ? {} : { params: spec.params }),
      ...(spec.query === undefined ? {} : { querystring: spec.query }),
      ...(spec.body === undefined || spec.body === "octet-stream" ? {} : { body: spec.body }),
    },
    handler: async (request, reply) => {
      // policy changes need no gate here: the vault runs them one at a time under its access lock, and
      // decisions taken meanwhile use the version the log states (BoundPolicy)
      const api = bindVault(ctx.vault, principalOf(request));
      const call = {
        api,
        params: request.params,
        query: request.query,
        body: request.body,
        request,
        reply,
      } as Call<S>;
      const value = await handler(call);
      if (reply.sent) return reply;
      return reply.code(spec.status).send(value);
    },
  });
}

/** An item selector from `:id` and `?case=`. */
export function selector(params: { id: string }, query: { case?: string | undefined }) {
  return query.case === undefined ? { id: params.id } : { id: params.id, caseId: query.case };
}
