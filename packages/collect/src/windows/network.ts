/** Parsers for netstat -ano, arp -a, ipconfig /all and ipconfig /displaydns (English output). */

export interface NetstatRow {
  protocol: string;
  localAddress: string;
  localPort: string;
  remoteAddress: string;
  remotePort: string;
  state: string;
  pid: number;
}

export function parseNetstatAno(text: string): NetstatRow[] {
  const rows: NetstatRow[] = [];
  for (const line of lines(text)) {
    const f = line.trim().split(/\s+/);
    const protocol = f[0]?.toUpperCase();
    if (protocol !== "TCP" && protocol !== "UDP") continue;
    // UDP rows have no state column: the pid is always last.
    const hasState = f.length >= 5;
    const local = splitEndpoint(f[1] ?? "");
    const remote = splitEndpoint(f[2] ?? "");
    const pid = Number(f[f.length - 1]);
    if (!Number.isInteger(pid)) continue;
    rows.push({
      protocol,
      localAddress: local.address,
      localPort: local.port,
      remoteAddress: remote.address,
      remotePort: remote.port,
      state: hasState ? (f[3] ?? "") : "",
      pid,
    });
  }
  return rows;
}

/** "10.0.0.1:443", "[fe80::1%12]:445", "*:*": address and port split at the last colon. */
export function splitEndpoint(text: string): { address: string; port: string } {
  const at = text.lastIndexOf(":");
  if (at < 0) return { address: text, port: "" };
  return { address: text.slice(0, at).replace(/^\[(.*)\]$/, "$1"), port: text.slice(at + 1) };
}

export interface ArpRow {
  interface: string;
  interfaceIndex: string;
  ipAddress: string;
  physicalAddress: string;
  type: string;
}

export function parseArpA(text: string): ArpRow[] {
  const rows: ArpRow[] = [];
  let iface = { address: "", index: "" };
  for (const line of lines(text)) {
    const header = /^Interface:\s+(\S+)\s+---\s+(0x[0-9a-fA-F]+)/.exec(line.trim());
    if (header) {
      iface = { address: header[1] ?? "", index: header[2] ?? "" };
      continue;
    }
    const f = line.trim().split(/\s+/);
    if (f.length !== 3 || !/^[0-9a-fA-F:.]+$/.test(f[0] ?? "") || !/^[0-9a-fA-F-]+$/.test(f[1] ?? ""))
      continue;
    rows.push({
      interface: iface.address,
      interfaceIndex: iface.index,
      ipAddress: f[0] ?? "",
      physicalAddress: f[1] ?? "",
      type: f[2] ?? "",
    });
  }
  return rows;
}

export interface KeyValueRow {
  section: string;
  key: string;
  value: string;
}

/**
 * ipconfig /all: unindented lines open a section ("Ethernet adapter X:"); "Key . . . : value" lines
 * belong to it; deeper-indented lines without a key continue the previous value (DNS servers).
 */
export function parseIpconfigAll(text: string): KeyValueRow[] {
  const rows: KeyValueRow[] = [];
  let section = "";
  for (const line of lines(text)) {
    if (line.trim() === "") continue;
    if (!/^\s/.test(line)) {
      section = line.trim().replace(/:$/, "");
      continue;
    }
    const match = /^\s+(.+?)(?:\s?\.)+\s?:\s?(.*)$/.exec(line);
    const last = rows[rows.length - 1];
    if (match) rows.push({ section, key: (match[1] ?? "").trim(), value: (match[2] ?? "").trim() });
    else if (last) last.value = `${last.value}; ${line.trim()}`.replace(/^; /, "");
  }
  return rows;
}

export interface DnsCacheRow {
  entry: string;
  recordName: string;
  recordType: string;
  timeToLive: string;
  section: string;
  data: string;
}

/** ipconfig /displaydns: blocks per entry; "Name does not exist." entries are kept as negative cache. */
export function parseDisplayDns(text: string): DnsCacheRow[] {
  const rows: DnsCacheRow[] = [];
  let entry = "";
  let current: DnsCacheRow | undefined;
  const all = lines(text);
  for (const [i, line] of all.entries()) {
    const trimmed = line.trim();
    if (/^-{10,}$/.test(all[i + 1]?.trim() ?? "")) {
      entry = trimmed;
      continue;
    }
    if (trimmed === "Name does not exist." || trimmed === "No records of type AAAA") {
      rows.push({ entry, recordName: entry, recordType: "", timeToLive: "", section: "", data: trimmed });
      continue;
    }
    const match = /^(.+?)(?:\s?\.)*\s*:\s(.*)$/.exec(trimmed);
    if (!match) continue;
    const key = (match[1] ?? "").trim();
    const value = (match[2] ?? "").trim();
    if (key === "Record Name") {
      current = { entry, recordName: value, recordType: "", timeToLive: "", section: "", data: "" };
      rows.push(current);
    } else if (current === undefined) continue;
    else if (key === "Record Type") current.recordType = value;
    else if (key === "Time To Live") current.timeToLive = value;
    else if (key === "Section") current.section = value;
    else if (key !== "Data Length") current.data = `${key}: ${value}`;
  }
  return rows;
}

export function lines(text: string): string[] {
  return text.replace(/^\uFEFF/, "").split(/\r?\n/);
}
