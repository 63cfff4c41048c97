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
  auditAcceptTailCommand,
  auditCheckpointCommand,
  auditProveCommand,
  auditShowCommand,
  auditVerifyCommand,
  auditVerifyProofCommand,
} from "./audit.js";
import { checkCommand } from "./check.js";
import { collectCommand } from "./collect.js";
import { ingestCommand, listCommand, showCommand } from "./evidence.js";
import { getCommand } from "./get.js";
import { hashCommand } from "./hash.js";
import { indexRebuildCommand } from "./index-rebuild.js";
import { initCommand } from "./init.js";
import { keysInitCommand, keysIssueCommand, keysRevokeCommand } from "./keys.js";
import { keysRotateCommand } from "./keys-rotate.js";
import { packageCommand } from "./package.js";
import { extractCommand } from "./package-verify.js";
import { holdCommand, purgeCommand, releaseCommand, retainCommand } from "./protect.js";
import { reportCommand, reportVerifyCommand } from "./report.js";
import { serveCommand } from "./serve.js";
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
  auditAcceptTailCommand,
  auditCheckpointCommand,
  auditProveCommand,
  auditShowCommand,
  auditVerifyCommand,
  auditVerifyProofCommand,
  checkCommand,
  collectCommand,
  extractCommand,
  getCommand,
  hashCommand,
  holdCommand,
  indexRebuildCommand,
  ingestCommand,
  initCommand,
  keysInitCommand,
  keysIssueCommand,
  keysRevokeCommand,
  keysRotateCommand,
  listCommand,
  packageCommand,
  purgeCommand,
  releaseCommand,
  reportCommand,
  reportVerifyCommand,
  retainCommand,
  serveCommand,
  showCommand,
  signCommand,
  timestampCommand,
  triageCommand,
  tsaAddCommand,
  tsaListCommand,
  verifyCommand,
];
