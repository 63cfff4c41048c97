import { createHash } from "node:crypto";
import { constants, type Stats } from "node:fs";
import { open, stat } from "node:fs/promises";
import { dirname, posix } from "node:path";
import { CustodyError, canonicalJson, toCustodyError } from "@custody/core";
import { z } from "zod";
import type { AgentPolicy } from "./policy-types.js";
import { COMMANDS } from "./registry.js";

export const DEFAULT_POLICY_PATH = "/etc/custody-agent/policy.json";
export const DEFAULT_DENIED_PATHS = ["/etc/shadow", "/etc/gshadow"];
/** The source document's getfile limit. */
export const DEFAULT_MAX_GETFILE_BYTES = 750 * 1024 * 1024;
const MAX_POLICY_BYTES = 64 * 1024;

const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  .refine((p) => posix.isAbsolute(p) && !p.includes("\0"), "an absolute path")
  .transform((p) => posix.resolve(p));

export const agentPolicySchema = z.strictObject({
  format: z.literal("custody.agent.policy/v1"),
  tiers: z.strictObject({ basic: z.boolean(), advanced: z.boolean() }),
  paths: z
    .strictObject({ deny: z.array(absolutePath).max(1024).default(DEFAULT_DENIED_PATHS) })
    .default({ deny: DEFAULT_DENIED_PATHS }),
  maxGetfileBytes: z.number().int().positive().default(DEFAULT_MAX_GETFILE_BYTES),
  /** Whether `run` may run a library script that carries no signature (when the vault allows it too). */
  unsignedScripts: z.boolean().optional(),
  yaraRules: absolutePath.optional(),
  remediation: z
    .strictObject({
      systemRoot: absolutePath.optional(),
      protect: z.array(absolutePath).max(1024).optional(),
    })
    .optional(),
});

/** What a new device runs with: basic commands and getfile, the shadow files never read. */
export const DEFAULT_AGENT_POLICY: AgentPolicy = {
  format: "custody.agent.policy/v1",
  tiers: { basic: true, advanced: true },
  paths: { deny: DEFAULT_DENIED_PATHS },
  maxGetfileBytes: DEFAULT_MAX_GETFILE_BYTES,
};

/** sha256 of the policy's RFC 8785 form: sent in `hello`, so the server sees which ceiling a device runs under. */
export function policyHash(policy: AgentPolicy): string {
  return createHash("sha256").update(canonicalJson(policy)).digest("hex");
}

export function parseAgentPolicy(value: unknown): AgentPolicy {
  const parsed = agentPolicySchema.safeParse(value);
  if (!parsed.success)
    throw new CustodyError("ERR_POLICY_INVALID", `the agent policy is invalid: ${parsed.error.message}`);
  return parsed.data;
}

function checkOwnership(what: string, stats: Stats, uid: number): void {
  if (stats.uid !== 0 && stats.uid !== uid)
    throw new CustodyError(
      "ERR_PERMISSION",
      `${what} is owned by uid ${stats.uid}, not root or this agent's user`,
      { details: { uid: stats.uid } },
    );
  if ((stats.mode & 0o022) !== 0)
    throw new CustodyError(
      "ERR_PERMISSION",
      `${what} is writable by others (mode ${(stats.mode & 0o777).toString(8)}); chmod go-w it`,
      { details: { mode: stats.mode & 0o777 } },
    );
}

/**
 * Reads the device's local policy. It is the agent's ceiling, so the agent refuses to start when the file
 * or its folder could be changed by anyone but root or the agent's own user, or when it is not valid.
 */
export async function loadAgentPolicy(
  path = DEFAULT_POLICY_PATH,
): Promise<{ policy: AgentPolicy; hash: string }> {
  const uid = process.getuid?.() ?? 0;
  let text: string;
  try {
    const handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const stats = await handle.stat();
      if (!stats.isFile()) throw new CustodyError("ERR_POLICY_INVALID", `${path} is not a regular file`);
      if (stats.size > MAX_POLICY_BYTES)
        throw new CustodyError("ERR_SIZE_LIMIT", `${path} is over ${MAX_POLICY_BYTES} bytes`);
      if (process.platform !== "win32") {
        checkOwnership(path, stats, uid);
        checkOwnership(dirname(path), await stat(dirname(path)), uid);
      }
      text = await handle.readFile("utf8");
    } finally {
      await handle.close();
    }
  } catch (cause) {
    if ((cause as { code?: unknown }).code === "ELOOP")
      throw new CustodyError("ERR_POLICY_INVALID", `${path} is a symlink; the policy must be a regular file`);
    throw toCustodyError(cause, "ERR_IO", `cannot read the agent policy ${path}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new CustodyError("ERR_POLICY_INVALID", `${path} is not JSON`, { cause });
  }
  const policy = parseAgentPolicy(json);
  return { policy, hash: policyHash(policy) };
}

/** The agent's own check of every command, whatever the server decided: refused with ERR_AGENT_POLICY. */
export function checkAgentPolicy(command: { name: string }, policy: AgentPolicy): void {
  const spec = Object.hasOwn(COMMANDS, command.name) ? COMMANDS[command.name] : undefined;
  if (spec === undefined || spec.where !== "agent")
    throw new CustodyError("ERR_UNKNOWN_COMMAND", `${command.name} is not a command this agent runs`, {
      details: { name: command.name },
    });
  if (!policy.tiers[spec.tier])
    throw new CustodyError(
      "ERR_AGENT_POLICY",
      `this device's local policy does not allow ${spec.tier} commands (${command.name})`,
      {
        details: { name: command.name, tier: spec.tier },
      },
    );
}
