export type {
  ActionState,
  ActionStep,
  ActionView,
  QueueActionBody,
  QueueBatchBody,
} from "./actions.js";
export {
  ACTION_ROUTES,
  actionSchema,
  actionStateSchema,
  actionStepSchema,
  actionStepStateSchema,
  batchStepBodySchema,
  cancelActionBodySchema,
  listActionsQuerySchema,
  queueActionBodySchema,
  queueBatchBodySchema,
} from "./actions.js";
export {
  deviceFactsBodySchema,
  deviceIdSchema,
  deviceParamsSchema,
  deviceRecordSchema,
  deviceRecordsSchema,
  enrollBodySchema,
  enrollmentSchema,
  enrollmentTokenBodySchema,
  enrollmentTokenSchema,
  liveResponseBodySchema,
  liveResponseSettingSchema,
} from "./devices.js";
export {
  hashAddBodySchema,
  hashEntriesSchema,
  hashEntryParamsSchema,
  hashEntrySchema,
  hashListNameSchema,
  hashListParamsSchema,
  hashListQuerySchema,
} from "./hashlists.js";
export {
  libraryFileSchema,
  libraryFilesSchema,
  libraryNameSchema,
  libraryParamsSchema,
  libraryUploadBodySchema,
  unsignedScriptsBodySchema,
  unsignedScriptsSettingSchema,
} from "./library.js";
export type { LiveCommand, LiveCommandEvent, LiveRouteSpec, LiveSessionView } from "./live.js";
export {
  cancelBodySchema,
  commandBodySchema,
  LIVE_ROUTES,
  liveCommandEventSchema,
  liveCommandSchema,
  liveIdParamsSchema,
  liveSessionSchema,
  openSessionBodySchema,
} from "./live.js";
export { openApiDocument } from "./openapi.js";
export type { ProblemDetails } from "./problem.js";
export {
  errorFromProblem,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_TYPE_PREFIX,
  parseProblem,
  problemDetailsSchema,
  problemFromError,
} from "./problem.js";
export type { GrantRequestBody, IngestQuery, ListQuery } from "./requests.js";
export {
  approvalParamsSchema,
  approvalRequestIdSchema,
  caseIdSchema,
  emptyBodySchema,
  grantRequestSchema,
  ITEM_HEADER,
  identityNameSchema,
  identityParamsSchema,
  ingestQuerySchema,
  issueIdentityBodySchema,
  itemIdSchema,
  itemParamsSchema,
  itemQuerySchema,
  labelTextSchema,
  listQuerySchema,
  MAX_LIST_LIMIT,
  proofParamsSchema,
  REQUEST_ID_HEADER,
  retentionBodySchema,
  scopeSchema,
  showAuditQuerySchema,
  UPLOAD_DIGEST_HEADER,
  uploadNameSchema,
  verifyAuditBodySchema,
} from "./requests.js";
export type { ListPage, SignedCheckpointWire } from "./responses.js";
export {
  accessListingSchema,
  approvalOutcomeSchema,
  auditRecordSchema,
  auditRecordsSchema,
  auditVerifyReportSchema,
  checkpointSchema,
  checkResultSchema,
  checkResultsSchema,
  evidenceItemSchema,
  healthSchema,
  identityIssueSchema,
  identityRevocationSchema,
  inclusionProofBundleSchema,
  listedItemSchema,
  listPageSchema,
  signedCheckpointJsonSchema,
  signedCustodyReportSchema,
  signerRotationSchema,
  whoAmISchema,
} from "./responses.js";
export type { BodyLimitClass, ResponseOf, RouteName, RouteSpec } from "./routes.js";
export { API_BASE_PATH, BODY_LIMIT_BYTES, OPERATIONAL_ROUTES, ROUTES, routePath } from "./routes.js";
export { HTTP_STATUS_BY_CODE, httpStatusFor } from "./status.js";
