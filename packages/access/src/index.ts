export type { Action } from "./actions.js";
export { ACTIONS, actionSchema, isAction, POLICY_ADMIN_ACTIONS } from "./actions.js";
export type { AuthorizeOptions, Decision, Denial } from "./authorize.js";
export { authorize, authorizeForAnyDevice, describeGrant } from "./authorize.js";
export { MAX_POLICY_FILE_BYTES } from "./files.js";
export type { PolicyHistoryReport } from "./history.js";
export { verifyPolicyHistory } from "./history.js";
export type { InitialPolicyOptions } from "./policy.js";
export {
  changeResource,
  createInitialPolicy,
  custodiansOf,
  policyHash,
  requiredAction,
  requiresApproval,
} from "./policy.js";
export type { RoleDefinition, ScopeKind } from "./roles.js";
export { CUSTODIAN_ROLE, DEFAULT_ROLES, roleDefinitionSchema, roleNameSchema, SCOPE_KINDS } from "./roles.js";
export type {
  AccessPolicy,
  Actor,
  ApprovableChange,
  Grant,
  OperationChange,
  PendingApproval,
  PolicyChange,
  PolicyEvent,
  Principal,
} from "./schema.js";
export {
  accessPolicySchema,
  approvableChangeSchema,
  grantSchema,
  operationChangeSchema,
  POLICY_FORMAT,
  pendingApprovalSchema,
  policyChangeSchema,
  principalIdSchema,
  principalSchema,
  timestampSchema,
} from "./schema.js";
export type { Resource, ResourceKind, Scope } from "./scope.js";
export { RESOURCE_KINDS, resourceSchema, scopeCovers, scopeIdSchema, scopeSchema } from "./scope.js";
export type { PolicyVersionStorage } from "./storage.js";
export { DirectoryPolicyStorage } from "./storage.js";
export { AccessPolicyStore, DEFAULT_APPROVAL_TTL_MS } from "./store.js";
export type {
  AccessPolicyStoreOptions,
  ApprovalResult,
  InitOptions,
  PolicyChangeResult,
  WriteOptions,
} from "./store-types.js";
export { MAX_CUSTODIANS, parsePolicy } from "./validate.js";
