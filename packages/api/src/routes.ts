import type { z } from "zod";
import * as dv from "./devices.js";
import * as hl from "./hashlists.js";
import * as lb from "./library.js";
import * as rq from "./requests.js";
import * as rs from "./responses.js";

/** How much body a route takes: none, a small JSON document, a larger JSON document, or a streamed upload. */
export type BodyLimitClass = "empty" | "small-json" | "json" | "large-json" | "upload";

/** The body size of each class, in bytes (the upload's is the server's `maxUploadBytes`). */
export const BODY_LIMIT_BYTES: Readonly<Record<Exclude<BodyLimitClass, "upload">, number>> = {
  empty: 1024,
  "small-json": 16 * 1024,
  json: 64 * 1024,
  "large-json": 4 * 1024 * 1024,
};

export interface RouteSpec {
  /** The VaultApi method (or the unauthenticated endpoint) the route serves; also the OpenAPI operationId. */
  operation: string;
  method: "GET" | "POST" | "DELETE";
  /** Fastify-style path (`:name` parameters) under the base path. */
  path: string;
  summary: string;
  params?: z.ZodType;
  query?: z.ZodType;
  /** A JSON body schema; `octet-stream` for the raw upload. */
  body?: z.ZodType | "octet-stream";
  bodyLimit: BodyLimitClass;
  status: number;
  /** A JSON response schema; `octet-stream` for the item's bytes. */
  response: z.ZodType | "octet-stream";
  /** Unauthenticated routes say nothing about the vault. */
  authenticated: boolean;
}

export const API_BASE_PATH = "/v1";

const item = { params: rq.itemParamsSchema, query: rq.itemQuerySchema } as const;
const empty = { body: rq.emptyBodySchema, bodyLimit: "empty" } as const;
const get = { method: "GET", bodyLimit: "empty", authenticated: true, status: 200 } as const;
const post = { method: "POST", authenticated: true, status: 200 } as const;

