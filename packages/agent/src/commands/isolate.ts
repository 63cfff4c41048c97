import { lookup } from "node:dns/promises";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CustodyError } from "@custody/core";
import { runInGroup } from "./spawn.js";

/** The one nftables table isolation adds; `release` deletes exactly it. */
export const ISOLATION_TABLE = "custody_isolation";

export interface Peer {
  address: string;
  port: number;
}

export interface IsolationPlan {
  /** The server endpoints still reachable: `tcp ADDRESS:PORT`. */
  allowed: string[];
  ruleset: string;
}

export interface IsolateOptions {
  signal: AbortSignal;
  /** The address and port the agent's live connection goes to, as the socket says. */
  peer: Peer | undefined;
  serverUrl: string;
  resolve?: (host: string) => Promise<string[]>;
  nft?: string;
}

function unsafe(message: string, details: Record<string, unknown> = {}): CustodyError {
  return new CustodyError("ERR_ISOLATION_UNSAFE", `isolation refused: ${message}`, { details });
}

function plainAddress(address: string): string {
  return address.startsWith("::ffff:") && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

async function resolveAll(host: string): Promise<string[]> {
  return (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address);
}

/**
 * What isolation lets through: the server's address the live connection uses and every address its
 * name resolves to now, on its port, plus loopback. Refused (nothing changed) when the agent cannot
 * tell where it is connected, when the name does not resolve, or when the live connection goes to an
 * address the name no longer gives (a reconnect would then be cut off).
 */
export async function planIsolation(options: IsolateOptions): Promise<IsolationPlan> {
  const { peer } = options;
  if (peer === undefined) throw unsafe("the agent cannot tell which address its connection goes to");
  const address = plainAddress(peer.address);
  if (isIP(address) === 0) throw unsafe(`the connection's peer ${peer.address} is not an IP address`);
  if (!Number.isInteger(peer.port) || peer.port < 1 || peer.port > 65535)
    throw unsafe(`the connection's port ${peer.port} is not a port`);
  const url = new URL(options.serverUrl);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const urlPort = Number(url.port || 443);
  if (urlPort !== peer.port)
    throw unsafe(`the connection goes to port ${peer.port}, the server's address names ${urlPort}`);
  let resolved: string[];
  try {
    resolved = isIP(host) !== 0 ? [host] : await (options.resolve ?? resolveAll)(host);
  } catch (cause) {
    throw unsafe(`the server's name ${host} does not resolve to an IP address`, {
      cause: (cause as Error).message,
    });
  }
  resolved = resolved.map(plainAddress).filter((a) => isIP(a) !== 0);
  if (resolved.length === 0) throw unsafe(`the server's name ${host} does not resolve to an IP address`);
  if (!resolved.includes(address))
    throw unsafe(
      `the connection goes to ${address} but ${host} resolves to ${resolved.join(", ")}: a reconnect would be cut off`,
    );
  const addresses = [...new Set(resolved)].sort();
  const rules = (direction: "daddr" | "saddr", portKey: "dport" | "sport") =>
    addresses
      .map((a) => `    ${isIP(a) === 4 ? "ip" : "ip6"} ${direction} ${a} tcp ${portKey} ${peer.port} accept`)
      .join("\n");
  const ruleset = `add table inet ${ISOLATION_TABLE}
delete table inet ${ISOLATION_TABLE}
table inet ${ISOLATION_TABLE} {
  chain input {
    type filter hook input priority -10; policy drop;
    iifname "lo" accept
${rules("saddr", "sport")}
  }
  chain output {
    type filter hook output priority -10; policy drop;
    oifname "lo" accept
${rules("daddr", "dport")}
  }
  chain forward {
    type filter hook forward priority -10; policy drop;
  }
}
`;
  return { allowed: addresses.map((a) => `tcp ${a.includes(":") ? `[${a}]` : a}:${peer.port}`), ruleset };
}

async function nft(
  args: string[],
  options: IsolateOptions,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const tool = options.nft ?? "nft";
  try {
    const done = await runInGroup(tool, args, { signal: options.signal, maxOutputBytes: 1024 * 1024 }).done;
    return { code: done.code, stdout: done.stdout.toString("utf8"), stderr: done.stderr };
  } catch (cause) {
    if (/ENOENT/.test((cause as Error).message))
      throw new CustodyError("ERR_NOT_PRESENT", "nft (nftables) is not installed on this device");
    throw cause;
  }
}

/** Applies the plan atomically (one `nft -f`): the table is replaced whole, or nothing changes. */
export async function isolate(options: IsolateOptions): Promise<Record<string, unknown>> {
  const plan = await planIsolation(options);
  const dir = await mkdtemp(join(tmpdir(), "custody-nft-"));
  try {
    const file = join(dir, "isolation.nft");
    await writeFile(file, plan.ruleset, { mode: 0o600 });
    const applied = await nft(["-f", file], options);
    if (applied.code !== 0)
      throw new CustodyError(
        "ERR_COMMAND_FAILED",
        `nft refused the isolation rules: ${applied.stderr.trim().slice(0, 500)}`,
      );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { isolated: true, allowed: plan.allowed, table: `inet ${ISOLATION_TABLE}` };
}

/** Deletes the isolation table, and only it; a device that was not isolated says so. */
export async function release(options: IsolateOptions): Promise<Record<string, unknown>> {
  const listed = await nft(["list", "table", "inet", ISOLATION_TABLE], options);
  if (listed.code !== 0) return { isolated: false, wasIsolated: false };
  const removed = await nft(["delete", "table", "inet", ISOLATION_TABLE], options);
  if (removed.code !== 0)
    throw new CustodyError(
      "ERR_COMMAND_FAILED",
      `nft could not remove the isolation table: ${removed.stderr.trim().slice(0, 500)}`,
    );
  return { isolated: false, wasIsolated: true };
}
