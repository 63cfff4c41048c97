import { z } from "zod";
import { ACTION_ROUTES } from "./actions.js";
import { LIVE_ROUTES } from "./live.js";
import { problemDetailsSchema } from "./problem.js";
import { REQUEST_ID_HEADER, UPLOAD_DIGEST_HEADER } from "./requests.js";
import { OPERATIONAL_ROUTES, ROUTES, type RouteSpec } from "./routes.js";

type JsonSchema = Record<string, unknown>;
type OpenApiDocument = Record<string, unknown> & { paths: Record<string, Record<string, unknown>> };

function jsonSchema(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as JsonSchema;
  return rest;
}

function parameters(schema: z.ZodType | undefined, where: "path" | "query"): JsonSchema[] {
  if (schema === undefined) return [];
  const object = jsonSchema(schema, "input") as {
    properties?: Record<string, JsonSchema>;
    required?: string[];
  };
  return Object.entries(object.properties ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === "path" || (object.required ?? []).includes(name),
    schema: property,
    ...(where === "query" && property.type === undefined ? { explode: true } : {}),
  }));
}

const PROBLEM = {
  description: "RFC 9457 problem details with the stable ERR_ code",
  content: { "application/problem+json": { schema: { $ref: "#/components/schemas/ProblemDetails" } } },
};

function requestBody(route: RouteSpec): JsonSchema | undefined {
  if (route.body === undefined) return undefined;
  if (route.body === "octet-stream") {
    return {
      required: true,
      content: {
        "application/octet-stream": {
          schema: { type: "string", contentMediaType: "application/octet-stream" },
        },
      },
    };
  }
  return { required: false, content: { "application/json": { schema: jsonSchema(route.body, "input") } } };
}

function successResponse(route: RouteSpec): JsonSchema {
  if (route.response === "octet-stream") {
    return {
      description: "the item's bytes",
      headers: {
        [UPLOAD_DIGEST_HEADER]: { schema: { type: "string" }, description: "the item's SHA-256 (its id)" },
        "x-custody-item": { schema: { type: "string" }, description: "the EvidenceItem JSON, base64url" },
      },
      content: {
        "application/octet-stream": {
          schema: { type: "string", contentMediaType: "application/octet-stream" },
        },
      },
    };
  }
  if (route.status === 204) {
    return {
      description: "no content: what is asked is in the headers",
      headers: {
        "upload-offset": { schema: { type: "integer" }, description: "the bytes the server holds staged" },
        "upload-complete": { schema: { type: "string" }, description: "?1 once the whole body arrived" },
      },
    };
  }
  return {
    description: "success",
    content: { "application/json": { schema: jsonSchema(route.response, "output") } },
  };
}

function operation(route: RouteSpec): JsonSchema {
  const body = requestBody(route);
  const params = [...parameters(route.params, "path"), ...parameters(route.query, "query")];
  return {
    operationId: route.operation,
    summary: route.summary,
    // a route that needs no client certificate (enrollment) says so
    ...(route.authenticated ? {} : { security: [] }),
    ...(params.length === 0 ? {} : { parameters: params }),
    ...(body === undefined ? {} : { requestBody: body }),
    responses: { [String(route.status)]: successResponse(route), default: PROBLEM },
  };
}

/** OpenAPI paths use `{name}` where the route table uses `:name`. */
function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z]+)/g, "{$1}");
}

/** The OpenAPI 3.1 document of the server's API, built from the route table (what /openapi.json serves). */
export function openApiDocument(version = "0.1.0"): OpenApiDocument {
  const paths: OpenApiDocument["paths"] = {};
  for (const route of [
    ...Object.values(ROUTES),
    ...Object.values(LIVE_ROUTES),
    ...Object.values(ACTION_ROUTES),
  ] as RouteSpec[]) {
    const path = openApiPath(route.path);
    paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation(route) };
  }
  for (const [name, route] of Object.entries(OPERATIONAL_ROUTES)) {
    const schema = "response" in route ? jsonSchema(route.response, "output") : { type: "object" };
    paths[route.path] = {
      get: {
        operationId: name,
        summary: name === "openapi" ? "This document" : "Liveness or readiness; says nothing about the vault",
        security: [],
        responses: { "200": { description: "ok", content: { "application/json": { schema } } } },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "custody vault server",
      version,
      description: `Mutual TLS: the client certificate is the caller's identity. Every response carries ${REQUEST_ID_HEADER}.`,
    },
    security: [{ mutualTLS: [] }],
    paths,
    components: {
      schemas: { ProblemDetails: jsonSchema(problemDetailsSchema, "output") },
      securitySchemes: {
        mutualTLS: { type: "mutualTLS", description: "a vault-issued person or device identity" },
      },
    },
  };
}
