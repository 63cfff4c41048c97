import { runCli } from "./cli.js";
import { installProcessFailureHandlers } from "./failure.js";

// The CLI's process: what `custody` runs, from the bundle built of this file (see bin.ts).
installProcessFailureHandlers();
process.exitCode = await runCli(process.argv.slice(2));
