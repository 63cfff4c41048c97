import type { KeyValueRow } from "./network.js";
import { lines } from "./network.js";

export interface ServiceRow {
  name: string;
  displayName: string;
  type: string;
  state: string;
  pid: string;
  win32ExitCode: string;
}

/** `sc queryex type= service state= all`: SERVICE_NAME blocks with "KEY : value" lines. */
export function parseScQuery(text: string): ServiceRow[] {
  const rows: ServiceRow[] = [];
  let current: ServiceRow | undefined;
  for (const line of lines(text)) {
    const match = /^\s*([A-Z_0-9]+)\s*:\s?(.*)$/.exec(line);
    if (!match) continue;
    const key = match[1] ?? "";
    const value = (match[2] ?? "").trim();
    if (key === "SERVICE_NAME") {
      current = { name: value, displayName: "", type: "", state: "", pid: "", win32ExitCode: "" };
      rows.push(current);
    } else if (current === undefined) continue;
    else if (key === "DISPLAY_NAME") current.displayName = value;
    else if (key === "TYPE") current.type = value.replace(/^\S+\s+/, "");
    else if (key === "STATE") current.state = value.replace(/^\S+\s+/, "");
    else if (key === "PID") current.pid = value;
    else if (key === "WIN32_EXIT_CODE") current.win32ExitCode = value.split(/\s+/)[0] ?? "";
  }
  return rows;
}

const RULE = /^-{20,}$/;
const DONE = "The command completed successfully.";

/** `net localgroup`: the group names (the "*" prefix dropped). */
export function parseNetLocalgroupList(text: string): string[] {
  const all = lines(text);
  const start = all.findIndex((l) => RULE.test(l.trim()));
  return all
    .slice(start + 1)
    .map((l) => l.trim())
    .filter((l) => l.startsWith("*"))
    .map((l) => l.slice(1));
}

/** `net localgroup NAME`: the alias, its comment and the members listed under the rule. */
export function parseNetLocalgroupMembers(text: string): {
  group: string;
  comment: string;
  members: string[];
} {
  const all = lines(text);
  const field = (name: string) => (all.find((l) => l.startsWith(name)) ?? "").slice(name.length).trim();
  const start = all.findIndex((l) => RULE.test(l.trim()));
  const members =
    start < 0
      ? []
      : all
          .slice(start + 1)
          .map((l) => l.trim())
          .filter((l) => l !== "" && l !== DONE);
  return { group: field("Alias name"), comment: field("Comment"), members };
}

/** systeminfo's list view: "Key:   value" with indented continuation lines (hotfixes, NICs). */
export function parseSystemInfo(text: string): KeyValueRow[] {
  const rows: KeyValueRow[] = [];
  for (const line of lines(text)) {
    if (line.trim() === "") continue;
    const match = /^(\S[^:]*(?::[^:]+?)?):\s{2,}(.*)$/.exec(line) ?? /^(\S[^:]*):\s*(.*)$/.exec(line);
    const last = rows[rows.length - 1];
    if (match && !/^\s/.test(line))
      rows.push({ section: "", key: (match[1] ?? "").trim(), value: (match[2] ?? "").trim() });
    else if (last) last.value = `${last.value}; ${line.trim()}`;
  }
  return rows;
}
