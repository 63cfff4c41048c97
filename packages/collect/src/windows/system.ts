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

/** The order of the indented lines of an `sc queryex` block, the same whatever the language of their labels. */
const SC_FIELDS = [
  "type",
  "state",
  "win32ExitCode",
  "serviceExitCode",
  "checkpoint",
  "waitHint",
  "pid",
  "flags",
];

/**
 * `sc queryex type= service state= all`: blocks of two unindented "LABEL: value" lines (service name,
 * display name) and indented "LABEL : value" lines in a fixed order (type, state, exit codes, checkpoint,
 * wait hint, pid, flags). Read by position, so translated labels ("ANZEIGENAME", "TYP") read the same;
 * the parenthesised line under the state belongs to it.
 */
export function parseScQuery(text: string): Parsed<ServiceRow> {
  const ledger = new LineLedger(text);
  const rows: ServiceRow[] = [];
  let current: { row: ServiceRow; named: boolean; fields: number } | undefined;
  for (const [index, line] of ledger.lines.entries()) {
    const match = /^(\s*)([^\s:][^:]*?)\s*:\s?(.*)$/.exec(line);
    const value = (match?.[3] ?? "").trim();
    if (match && match[1] === "") {
      if (current !== undefined && !current.named && current.fields === 0) {
        current.row.displayName = value;
        current.named = true;
      } else {
        const row = { name: value, displayName: "", type: "", state: "", pid: "", win32ExitCode: "" };
        current = { row, named: false, fields: 0 };
        rows.push(row);
      }
    } else if (match && current !== undefined && current.fields < SC_FIELDS.length) {
      scField(current.row, SC_FIELDS[current.fields] ?? "", value);
      current.fields++;
    } else if (!(current !== undefined && /^\s+\([A-Z_, ]+\)\s*$/.test(line))) continue;
    ledger.take(index);
  }
  return ledger.result(rows);
}

function scField(row: ServiceRow, field: string, value: string): void {
  if (field === "type") row.type = value.replace(/^\S+\s+/, "");
  else if (field === "state") row.state = value.replace(/^\S+\s+/, "");
  else if (field === "win32ExitCode") row.win32ExitCode = value.split(/\s+/)[0] ?? "";
  else if (field === "pid") row.pid = value;
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
