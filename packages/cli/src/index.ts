export type { CliIo } from "./cli.js";
export { cliVersion, runCli } from "./cli.js";
export type { CommandContext, CommandSpec, OptionValue, ProgressLine } from "./command.js";
export { EXIT, EXIT_CODE_BY_ERROR, EXIT_MEANINGS, exitCodeFor } from "./exit-codes.js";
export { formatBytes } from "./progress.js";
export { formatTable } from "./table.js";
