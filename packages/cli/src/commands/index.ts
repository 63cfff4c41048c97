import type { CommandSpec } from "../command.js";
import {
  accessApproveCommand,
  accessGrantCommand,
  accessIssueIdentityCommand,
  accessListCommand,
  accessRevokeCommand,
  accessRevokeIdentityCommand,
  accessWhoamiCommand,
} from "./access.js";
import { acquireCommand } from "./acquire.js";
import { acquireAzureVmCommand } from "./acquire-azure-vm.js";
import {
  actionsBatchCommand,
  actionsCancelCommand,
  actionsListCommand,
  actionsQueueCommand,
  actionsResultCommand,
  actionsShowCommand,
} from "./actions.js";
import { agentEnrollCommand, agentPolicyCommand, agentRunCommand } from "./agent.js";
import {
  auditAcceptTailCommand,
  auditCheckpointCommand,
  auditProveCommand,
  auditShowCommand,
  auditVerifyCommand,
  auditVerifyProofCommand,
} from "./audit.js";
import { checkCommand } from "./check.js";
import { collectCommand } from "./collect.js";
import {
  devicesApproveCommand,
  devicesEnrollTokenCommand,
  devicesListCommand,
  devicesRevokeCommand,
  devicesShowCommand,
} from "./devices.js";
import { ingestCommand, listCommand, showCommand } from "./evidence.js";
import { getCommand } from "./get.js";
import { hashCommand } from "./hash.js";
import { hashlistAddCommand, hashlistListCommand, hashlistRemoveCommand } from "./hashlist.js";
import { indexRebuildCommand } from "./index-rebuild.js";
import { initCommand } from "./init.js";
import { keysInitCommand, keysIssueCommand, keysRevokeCommand } from "./keys.js";
import { keysRotateCommand } from "./keys-rotate.js";
import { libraryListCommand, libraryRemoveCommand, libraryUploadCommand } from "./library.js";
import { liveConnectCommand, liveRunCommand } from "./live.js";
import { packageCommand } from "./package.js";
import { extractCommand } from "./package-verify.js";
import { holdCommand, purgeCommand, releaseCommand, retainCommand } from "./protect.js";
import { reportCommand, reportVerifyCommand } from "./report.js";
import { serveCommand } from "./serve.js";
import { settingsSetCommand, settingsShowCommand } from "./settings.js";
import { signCommand } from "./sign.js";
import { triageCommand } from "./triage.js";
import { timestampCommand, tsaAddCommand, tsaListCommand } from "./tsa.js";
import { verifyCommand } from "./verify.js";

/** Every `custody` command. One line per command module; keep the list sorted by command path. */
export const commands: readonly CommandSpec[] = [
  accessApproveCommand,
  accessGrantCommand,
  accessIssueIdentityCommand,
  accessListCommand,
  accessRevokeCommand,
  accessRevokeIdentityCommand,
  accessWhoamiCommand,
  acquireCommand,
  acquireAzureVmCommand,
  actionsBatchCommand,
  actionsCancelCommand,
  actionsListCommand,
  actionsQueueCommand,
  actionsResultCommand,
  actionsShowCommand,
  agentEnrollCommand,
  agentPolicyCommand,
  agentRunCommand,
  auditAcceptTailCommand,
  auditCheckpointCommand,
  auditProveCommand,
  auditShowCommand,
  auditVerifyCommand,
  auditVerifyProofCommand,
  checkCommand,
  collectCommand,
  devicesApproveCommand,
  devicesEnrollTokenCommand,
  devicesListCommand,
  devicesRevokeCommand,
  devicesShowCommand,
  extractCommand,
  getCommand,
  hashCommand,
  hashlistAddCommand,
  hashlistListCommand,
  hashlistRemoveCommand,
  holdCommand,
  indexRebuildCommand,
  ingestCommand,
  initCommand,
  keysInitCommand,
  keysIssueCommand,
  keysRevokeCommand,
  keysRotateCommand,
  libraryListCommand,
  libraryRemoveCommand,
  libraryUploadCommand,
  listCommand,
  liveConnectCommand,
  liveRunCommand,
  packageCommand,
  purgeCommand,
  releaseCommand,
  reportCommand,
  reportVerifyCommand,
  retainCommand,
  serveCommand,
  settingsSetCommand,
  settingsShowCommand,
  showCommand,
  signCommand,
  timestampCommand,
  triageCommand,
  tsaAddCommand,
  tsaListCommand,
  verifyCommand,
];
