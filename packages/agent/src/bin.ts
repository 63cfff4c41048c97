#!/usr/bin/env node
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { isCustodyError, type Logger } from "@custody/core";
import { DEFAULT_AGENT_POLICY, DEFAULT_POLICY_PATH } from "./policy.js";
import { runAgent } from "./runtime/agent.js";
import { enrollAgent } from "./runtime/enroll.js";
import { DEFAULT_AGENT_DIR } from "./runtime/state.js";

// `custody-agent`: the agent alone, for devices. It loads this package and its few dependencies, not
// the whole `custody` CLI (vault, server, Azure), so it stays small while idle (docs/benchmarks.md).
const USAGE = `usage: custody-agent enroll --server https://HOST:PORT --token TOKEN [--dir DIR] [--ca FILE]
       custody-agent run [--dir DIR] [--policy FILE]
       custody-agent policy
The token may be given in $CUSTODY_ENROLL_TOKEN instead. DIR defaults to ${DEFAULT_AGENT_DIR}, the policy to ${DEFAULT_POLICY_PATH}. Same as \`custody agent ...\`.`;

const LEVELS = ["debug", "info", "warn", "error"] as const;

function jsonLogger(level: string): Logger {
  const min = Math.max(0, LEVELS.indexOf(level as (typeof LEVELS)[number]));
  const line = (at: (typeof LEVELS)[number]) => (object: object, message?: string) => {
    if (LEVELS.indexOf(at) < min) return;
    const err = (object as { err?: unknown }).err;
    const fields =
      err instanceof Error
        ? { ...object, err: { message: err.message, code: (err as { code?: unknown }).code } }
        : object;
    process.stdout.write(
      `${JSON.stringify({ level: at, time: new Date().toISOString(), name: "custody-agent", ...fields, msg: message })}\n`,
    );
  };
  return { debug: line("debug"), info: line("info"), warn: line("warn"), error: line("error") };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      server: { type: "string" },
      token: { type: "string" },
      dir: { type: "string" },
      ca: { type: "string" },
      policy: { type: "string" },
    },
  });
  const dir = values.dir ?? DEFAULT_AGENT_DIR;
  switch (command) {
    case "enroll": {
      // The token may come from the environment, so it is not shown in the process list.
      const token = values.token ?? process.env.CUSTODY_ENROLL_TOKEN;
      if (values.server === undefined || token === undefined) break;
      const caPem = values.ca === undefined ? undefined : await readFile(values.ca, "utf8");
      const state = await enrollAgent({
        server: values.server,
        token,
        dir,
        ...(caPem === undefined ? {} : { caPem }),
      });
      process.stdout.write(`enrolled as ${state.deviceId} with ${state.serverUrl}\n`);
      return 0;
    }
    case "run": {
      const controller = new AbortController();
      for (const signal of ["SIGTERM", "SIGINT"] as const)
        process.once(signal, () => controller.abort(signal));
      await runAgent({
        dir,
        ...(values.policy === undefined ? {} : { policyPath: values.policy }),
        signal: controller.signal,
        logger: jsonLogger(process.env.CUSTODY_LOG_LEVEL ?? "info"),
      });
      return 0;
    }
    case "policy":
      process.stdout.write(`${JSON.stringify(DEFAULT_AGENT_POLICY, null, 2)}\n`);
      return 0;
  }
  process.stderr.write(`${USAGE}\n`);
  return 2;
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  const code = isCustodyError(error) ? error.code : "ERR_INTERNAL";
  process.stderr.write(`custody-agent: ${code}: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
