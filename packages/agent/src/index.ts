export type {
  CommandInput,
  CommandRun,
  FileBody,
  Row,
  RunCommandOptions,
  Uploader,
} from "./commands/index.js";
export { runCommand } from "./commands/index.js";
export {
  agentPolicySchema,
  checkAgentPolicy,
  DEFAULT_AGENT_POLICY,
  DEFAULT_DENIED_PATHS,
  DEFAULT_MAX_GETFILE_BYTES,
  DEFAULT_POLICY_PATH,
  loadAgentPolicy,
  parseAgentPolicy,
  policyHash,
} from "./policy.js";
export type { AgentPolicy } from "./policy-types.js";
export * from "./protocol.js";
export type { RunAgentOptions } from "./runtime/agent.js";
export { runAgent } from "./runtime/agent.js";
export { backoffDelayMs } from "./runtime/backoff.js";
export type { AgentEvent } from "./runtime/connection.js";
export type { EnrollmentToken, EnrollOptions } from "./runtime/enroll.js";
export { createCsr, enrollAgent, parseEnrollmentToken } from "./runtime/enroll.js";
export type { AgentIdentity, AgentState } from "./runtime/state.js";
export { DEFAULT_AGENT_DIR, loadIdentity } from "./runtime/state.js";
export { AGENT_VERSION } from "./version.js";
