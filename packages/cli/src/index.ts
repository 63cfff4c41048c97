export type { CliIo } from "./cli.js";
export { cliVersion, runCli } from "./cli.js";
export type { CommandContext, CommandSpec, OptionValue, ProgressLine } from "./command.js";
export { EXIT, exitCodeFor } from "./exit-codes.js";
export { formatBytes } from "./progress.js";
export { formatTable } from "./table.js";
