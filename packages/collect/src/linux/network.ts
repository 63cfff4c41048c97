// Kernel state (/proc, /sys) is read directly, not through ctx.fs: the kernel makes these paths and no
// user can replace a component of them (see the README's limits).
import { readdir, readFile } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { runTool } from "../command.js";
import { csvStream, toCsv } from "../csv.js";
import type { CollectContext, Collector } from "../types.js";
import { copyOne } from "./files.js";
import {
  parseProcArp,
  parseProcIpv6Route,
  parseProcNetSockets,
  parseProcPacket,
  parseProcRoute,
  type RouteRow,
} from "./proc-net.js";
import { listPids, socketOwners } from "./procfs.js";

// raw sockets are listed too: backdoors and sniffers use them to stay off the TCP/UDP tables.
const SOCKET_TABLES = ["tcp", "tcp6", "udp", "udp6", "raw", "raw6", "packet"] as const;
const CONNECTION_COLUMNS = [
  "protocol",
  "localAddress",
  "localPort",
  "remoteAddress",
  "remotePort",
  "state",
  "uid",
  "inode",
  "pid",
  "processName",
] as const;

export const linuxNetworkConnections: Collector = {
  name: "NetworkConnections",
  platform: "linux",
  volatilityRank: 0,
  source:
    "/proc/net/{tcp,tcp6,udp,udp6,raw,raw6,packet} joined to /proc/<pid>/fd; /proc/net/arp; getifaddrs; /proc/net/{route,ipv6_route,if_inet6}; /etc/{resolv.conf,hosts,nsswitch.conf}",
  async collect(ctx) {
    // The connection table is read first and raw, before anything else can change it.
    const tables = new Map<string, string>();
    for (const table of SOCKET_TABLES) {
      const text = await readProc(ctx, `/proc/net/${table}`);
      if (text !== undefined) tables.set(table, text);
    }
    const arp = await readProc(ctx, "/proc/net/arp");
    await connections(ctx, tables);
    if (arp !== undefined) {
      await ctx.emit(
        "Arp.csv",
        toCsv(["ipAddress", "hwType", "flags", "hwAddress", "mask", "device"], parseProcArp(arp)),
        { source: "/proc/net/arp" },
      );
      await ctx.emit("raw/proc-net-arp.txt", arp, { source: "/proc/net/arp" });
    }
    for (const [table, text] of tables)
      await ctx.emit(`raw/proc-net-${table}.txt`, text, { source: `/proc/net/${table}` });
    await ipConfig(ctx);
    await routes(ctx);
    await dnsConfig(ctx);
    await firewall(ctx);
  },
};

async function readProc(ctx: CollectContext, path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== "ENOENT") ctx.problem(path, "ERR_IO", String(code));
    return undefined;
  }
}

async function connections(ctx: CollectContext, tables: Map<string, string>): Promise<void> {
  const { owners, unreadable } = await socketOwners(await listPids());
  if (unreadable > 0 && process.getuid?.() !== 0) {
    ctx.problem(
      "/proc/<pid>/fd",
      "ERR_PERMISSION",
      `${unreadable} processes' sockets not attributable without root`,
    );
  }
  const join = <T extends { inode: number }>(row: T) => {
    const list = owners.get(row.inode) ?? [];
    if (list.length === 0) return [{ ...row, pid: "", processName: "" }];
    return list.map((o) => ({ ...row, pid: String(o.pid), processName: o.name }));
  };
  const rows = [...tables]
    .filter(([table]) => table !== "packet")
    .flatMap(([table, text]) => parseProcNetSockets(text, table).flatMap(join));
  await ctx.emit("ActiveNetConnections.csv", csvStream(CONNECTION_COLUMNS, rows), {
    source: "/proc/net/{tcp,tcp6,udp,udp6,raw,raw6} + /proc/<pid>/fd",
  });
  const packet = tables.get("packet");
  if (packet !== undefined) {
    const columns = [
      "protocol",
      "type",
      "ethertype",
      "ifindex",
      "running",
      "uid",
      "inode",
      "pid",
      "processName",
    ] as const;
    await ctx.emit("PacketSockets.csv", toCsv(columns, parseProcPacket(packet).flatMap(join)), {
      source: "/proc/net/packet + /proc/<pid>/fd",
    });
  }
}

