import { lines } from "./network.js";

export interface RegValueRow {
  key: string;
  name: string;
  type: string;
  data: string;
}

export const REG_KEY_NOT_FOUND = "ERROR: The system was unable to find the specified registry key or value.";

/**
 * `reg query KEY [/s]`: key lines start with HKEY_; value lines are four-space indented
 * "name    TYPE    data" (names may contain spaces, so split on the type token).
 */
export function parseRegQuery(text: string): { found: boolean; values: RegValueRow[]; keys: string[] } {
  if (text.includes(REG_KEY_NOT_FOUND)) return { found: false, values: [], keys: [] };
  const values: RegValueRow[] = [];
  const keys: string[] = [];
  let key = "";
  for (const line of lines(text)) {
    if (/^HKEY_/.test(line)) {
      key = line.trim();
      keys.push(key);
      continue;
    }
    const match = /^ {4}(.*?) {4}(REG_[A-Z_0-9]+)(?: {4}(.*))?$/.exec(
      line.replace(/\s+$/, (s) => (s.length >= 4 ? "    " : "")),
    );
    if (match)
      values.push({ key, name: match[1] ?? "", type: match[2] ?? "", data: (match[3] ?? "").trimEnd() });
  }
  return { found: true, values, keys };
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
export function installedProgramsFromReg(text: string): InstalledProgramRow[] {
  const byKey = new Map<string, Map<string, string>>();
  for (const v of parseRegQuery(text).values) {
    const fields = byKey.get(v.key) ?? new Map<string, string>();
    fields.set(v.name, v.data);
    byKey.set(v.key, fields);
  }
  return [...byKey]
    .filter(([, f]) => (f.get("DisplayName") ?? "") !== "")
    .map(([key, f]) => ({
      key,
      displayName: f.get("DisplayName") ?? "",
      displayVersion: f.get("DisplayVersion") ?? "",
      publisher: f.get("Publisher") ?? "",
      installDate: f.get("InstallDate") ?? "",
      installLocation: (f.get("InstallLocation") ?? "").replace(/^"(.*)"$/, "$1"),
    }));
}
