import { CustodyError } from "@custody/core";
import type { DeviceRecord } from "@custody/vault";
import type { CommandContext, CommandSpec } from "../command.js";
import { formatTable } from "../table.js";
import { parseExpiry, VAULT_OPTIONS, withVaultApi } from "../vault-context.js";
import { escapeControls } from "./live-output.js";
import { exitCodeOfCommand, openLiveClient } from "./live-session.js";

function printDevice(ctx: CommandContext, device: DeviceRecord, verb: string): number {
  if (ctx.json) ctx.printJson(device);
  else ctx.out(`${device.deviceId} ${verb} (state ${device.state})`);
  return 0;
}

/** `--expires 1h` (or a date) as milliseconds from now. */
function expiresInMs(ctx: CommandContext): number | undefined {
  const value = ctx.string("expires");
  if (value === undefined) return undefined;
  const now = new Date();
  return parseExpiry(value, now).getTime() - now.getTime();
}

function usesOf(ctx: CommandContext): number | undefined {
  const value = ctx.string("uses");
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,3}$/.test(value))
    throw new CustodyError("ERR_USAGE", `--uses is a count, got '${value}'`);
  return Number(value);
}

export const devicesEnrollTokenCommand: CommandSpec = {
  path: ["devices", "enroll-token"],
  summary: "make a one-time token a device enrolls with (custody agent enroll --token T)",
  usage: `[--case ID] [--expires 1h|DATE] [--uses N]
The token is printed once and never stored: the vault keeps only its hash, in the audit log. It names
the vault CA by its SHA-256, so the agent trusts this vault and no other from its first connection.
It expires after one hour unless told otherwise (at most 7 days) and enrolls one device (--uses N).
With --case, the devices it enrolls belong to that case (case-scoped roles see them).`,
  options: {
    ...VAULT_OPTIONS,
    case: { type: "string" },
    expires: { type: "string" },
    uses: { type: "string" },
  },
  async run(ctx) {
    const caseId = ctx.string("case");
    const ttl = expiresInMs(ctx);
    const uses = usesOf(ctx);
    const token = await withVaultApi(ctx, (api) =>
      api.createEnrollmentToken({
        ...(caseId === undefined ? {} : { caseId }),
        ...(ttl === undefined ? {} : { expiresInMs: ttl }),
        ...(uses === undefined ? {} : { uses }),
      }),
    );
    if (ctx.json) {
      ctx.printJson(token);
      return 0;
    }
    ctx.out(token.token);
    ctx.err(`token ${token.tokenId}: ${token.uses} enrollment(s) until ${token.expiresAt}`);
    return 0;
  },
};

function ago(iso: string | null): string {
  if (iso === null) return "never";
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  return iso;
}

export const devicesListCommand: CommandSpec = {
  path: ["devices", "list"],
  summary: "enrolled devices: id, host name, OS, agent version, online or offline, last seen",
  usage: `
A vault opened locally has no agents connected (every device is offline); through --server, online
means the agent holds a live connection to that server now.`,
  options: { ...VAULT_OPTIONS },
  async run(ctx) {
    const devices = await withVaultApi(ctx, (api) => api.listDevices());
    if (ctx.json) {
      ctx.printJson(devices);
      return 0;
    }
    const rows = devices.map((d) => [
      d.deviceId,
      d.hostname,
      `${d.os}/${d.arch}`,
      d.agentVersion,
      d.online ? "online" : "offline",
      ago(d.lastSeen),
      d.state,
    ]);
    ctx.out(formatTable(["ID", "HOST", "OS", "AGENT", "STATUS", "LAST SEEN", "STATE"], rows));
    return 0;
  },
};

export const devicesShowCommand: CommandSpec = {
  path: ["devices", "show"],
  summary: "one enrolled device",
  usage: "ID",
  options: { ...VAULT_OPTIONS },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const device = await withVaultApi(ctx, (api) => api.showDevice(String(ctx.positionals[0])));
    if (ctx.json) ctx.printJson(device);
    else for (const [key, value] of Object.entries(device)) ctx.out(`${key}: ${JSON.stringify(value)}`);
    return 0;
  },
};

export const devicesApproveCommand: CommandSpec = {
  path: ["devices", "approve"],
  summary: "lift a device's quarantine (a suspected copy of its key) after checking the device",
  usage: "ID",
  options: { ...VAULT_OPTIONS },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const id = String(ctx.positionals[0]);
    return printDevice(ctx, await withVaultApi(ctx, (api) => api.approveDevice(id)), "approved");
  },
};

export const devicesRevokeCommand: CommandSpec = {
  path: ["devices", "revoke"],
  summary: "revoke a device's certificate: refused from now on, its live connection cut",
  usage: "ID",
  options: { ...VAULT_OPTIONS },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const id = String(ctx.positionals[0]);
    return printDevice(ctx, await withVaultApi(ctx, (api) => api.revokeDevice(id)), "revoked");
  },
};

export const devicesCollectCommand: CommandSpec = {
  path: ["devices", "collect"],
  summary: "collect an online device's investigation package into a case, with a reason, outside a session",
  usage: `DEVICE --case ID --reason TEXT [--only A,B] --server URL --identity FILE
The agent makes the package on the device (the same data points as custody collect), signs it with the
device's own collector certificate and uploads it; the server verifies it against the vault CA and that
device before storing it as an item of the case, with the reason, the analyst and the command. A session
is opened for it and closed after (its transcript is stored too). Prints the package's item id; the exit
code is the command's (0 when it completed). Needs live.advanced on the device and the case, and
evidence.ingest on the case.`,
  options: {
    ...VAULT_OPTIONS,
    case: { type: "string" },
    reason: { type: "string" },
    only: { type: "string" },
  },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const caseId = ctx.string("case");
    if (caseId === undefined) throw new CustodyError("ERR_USAGE", "collect into which case: --case ID");
    const reason = ctx.string("reason") ?? "";
    if (reason.trim() === "")
      throw new CustodyError(
        "ERR_REASON_REQUIRED",
        "collect needs --reason TEXT: why this is done, for the record",
      );
    const only = ctx
      .string("only")
      ?.split(",")
      .map((name) => name.trim())
      .filter((name) => name !== "");
    const client = await openLiveClient(ctx);
    try {
      const command = await client.collectDevice(String(ctx.positionals[0]), {
        caseId,
        reason,
        ...(only === undefined || only.length === 0 ? {} : { only }),
      });
      if (ctx.json) ctx.printJson(command);
      else if (command.itemId !== undefined) ctx.out(command.itemId);
      if (command.status !== "completed") ctx.err(describeCommand(command));
      return exitCodeOfCommand(command);
    } finally {
      client.close();
    }
  },
};

function describeCommand(command: { id: string; status: string; error?: { code: string; message: string } }) {
  const error = command.error === undefined ? "" : `: ${command.error.code} ${command.error.message}`;
  return escapeControls(`collect ${command.id} ${command.status}${error}`);
}
