import { LineLedger, type Parsed, type UnparsedLine } from "./ledger.js";

export interface RegValueRow {
  key: string;
  name: string;
  type: string;
  data: string;
}

/**
 * `reg query KEY [/s]`: key lines start with HKEY_; value lines are four-space indented
 * "name    TYPE    data" (names may contain spaces, so split on the type token, which reg never
 * translates). Output without any key line is reg's message that the key does not exist (in the
 * system's language): `found` is false and the message is not data.
 */
export function parseRegQuery(text: string): {
  found: boolean;
  values: RegValueRow[];
  keys: string[];
  unparsed: UnparsedLine[];
  consumed: number;
} {
  const ledger = new LineLedger(text);
  const values: RegValueRow[] = [];
  const keys: string[] = [];
  let key = "";
  for (const [index, line] of ledger.lines.entries()) {
    if (/^HKEY_/.test(line)) {
      key = line.trim();
      keys.push(key);
      ledger.take(index);
      continue;
    }
    const match = /^ {4}(.*?) {4}(REG_[A-Z_0-9]+)(?: {4}(.*))?$/.exec(
      line.replace(/\s+$/, (s) => (s.length >= 4 ? "    " : "")),
    );
    if (!match || keys.length === 0) continue;
    ledger.take(index);
    values.push({ key, name: match[1] ?? "", type: match[2] ?? "", data: (match[3] ?? "").trimEnd() });
  }
  if (keys.length === 0) for (const index of ledger.lines.keys()) ledger.take(index);
  const { unparsed, consumed } = ledger.result(values);
  return { found: keys.length > 0, values, keys, unparsed, consumed };
}

export interface InstalledProgramRow {
  key: string;
  displayName: string;
  displayVersion: string;
  publisher: string;
  installDate: string;
  installLocation: string;
}

/** `reg query ...\Uninstall /s`: one program per subkey that has a DisplayName (like Programs and Features). */
export function installedProgramsFromReg(text: string): Parsed<InstalledProgramRow> {
  const parsed = parseRegQuery(text);
  const byKey = new Map<string, Map<string, string>>();
  for (const v of parsed.values) {
    const fields = byKey.get(v.key) ?? new Map<string, string>();
    fields.set(v.name, v.data);
    byKey.set(v.key, fields);
  }
  const rows = [...byKey]
    .filter(([, f]) => (f.get("DisplayName") ?? "") !== "")
    .map(([key, f]) => ({
      key,
      displayName: f.get("DisplayName") ?? "",
      displayVersion: f.get("DisplayVersion") ?? "",
      publisher: f.get("Publisher") ?? "",
      installDate: f.get("InstallDate") ?? "",
      installLocation: (f.get("InstallLocation") ?? "").replace(/^"(.*)"$/, "$1"),
    }));
  return { rows, unparsed: parsed.unparsed, consumed: parsed.consumed };
}
