/** Parsers for the kernel's /proc/net tables (text, hex, little-endian words). */

export interface SocketRow {
  protocol: string;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  state: string;
  uid: number;
  inode: number;
}

const TCP_STATES: Record<string, string> = {
  "01": "ESTABLISHED",
  "02": "SYN_SENT",
  "03": "SYN_RECV",
  "04": "FIN_WAIT1",
  "05": "FIN_WAIT2",
  "06": "TIME_WAIT",
  "07": "CLOSE",
  "08": "CLOSE_WAIT",
  "09": "LAST_ACK",
  "0A": "LISTEN",
  "0B": "CLOSING",
  "0C": "NEW_SYN_RECV",
};

/** One of /proc/net/{tcp,tcp6,udp,udp6,raw,raw6}; `protocol` names the table. Malformed lines are skipped. */
export function parseProcNetSockets(text: string, protocol: string): SocketRow[] {
  const rows: SocketRow[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const local = parseEndpoint(f[1] ?? "");
    const remote = parseEndpoint(f[2] ?? "");
    const uid = Number(f[7]);
    const inode = Number(f[9]);
    if (!local || !remote || !Number.isInteger(uid) || !Number.isInteger(inode)) continue;
    const code = (f[3] ?? "").toUpperCase();
    const udp = protocol.startsWith("udp") || protocol.startsWith("raw");
    const state = udp && code === "07" ? "UNCONN" : (TCP_STATES[code] ?? `0x${code}`);
    rows.push({
      protocol,
      localAddress: local.address,
      localPort: local.port,
      remoteAddress: remote.address,
      remotePort: remote.port,
      state,
      uid,
      inode,
    });
  }
  return rows;
}

function parseEndpoint(text: string): { address: string; port: number } | undefined {
  const [hex, portHex] = text.split(":");
  if (hex === undefined || portHex === undefined || !/^[0-9A-Fa-f]{4}$/.test(portHex)) return undefined;
  const address = hexAddress(hex);
  return address === undefined ? undefined : { address, port: Number.parseInt(portHex, 16) };
}

/** A kernel-order hex address (8 or 32 digits, 32-bit words in host byte order, little-endian here). */
export function hexAddress(hex: string): string | undefined {
  if (!/^[0-9A-Fa-f]+$/.test(hex)) return undefined;
  if (hex.length === 8) return ipv4FromLe(hex);
  if (hex.length !== 32) return undefined;
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = Buffer.from(hex.slice(w * 8, w * 8 + 8), "hex");
    bytes.push(...word.reverse());
  }
  return formatIpv6(bytes);
}

function ipv4FromLe(hex: string): string {
  return [...Buffer.from(hex, "hex").reverse()].join(".");
}

/** Network-order hex (if_inet6, ipv6_route) to an IPv6 string. */
export function ipv6FromHex(hex: string): string | undefined {
  if (!/^[0-9A-Fa-f]{32}$/.test(hex)) return undefined;
  return formatIpv6([...Buffer.from(hex, "hex")]);
}

/** RFC 5952 text: lower case, longest run of two or more zero groups as "::", IPv4-mapped kept dotted. */
export function formatIpv6(bytes: readonly number[]): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes.slice(12, 16).join(".")}`;
  }
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length && j - i >= 2) best = { start: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.start < 0) return hex.join(":");
  return `${hex.slice(0, best.start).join(":")}::${hex.slice(best.start + best.length).join(":")}`;
}

export interface ArpRow {
  ipAddress: string;
  hwType: string;
  flags: string;
  hwAddress: string;
  mask: string;
  device: string;
}

export function parseProcArp(text: string): ArpRow[] {
  return text
    .split("\n")
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 6)
    .map(([ipAddress = "", hwType = "", flags = "", hwAddress = "", mask = "", device = ""]) => ({
      ipAddress,
      hwType,
      flags,
      hwAddress,
      mask,
      device,
    }));
}

export interface RouteRow {
  family: "ipv4" | "ipv6";
  interface: string;
  destination: string;
  prefixLength: number;
  gateway: string;
  metric: number;
  flags: string;
}

/** /proc/net/route: hex little-endian IPv4 destination, gateway and mask. */
export function parseProcRoute(text: string): RouteRow[] {
  const out: RouteRow[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const mask = Number.parseInt(f[7] ?? "", 16);
    out.push({
      family: "ipv4",
      interface: f[0] ?? "",
      destination: ipv4FromLe(f[1] ?? "00000000"),
      prefixLength: Number.isNaN(mask) ? 0 : popcount(mask),
      gateway: ipv4FromLe(f[2] ?? "00000000"),
      metric: Number(f[6] ?? 0),
      flags: f[3] ?? "",
    });
  }
  return out;
}

/** /proc/net/ipv6_route: network-order hex. */
export function parseProcIpv6Route(text: string): RouteRow[] {
  const out: RouteRow[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const destination = ipv6FromHex(f[0] ?? "");
    const gateway = ipv6FromHex(f[4] ?? "");
    if (destination === undefined || gateway === undefined) continue;
    out.push({
      family: "ipv6",
      interface: f[9] ?? "",
      destination,
      prefixLength: Number.parseInt(f[1] ?? "0", 16),
      gateway,
      metric: Number.parseInt(f[5] ?? "0", 16),
      flags: f[8] ?? "",
    });
  }
  return out;
}

function popcount(n: number): number {
  let count = 0;
  for (let v = n >>> 0; v !== 0; v >>>= 1) count += v & 1;
  return count;
}

export interface PacketSocketRow {
  protocol: string;
  type: string;
  ethertype: string;
  ifindex: string;
  running: string;
  uid: number;
  inode: number;
}

/** /proc/net/packet (AF_PACKET, what sniffers open): sk RefCnt Type Proto Iface R Rmem User Inode. */
export function parseProcPacket(text: string): PacketSocketRow[] {
  const rows: PacketSocketRow[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 9) continue;
    const uid = Number(f[7]);
    const inode = Number(f[8]);
    if (!Number.isInteger(uid) || !Number.isInteger(inode)) continue;
    rows.push({
      protocol: "packet",
      type: f[2] ?? "",
      ethertype: `0x${f[3] ?? ""}`,
      ifindex: f[4] ?? "",
      running: f[5] ?? "",
      uid,
      inode,
    });
  }
  return rows;
}
