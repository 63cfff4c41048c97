import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import {
  DEFAULT_AGENT_DIR,
  DEFAULT_AGENT_POLICY,
  DEFAULT_POLICY_PATH,
  enrollAgent,
  policyHash,
  runAgent,
} from "@custody/agent";
import { CustodyError, toCustodyError } from "@custody/core";
import { pino } from "pino";
import type { CommandContext, CommandSpec } from "../command.js";
import { EXIT } from "../exit-codes.js";

function agentDir(ctx: CommandContext): string {
  return resolve(ctx.cwd, ctx.string("dir") ?? DEFAULT_AGENT_DIR);
}

export const agentEnrollCommand: CommandSpec = {
  path: ["agent", "enroll"],
  summary: "enroll this device with a custody server (the device key is made here and never leaves)",
  usage: `--server https://HOST:PORT --token TOKEN [--dir DIR] [--ca FILE]
Makes an RSA-3072 device key in DIR (default ${DEFAULT_AGENT_DIR}, mode 0700; the key 0600), finds the
vault CA the token names (sha256) among the certificates the server presents, and only then sends the
one-time token with a certificate request to POST /v1/enroll. Stores the device certificate, the vault
CA, the server URL and the device id in DIR. --ca gives the vault CA certificate when the server does
not present it; it must match the token. A DIR that already holds an enrollment is refused.
The token may be given in $CUSTODY_ENROLL_TOKEN instead of --token (kept out of the process list).
Tokens come from \`custody devices enroll-token\`. See packages/agent/README.md.`,
  options: {
    server: { type: "string" },
    token: { type: "string" },
    dir: { type: "string" },
    ca: { type: "string" },
  },
  positionals: { min: 0, max: 0 },
  async run(ctx) {
    const server = ctx.string("server");
    const token = ctx.string("token") ?? ctx.env.CUSTODY_ENROLL_TOKEN;
    if (server === undefined || token === undefined)
      throw new CustodyError("ERR_USAGE", "give --server https://HOST:PORT and --token TOKEN");
    const caFile = ctx.string("ca");
    const caPem =
      caFile === undefined
        ? undefined
        : await readFile(resolve(ctx.cwd, caFile), "utf8").catch((cause: unknown) => {
            throw toCustodyError(cause, "ERR_IO", `cannot read ${caFile}`);
          });
    const state = await enrollAgent({
      server,
      token,
      dir: agentDir(ctx),
      ...(caPem === undefined ? {} : { caPem }),
    });
    if (ctx.json) ctx.printJson(state);
    else ctx.out(`enrolled as ${state.deviceId} with ${state.serverUrl}; start it with custody agent run`);
    return EXIT.ok;
  },
};

function stopOnSignal(controller: AbortController): () => void {
  const stop = () => controller.abort("signal");
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  return () => {
    process.off("SIGTERM", stop);
    process.off("SIGINT", stop);
  };
}

export const agentRunCommand: CommandSpec = {
  path: ["agent", "run"],
  summary:
    "run the live-response agent: connect out to the server it enrolled with, run what its policy allows",
  usage: `[--dir DIR] [--policy FILE]
Connects to the server this device enrolled with (wss://HOST:PORT/v1/agent, its device certificate,
the vault CA pinned), reconnecting with jittered back-off, and runs the live-response commands the
server sends as far as the local policy allows. The policy (default ${DEFAULT_POLICY_PATH}) must be
owned by root (or the agent's user) and writable by no one else, or the agent does not start.
Runs until SIGTERM or SIGINT; logs are pino JSON lines on stdout ($CUSTODY_LOG_LEVEL, default info).
A hardened systemd unit is in packages/agent/systemd/custody-agent.service.`,
  options: {
    dir: { type: "string" },
    policy: { type: "string" },
  },
  positionals: { min: 0, max: 0 },
  async run(ctx) {
    const logger = pino(
      { level: ctx.env.CUSTODY_LOG_LEVEL ?? "info", base: { name: "custody-agent" } },
      ctx.stdout,
    );
    const controller = new AbortController();
    const release = stopOnSignal(controller);
    try {
      const policy = ctx.string("policy");
      await runAgent({
        dir: agentDir(ctx),
        ...(policy === undefined ? {} : { policyPath: resolve(ctx.cwd, policy) }),
        signal: controller.signal,
        logger,
      });
    } finally {
      release();
    }
    return EXIT.ok;
  },
};

export const agentPolicyCommand: CommandSpec = {
  path: ["agent", "policy"],
  summary: "print the default local agent policy (and its hash) to start a policy file from",
  usage: `
Prints custody.agent.policy/v1 with the defaults: basic and advanced commands, /etc/shadow and
/etc/gshadow never read, getfile up to 750 MB. Save it as ${DEFAULT_POLICY_PATH}, owned by root, mode
0600; set "advanced": false to refuse getfile on this device whatever the server asks.`,
  options: {},
  positionals: { min: 0, max: 0 },
  async run(ctx) {
    if (ctx.json)
      ctx.printJson({ policy: DEFAULT_AGENT_POLICY, policyHash: policyHash(DEFAULT_AGENT_POLICY) });
    else ctx.out(JSON.stringify(DEFAULT_AGENT_POLICY, null, 2));
    return EXIT.ok;
  },
};
