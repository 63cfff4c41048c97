import { labelledLines } from "./labelled.js";
import { LineLedger, type Parsed } from "./ledger.js";
import { addLabelled, type KeyValueRow } from "./network.js";

export interface ServiceRow {
  name: string;
  displayName: string;
  type: string;
  state: string;
  pid: string;
  win32ExitCode: string;
}

/**
 * `sc queryex type= service state= all`: SERVICE_NAME blocks of "KEY : value" lines (sc does not
 * translate its keys); the indented flag line under STATE belongs to it.
 */
export function parseScQuery(text: string): Parsed<ServiceRow> {
  const ledger = new LineLedger(text);
  const rows: ServiceRow[] = [];
  let current: ServiceRow | undefined;
  for (const [index, line] of ledger.lines.entries()) {
    const match = /^\s*([A-Z_0-9]+)\s*:\s?(.*)$/.exec(line);
    if (!match) {
      if (current !== undefined && /^\s+\([A-Z_, ]+\)\s*$/.test(line)) ledger.take(index);
      continue;
    }
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
    ledger.take(index);
  }
  return ledger.result(rows);
}

const RULE = /^-{20,}$/;

/**
 * `net localgroup`: the "*"-prefixed names under the rule. The header above the rule and the closing
 * line ("The command completed successfully.", in the system's language) are recognised by position.
 */
export function parseNetLocalgroupList(text: string): Parsed<string> {
  const ledger = new LineLedger(text);
  const start = ledger.lines.findIndex((l) => RULE.test(l.trim()));
  const last = lastNonBlank(ledger.lines);
  const rows: string[] = [];
  for (const [index, line] of ledger.lines.entries()) {
    const trimmed = line.trim();
    if (start < 0 || index <= start || (index === last && !trimmed.startsWith("*"))) ledger.take(index);
    else if (trimmed.startsWith("*")) {
      rows.push(trimmed.slice(1));
      ledger.take(index);
    }
  }
  return start < 0 ? new LineLedger(text).result([]) : ledger.result(rows);
}

export interface LocalGroup {
  group: string;
  comment: string;
  members: string[];
}

/**
 * `net localgroup NAME`: the alias name and comment are the first two lines (label, then the value at
 * the column the first line sets), the members every line between the rule and the closing line.
 */
export function parseNetLocalgroupMembers(text: string): Parsed<LocalGroup> {
  const ledger = new LineLedger(text);
  const all = ledger.lines;
  const start = all.findIndex((l) => RULE.test(l.trim()));
  const heads = all.flatMap((l, i) => (i < (start < 0 ? all.length : start) && l.trim() !== "" ? [i] : []));
  const first = all[heads[0] ?? -1] ?? "";
  const column = /^\S.*?\s{2,}(?=\S)/.exec(first)?.[0].length;
  if (start < 0 || column === undefined) return ledger.result([]);
  const valueAt = (i: number | undefined): string => {
    if (i === undefined) return "";
    ledger.take(i);
    return (all[i] ?? "").slice(column).trim();
  };
  const group = valueAt(heads[0]);
  const comment = valueAt(heads[1]);
  // The line naming the members' list ("Members", "Mitglieder") is a label alone.
  for (const i of heads.slice(2)) if (!/\s{2,}\S/.test((all[i] ?? "").trim())) ledger.take(i);
  ledger.take(start);
  const last = lastNonBlank(all);
  const members: string[] = [];
  for (let i = start + 1; i < all.length; i++) {
    const member = (all[i] ?? "").trim();
    if (member === "") continue;
    ledger.take(i);
    if (i !== last) members.push(member);
  }
  return ledger.result([{ group, comment, members }]);
}

function lastNonBlank(all: readonly string[]): number {
  for (let i = all.length - 1; i >= 0; i--) if ((all[i] ?? "").trim() !== "") return i;
  return -1;
}

/** The label of systeminfo's host name and OS name in each language the parser was checked on. */
export const SYSTEMINFO_LANGUAGES: Readonly<Record<string, readonly string[]>> = {
  en: ["Host Name", "OS Name"],
  de: ["Hostname", "Betriebssystemname"],
  fr: ["Nom de l'hôte", "Nom du système d'exploitation"],
  it: ["Nome host", "Nome SO"],
  es: ["Nombre de host", "Nombre del sistema operativo"],
  ru: ["Имя узла", "Название ОС"],
  "zh-CN": ["主机名", "OS 名称"],
};

export interface SystemInfo extends Parsed<KeyValueRow> {
  /** Which SYSTEMINFO_LANGUAGES entry the labels matched, or "unknown" (the rows are still parsed). */
  language: string;
}

/**
 * systeminfo's list view: "Label: value" with every value at one aligned column (found from the
 * output, so labels with a colon parse in every language and width), indented lines continuing the
 * value above (hotfixes, network cards).
 */
export function parseSystemInfo(text: string): SystemInfo {
  const ledger = new LineLedger(text);
  const rows: KeyValueRow[] = [];
  for (const item of labelledLines(ledger.lines, { indented: false })) {
    if (addLabelled(rows, item, "")) ledger.take(item.index);
  }
  return { ...ledger.result(rows), language: labelLanguage(rows.map((r) => r.key)) };
}

export function labelLanguage(keys: readonly string[]): string {
  for (const key of keys.slice(0, 3)) {
    for (const [language, labels] of Object.entries(SYSTEMINFO_LANGUAGES))
      if (labels.includes(key)) return language;
  }
  return "unknown";
}
