/**
 * Parsers for netstat -ano, arp -a, ipconfig /all and ipconfig /displaydns. They go by structure (the
 * protocol token, the " --- 0x" interface line, the aligned value column, the order of a DNS record's
 * fields), never by English labels, so localized output parses the same; lines that fit no structure
 * are returned as unparsed.
 */

import { type LabelledLine, labelledLines } from "./labelled.js";
import { LineLedger, type Parsed } from "./ledger.js";

export interface NetstatRow {
  protocol: string;
  localAddress: string;
  localPort: string;
  remoteAddress: string;
  remotePort: string;
  state: string;
  pid: number;
}

export function parseNetstatAno(text: string): Parsed<NetstatRow> {
  const ledger = new LineLedger(text);
  const rows: NetstatRow[] = [];
  for (const [index, line] of ledger.lines.entries()) {
    const row = netstatRow(line);
    // Before the first connection: the title and the (localized) column header.
    if (row !== undefined || rows.length === 0) ledger.take(index);
    if (row !== undefined) rows.push(row);
  }
  return ledger.result(rows);
}

function netstatRow(line: string): NetstatRow | undefined {
  const f = line.trim().split(/\s+/);
  const protocol = f[0]?.toUpperCase();
  if (protocol !== "TCP" && protocol !== "UDP") return undefined;
  // proto, local, remote, [state], pid: the pid is always last; UDP has no state; a TCP state is
  // translated on some systems ("ABHÖREN"), so it is whatever stands between the remote end and the pid.
  const last = f[f.length - 1] ?? "";
  if (!/^\d+$/.test(last) || (protocol === "UDP" ? f.length !== 4 : f.length < 5)) return undefined;
  const local = splitEndpoint(f[1] ?? "");
  const remote = splitEndpoint(f[2] ?? "");
  return {
    protocol,
    localAddress: local.address,
    localPort: local.port,
    remoteAddress: remote.address,
    remotePort: remote.port,
    state: f.slice(3, -1).join(" "),
    pid: Number(last),
  };
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

const ARP_INTERFACE = /^\S.*?:\s*(\S+)\s+---\s+(0x[0-9a-fA-F]+)\s*$/;

/** arp -a: "Interface: IP --- 0xN" (in any language) opens a table whose first line is its header. */
export function parseArpA(text: string): Parsed<ArpRow> {
  const ledger = new LineLedger(text);
  const rows: ArpRow[] = [];
  let iface: { address: string; index: string; headerAt: number } | undefined;
  for (const [index, line] of ledger.lines.entries()) {
    const header = ARP_INTERFACE.exec(line.trim());
    if (header) {
      iface = { address: header[1] ?? "", index: header[2] ?? "", headerAt: index };
      ledger.take(index);
      continue;
    }
    if (iface === undefined) continue;
    if (index === iface.headerAt + 1) {
      ledger.take(index);
      continue;
    }
    const f = line.trim().split(/\s+/);
    if (f.length !== 3 || !/^[0-9a-fA-F:.]+$/.test(f[0] ?? "") || !/^[0-9a-fA-F-]+$/.test(f[1] ?? ""))
      continue;
    ledger.take(index);
    rows.push({
      interface: iface.address,
      interfaceIndex: iface.index,
      ipAddress: f[0] ?? "",
      physicalAddress: f[1] ?? "",
      type: f[2] ?? "",
    });
  }
  return ledger.result(rows);
}

export interface KeyValueRow {
  section: string;
  key: string;
  value: string;
}

/**
 * ipconfig /all: unindented lines open a section ("Ethernet adapter X:", "Carte Ethernet X :"); indented
 * lines are "label . . . : value" with the value at one aligned column, or continue the previous value
 * (DNS servers, the search list) when they start at that column. A label longer than the column
 * ("Connection-specific DNS Suffix Search List :") has its values on the lines below.
 */
export function parseIpconfigAll(text: string): Parsed<KeyValueRow> {
  const ledger = new LineLedger(text);
  const rows: KeyValueRow[] = [];
  let section = "";
  for (const item of labelledLines(ledger.lines, { indented: true })) {
    if (item.kind === "heading") section = item.text.replace(/\s*:$/, "");
    if (!addLabelled(rows, item, section)) continue;
    ledger.take(item.index);
  }
  return ledger.result(rows);
}

/** Adds a labelled line to `rows`; false when it fits nowhere (left unparsed). */
export function addLabelled(rows: KeyValueRow[], item: LabelledLine, section: string): boolean {
  const last = rows[rows.length - 1];
  switch (item.kind) {
    case "heading":
      return true;
    case "pair":
      rows.push({ section, key: item.key, value: item.value });
      return true;
    case "continuation":
      if (last === undefined || last.section !== section) return false;
      last.value = last.value === "" ? item.text : `${last.value}; ${item.text}`;
      return true;
    case "other":
      return false;
  }
}

export interface DnsCacheRow {
  entry: string;
  recordName: string;
  recordType: string;
  timeToLive: string;
  section: string;
  data: string;
}

/**
 * ipconfig /displaydns: an entry name underlined with dashes, then records of labelled lines in a fixed
 * order (name, type, time to live, data length, section, then the data lines), separated by blank
 * lines. A single unlabelled line under an entry is its negative answer ("Name does not exist.").
 */
export function parseDisplayDns(text: string): Parsed<DnsCacheRow> {
  const ledger = new LineLedger(text);
  const rows: DnsCacheRow[] = [];
  const all = ledger.lines;
  let entry: string | undefined;
  let group: LabelledLine[] = [];
  const flush = (): void => {
    if (entry !== undefined && group.length >= 6) {
      rows.push(dnsRecord(entry, group));
      for (const item of group) ledger.take(item.index);
    }
    group = [];
  };
  for (const item of labelledLines(all, { indented: true })) {
    const next = all[item.index + 1]?.trim() ?? "";
    if (/^-{10,}$/.test(next)) {
      flush();
      entry = item.text;
      ledger.take(item.index);
      ledger.take(item.index + 1);
    } else if (/^-{10,}$/.test(item.text)) continue;
    else if (item.kind === "pair" || item.kind === "continuation") group.push(item);
    else if (item.kind === "heading" && rows.length === 0 && entry === undefined) ledger.take(item.index);
    else if (item.kind === "other" && entry !== undefined && group.length === 0) {
      rows.push({ entry, recordName: entry, recordType: "", timeToLive: "", section: "", data: item.text });
      ledger.take(item.index);
    }
    if (item.blankAfter) flush();
  }
  flush();
  return ledger.result(rows);
}

function dnsRecord(entry: string, group: readonly LabelledLine[]): DnsCacheRow {
  const value = (i: number): string => {
    const item = group[i];
    return item?.kind === "pair" ? item.value : (item?.text ?? "");
  };
  const data = group
    .slice(5)
    .map((item) => (item.kind === "pair" ? `${item.key}: ${item.value}` : item.text))
    .join("; ");
  return {
    entry,
    recordName: value(0),
    recordType: value(1),
    timeToLive: value(2),
    section: value(4),
    data,
  };
}