/** Every route of the server, keyed by the VaultApi method it serves. */
export const ROUTES = {
  ingest: {
    ...post,
    operation: "ingest",
    path: "/v1/items",
    summary: "Stores the request body (raw bytes, streamed) as an item of the case",
    query: rq.ingestQuerySchema,
    body: "octet-stream",
    bodyLimit: "upload",
    status: 201,
    response: rs.evidenceItemSchema,
  },
  list: {
    ...get,
    operation: "list",
    path: "/v1/items",
    summary: "Items the caller may list, one page at a time",
    query: rq.listQuerySchema,
    response: rs.listPageSchema,
  },
  show: {
    ...get,
    ...item,
    operation: "show",
    path: "/v1/items/:id",
    summary: "One item",
    response: rs.evidenceItemSchema,
  },
  read: {
    ...get,
    ...item,
    operation: "read",
    path: "/v1/items/:id/content",
    summary: "The item's bytes, streamed; the stream is cut if they do not hash to the item id",
    response: "octet-stream",
  },
  hold: {
    ...post,
    ...item,
    ...empty,
    operation: "hold",
    path: "/v1/items/:id/hold",
    summary: "Sets a legal hold",
    response: rs.evidenceItemSchema,
  },
  extendRetention: {
    ...post,
    ...item,
    operation: "extendRetention",
    path: "/v1/items/:id/retention",
    summary: "Extends the retention (never shortens it)",
    body: rq.retentionBodySchema,
    bodyLimit: "json",
    response: rs.evidenceItemSchema,
  },
  release: {
    ...post,
    ...item,
    ...empty,
    operation: "release",
    path: "/v1/items/:id/release",
    summary: "Releases a legal hold (pending the other custodian's approval with two custodians)",
    response: rs.approvalOutcomeSchema,
  },
  purge: {
    ...post,
    ...item,
    ...empty,
    operation: "purge",
    path: "/v1/items/:id/purge",
    summary: "Deletes an item after its retention (pending the other custodian's approval with two)",
    response: rs.approvalOutcomeSchema,
  },
  approve: {
    ...post,
    ...empty,
    operation: "approve",
    path: "/v1/approvals/:requestId",
    summary: "Approves another custodian's pending request",
    params: rq.approvalParamsSchema,
    response: rs.approvalOutcomeSchema,
  },
  refuse: {
    ...post,
    ...empty,
    operation: "refuse",
    path: "/v1/approvals/:requestId/refusal",
    summary: "Refuses a pending request (its proposer may withdraw it): nothing it names happens",
    params: rq.approvalParamsSchema,
    response: rs.approvalOutcomeSchema,
  },
  checkItem: {
    ...post,
    ...item,
    ...empty,
    operation: "checkItem",
    path: "/v1/items/:id/check",
    summary: "Reconciles one item's bytes, record and protection with the log",
    response: rs.checkResultsSchema,
  },
  check: {
    ...post,
    ...empty,
    operation: "check",
    path: "/v1/check",
    summary: "Reconciles the whole store with the log, both ways",
    response: rs.checkResultsSchema,
  },
  report: {
    ...get,
    ...item,
    operation: "report",
    path: "/v1/items/:id/report",
    summary: "The item's signed custody report",
    response: rs.signedCustodyReportSchema,
  },
  grant: {
    ...post,
    operation: "grant",
    path: "/v1/access/grants",
    summary: "Grants a role in a scope",
    body: rq.grantRequestSchema,
    bodyLimit: "json",
    response: rs.approvalOutcomeSchema,
  },
  revoke: {
    ...post,
    operation: "revoke",
    path: "/v1/access/revocations",
    summary: "Revokes a grant",
    body: rq.grantRequestSchema,
    bodyLimit: "json",
    response: rs.approvalOutcomeSchema,
  },
  listAccess: {
    ...get,
    operation: "listAccess",
    path: "/v1/access",
    summary: "The access policy",
    response: rs.accessListingSchema,
  },
  issueIdentity: {
    ...post,
    operation: "issueIdentity",
    path: "/v1/identities",
    summary: "Issues a login identity (certificate and key, returned once)",
    body: rq.issueIdentityBodySchema,
    bodyLimit: "json",
    status: 201,
    response: rs.identityIssueSchema,
  },
  revokeIdentity: {
    ...get,
    method: "DELETE",
    operation: "revokeIdentity",
    path: "/v1/identities/:name",
    summary: "Revokes every identity issued to a name",
    params: rq.identityParamsSchema,
    response: rs.identityRevocationSchema,
  },
  whoami: {
    ...get,
    operation: "whoami",
    path: "/v1/whoami",
    summary: "The caller",
    response: rs.whoAmISchema,
  },
  verifyAudit: {
    ...post,
    operation: "verifyAudit",
    path: "/v1/audit/verify",
    summary: "Verifies the whole audit log (and that it still holds the given checkpoints)",
    body: rq.verifyAuditBodySchema,
    bodyLimit: "large-json",
    response: rs.auditVerifyReportSchema,
  },
  showAudit: {
    ...get,
    operation: "showAudit",
    path: "/v1/audit",
    summary: "Audit records from `since`",
    query: rq.showAuditQuerySchema,
    response: rs.auditRecordsSchema,
  },
  proveAudit: {
    ...get,
    operation: "proveAudit",
    path: "/v1/audit/proofs/:seq",
    summary: "An inclusion proof of one record under the latest checkpoint",
    params: rq.proofParamsSchema,
    response: rs.inclusionProofBundleSchema,
  },
  checkpoint: {
    ...post,
    ...empty,
    operation: "checkpoint",
    path: "/v1/audit/checkpoints",
    summary: "Signs a checkpoint now",
    status: 201,
    response: rs.signedCheckpointJsonSchema,
  },
  rotateSigner: {
    ...post,
    ...empty,
    operation: "rotateSigner",
    path: "/v1/keys/rotations",
    summary: "Issues a new vault signer",
    status: 201,
    response: rs.signerRotationSchema,
  },
  createEnrollmentToken: {
    ...post,
    operation: "createEnrollmentToken",
    path: "/v1/enrollment-tokens",
    summary: "Makes an enrollment token for devices (shown once; the vault keeps its hash)",
    body: dv.enrollmentTokenBodySchema,
    bodyLimit: "json",
    status: 201,
    response: dv.enrollmentTokenSchema,
  },
  enroll: {
    ...post,
    operation: "enroll",
    path: "/v1/enroll",
    summary: "Enrolls a device: the token authorizes it, the certificate is issued for the request's key",
    body: dv.enrollBodySchema,
    bodyLimit: "small-json",
    status: 201,
    response: dv.enrollmentSchema,
    authenticated: false,
  },
  listDevices: {
    ...get,
    operation: "listDevices",
    path: "/v1/devices",
    summary: "Enrolled devices the caller may read, online or not",
    response: dv.deviceRecordsSchema,
  },
  showDevice: {
    ...get,
    operation: "showDevice",
    path: "/v1/devices/:id",
    summary: "One device",
    params: dv.deviceParamsSchema,
    response: dv.deviceRecordSchema,
  },
  approveDevice: {
    ...post,
    ...empty,
    operation: "approveDevice",
    path: "/v1/devices/:id/approve",
    summary: "Lifts a device's quarantine",
    params: dv.deviceParamsSchema,
    response: dv.deviceRecordSchema,
  },
  revokeDevice: {
    ...get,
    method: "DELETE",
    operation: "revokeDevice",
    path: "/v1/devices/:id",
    summary: "Revokes a device's certificates; its live connection is cut",
    params: dv.deviceParamsSchema,
    response: dv.deviceRecordSchema,
  },
  liveResponse: {
    ...get,
    operation: "liveResponse",
    path: "/v1/settings/live-response",
    summary: "Whether live response is on",
    response: dv.liveResponseSettingSchema,
  },
  setLiveResponse: {
    ...post,
    operation: "setLiveResponse",
    path: "/v1/settings/live-response",
    summary: "Turns live response on or off (custodians)",
    body: dv.liveResponseBodySchema,
    bodyLimit: "json",
    response: dv.liveResponseSettingSchema,
  },
  listLibrary: {
    ...get,
    operation: "listLibrary",
    path: "/v1/library",
    summary: "The live-response library's files (their current versions)",
    response: lb.libraryFilesSchema,
  },
  uploadLibrary: {
    ...post,
    operation: "uploadLibrary",
    path: "/v1/library",
    summary: "Uploads a library file, or a new version with overwrite; a signature is verified first",
    body: lb.libraryUploadBodySchema,
    bodyLimit: "large-json",
    status: 201,
    response: lb.libraryFileSchema,
  },
  removeLibrary: {
    ...get,
    method: "DELETE",
    operation: "removeLibrary",
    path: "/v1/library/:name",
    summary: "Takes a name out of the library; its versions stay items of the library case",
    params: lb.libraryParamsSchema,
    response: lb.libraryFileSchema,
  },
  unsignedScripts: {
    ...get,
    operation: "unsignedScripts",
    path: "/v1/settings/unsigned-scripts",
    summary: "Whether unsigned library scripts may run",
    response: lb.unsignedScriptsSettingSchema,
  },
  setUnsignedScripts: {
    ...post,
    operation: "setUnsignedScripts",
    path: "/v1/settings/unsigned-scripts",
    summary: "Allows or refuses unsigned library scripts (custodians)",
    body: lb.unsignedScriptsBodySchema,
    bodyLimit: "json",
    response: lb.unsignedScriptsSettingSchema,
  },
  // the hash lists (known-bad, known-good) that analyze matches against
  listHashes: {
    ...get,
    operation: "listHashes",
    path: "/v1/hashlists",
    summary: "The entries of the hash lists (one list with ?list=)",
    query: hl.hashListQuerySchema,
    response: hl.hashEntriesSchema,
  },
  addHash: {
    ...post,
    operation: "addHash",
    path: "/v1/hashlists/:list",
    summary: "Adds a sha256 to a hash list (hashlist.manage)",
    params: hl.hashListParamsSchema,
    body: hl.hashAddBodySchema,
    bodyLimit: "small-json",
    status: 201,
    response: hl.hashEntrySchema,
  },
  removeHash: {
    ...get,
    method: "DELETE",
    operation: "removeHash",
    path: "/v1/hashlists/:list/:digest",
    summary: "Removes a sha256 from a hash list (hashlist.manage)",
    params: hl.hashEntryParamsSchema,
    response: hl.hashEntrySchema,
  },
} as const satisfies Record<string, RouteSpec>;

/** Unauthenticated operational endpoints: they say nothing about the vault. */
export const OPERATIONAL_ROUTES = {
  healthz: { path: "/healthz", response: rs.healthSchema },
  readyz: { path: "/readyz", response: rs.healthSchema },
  openapi: { path: "/openapi.json" },
} as const;

export type RouteName = keyof typeof ROUTES;

/** The JSON a route answers, as its response schema types it (`unknown` for a byte stream). */
export type ResponseOf<R extends { response: z.ZodType | "octet-stream" }> = R["response"] extends z.ZodType
  ? z.infer<R["response"]>
  : unknown;

/** A route's path with its parameters filled in (each one URL-encoded). */
export function routePath(path: string, params: Record<string, string | number> = {}): string {
  return path.replace(/:([A-Za-z]+)/g, (_match, name: string) => {
    const value = params[name];
    if (value === undefined) throw new TypeError(`missing path parameter ${name}`);
    return encodeURIComponent(String(value));
  });
}