async function ipConfig(ctx: CollectContext): Promise<void> {
  const rows = Object.entries(networkInterfaces()).flatMap(([name, addresses]) =>
    (addresses ?? []).map((a) => ({
      interface: name,
      family: a.family,
      address: a.address,
      netmask: a.netmask,
      cidr: a.cidr ?? "",
      mac: a.mac,
      internal: a.internal,
      scopeId: "scopeid" in a ? a.scopeid : "",
    })),
  );
  const columns = [
    "interface",
    "family",
    "address",
    "netmask",
    "cidr",
    "mac",
    "internal",
    "scopeId",
  ] as const;
  await ctx.emit("IpConfig.csv", toCsv(columns, rows), {
    source: "getifaddrs(3) via os.networkInterfaces()",
  });
  const links: Record<string, string>[] = [];
  for (const name of await listLinks()) {
    const row: Record<string, string> = { interface: name };
    for (const attr of ["address", "operstate", "mtu", "flags", "carrier", "type", "ifindex"]) {
      row[attr] = (await readFile(`/sys/class/net/${name}/${attr}`, "utf8").catch(() => "")).trim();
    }
    links.push(row);
  }
  await ctx.emit(
    "Interfaces.csv",
    toCsv(["interface", "ifindex", "address", "operstate", "carrier", "mtu", "flags", "type"], links),
    { source: "/sys/class/net/<if>/*" },
  );
  await copyOne(ctx, "raw/proc-net-if_inet6.txt", "/proc/net/if_inet6");
  await copyOne(ctx, "raw/proc-net-fib_trie.txt", "/proc/net/fib_trie");
}

async function listLinks(): Promise<string[]> {
  return (await readdir("/sys/class/net").catch(() => [])).sort();
}

async function routes(ctx: CollectContext): Promise<void> {
  const rows: RouteRow[] = [];
  const v4 = await readProc(ctx, "/proc/net/route");
  const v6 = await readProc(ctx, "/proc/net/ipv6_route");
  if (v4 !== undefined) rows.push(...parseProcRoute(v4));
  if (v6 !== undefined) rows.push(...parseProcIpv6Route(v6));
  await ctx.emit(
    "Routes.csv",
    toCsv(["family", "interface", "destination", "prefixLength", "gateway", "metric", "flags"], rows),
    { source: "/proc/net/route, /proc/net/ipv6_route" },
  );
}

async function dnsConfig(ctx: CollectContext): Promise<void> {
  const within = ["/etc", "/run", "/var/run", "/usr/lib/systemd"];
  for (const file of [
    "resolv.conf",
    "hosts",
    "nsswitch.conf",
    "host.conf",
    "gai.conf",
    "systemd/resolved.conf",
  ]) {
    await copyOne(ctx, `Dns/${file.replace("/", "_")}`, `/etc/${file}`, { followWithin: within });
  }
  await copyOne(ctx, "Dns/run_systemd_resolve_resolv.conf", "/run/systemd/resolve/resolv.conf", {
    followWithin: within,
  });
  // The resolver cache has no file: only a running systemd-resolved can print it.
  await runTool(ctx, "Dns/DnsCache.txt", "resolvectl", ["show-cache"]);
}

async function firewall(ctx: CollectContext): Promise<void> {
  // Live rules are kernel state without a file: the tool is the only reader, and its command line is recorded.
  const nft = await runTool(ctx, "Firewall/nft-list-ruleset.txt", "nft", ["list", "ruleset"]);
  if (nft === "absent") {
    await runTool(ctx, "Firewall/iptables-save.txt", "iptables-save", []);
    await runTool(ctx, "Firewall/ip6tables-save.txt", "ip6tables-save", []);
  }
  for (const log of ["/var/log/ufw.log", "/var/log/firewalld", "/var/log/iptables.log"]) {
    await copyOne(ctx, `Firewall/${log.split("/").pop() ?? "log"}`, log);
  }
}
