import type { CommandSpec } from "../command.js";
import { collectCommand } from "./collect.js";
import { hashCommand } from "./hash.js";

/** Every `custody` command. One line per command module; keep the list sorted by command path. */
export const commands: readonly CommandSpec[] = [collectCommand, hashCommand];
