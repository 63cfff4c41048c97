#!/usr/bin/env node
import { runCli } from "./cli.js";
import { installProcessFailureHandlers } from "./failure.js";

installProcessFailureHandlers();
process.exitCode = await runCli(process.argv.slice(2));
