import type { CommandSpec } from "../command.js";
import { collectCommand } from "./collect.js";
import { hashCommand } from "./hash.js";
import { keysInitCommand, keysIssueCommand, keysRevokeCommand } from "./keys.js";
import { signCommand } from "./sign.js";
import { verifyCommand } from "./verify.js";

/** Every `custody` command. One line per command module; keep the list sorted by command path. */
export const commands: readonly CommandSpec[] = [
  collectCommand,
  hashCommand,
  keysInitCommand,
  keysIssueCommand,
  keysRevokeCommand,
  signCommand,
  verifyCommand,
];
