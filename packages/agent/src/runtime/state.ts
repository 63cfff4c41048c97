import { chmod, mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError, toCustodyError, writeFileAtomic } from "@custody/core";
import { z } from "zod";
import { deviceIdSchema } from "../schemas.js";

/** Where an enrolled agent keeps its identity and the state it must not lose. */
export const DEFAULT_AGENT_DIR = "/var/lib/custody-agent";

export const FILES = {
  key: "device-key.pem",
  certificate: "device-certificate.pem",
  ca: "vault-ca.pem",
  state: "agent.json",
  nonce: "nonce",
  executed: "executed.json",
  /** The device's own package signer (collect), issued by the vault CA on first use. */
  collectorKey: "collector-key.pem",
  collectorCertificate: "collector-certificate.pem",
} as const;

export const agentStateSchema = z.strictObject({
  format: z.literal("custody.agent.state/v1"),
  deviceId: deviceIdSchema,
  serverUrl: z.url({ protocol: /^https$/ }),
  caSha256: z.string().regex(/^[0-9a-f]{64}$/),
  enrolledAt: z.iso.datetime(),
});
export type AgentState = z.infer<typeof agentStateSchema>;

export interface AgentIdentity {
  dir: string;
  state: AgentState;
  keyPem: string;
  certificatePem: string;
  caPem: string;
}

/** The folder is the agent's alone: made 0700, and refused if others could write it. */
export async function prepareDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
}

async function read(dir: string, name: string): Promise<string> {
  try {
    return await readFile(join(dir, name), "utf8");
  } catch (cause) {
    throw toCustodyError(
      cause,
      "ERR_IO",
      `cannot read ${join(dir, name)} (is this agent enrolled? run custody agent enroll)`,
    );
  }
}

export async function loadIdentity(dir: string): Promise<AgentIdentity> {
  const info = await stat(dir).catch((cause: unknown) => {
    throw toCustodyError(cause, "ERR_IO", `no agent folder ${dir}; run custody agent enroll`);
  });
  if (process.platform !== "win32" && (info.mode & 0o077) !== 0)
    throw new CustodyError(
      "ERR_PERMISSION",
      `${dir} is open to other users (mode ${(info.mode & 0o777).toString(8)}); chmod 700 it`,
    );
  let state: AgentState;
  try {
    state = agentStateSchema.parse(JSON.parse(await read(dir, FILES.state)));
  } catch (cause) {
    throw toCustodyError(
      cause,
      "ERR_INVALID_ARGUMENT",
      `${join(dir, FILES.state)} is not a valid agent state`,
    );
  }
  return {
    dir,
    state,
    keyPem: await read(dir, FILES.key),
    certificatePem: await read(dir, FILES.certificate),
    caPem: await read(dir, FILES.ca),
  };
}

/** The nonce the server gave last time: shown at the next hello (clone detection). */
export async function readNonce(dir: string): Promise<string | null> {
  const text = await readFile(join(dir, FILES.nonce), "utf8").catch(() => "");
  return text.trim() === "" ? null : text.trim();
}

/** Written durably before any command is taken, so a crash never leaves the agent with a stale nonce. */
export async function writeNonce(dir: string, nonce: string): Promise<void> {
  await writeFileAtomic(join(dir, FILES.nonce), nonce, { mode: 0o600 });
}
