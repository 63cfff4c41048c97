import type { parseRegQuery as ParseRegQuery } from "@custody/collect";
import { CustodyError } from "@custody/core";
import { runInGroup } from "./spawn.js";

const HIVES =
  /^(HKLM|HKCU|HKCR|HKU|HKCC|HKEY_LOCAL_MACHINE|HKEY_CURRENT_USER|HKEY_CLASSES_ROOT|HKEY_USERS|HKEY_CURRENT_CONFIG)(\\[^\\]+)*\\?$/i;

/** Rows for `registry KEY` from `reg query` output: the key's values, then its subkeys. */
export function registryRows(text: string, parseRegQuery: typeof ParseRegQuery): Record<string, unknown>[] {
  const parsed = parseRegQuery(text);
  if (!parsed.found) throw new CustodyError("ERR_NOT_FOUND", "the registry key does not exist");
  return [
    ...parsed.values.map((v) => ({ ...v })),
    ...parsed.keys.map((key) => ({ key, name: "", type: "KEY", data: "" })),
  ];
}

/** `registry KEY`: Windows only; runs the system's reg.exe in its own job and parses what it prints. */
export async function registry(key: string, signal: AbortSignal): Promise<Record<string, unknown>[]> {
  if (process.platform !== "win32")
    throw new CustodyError("ERR_NOT_PRESENT", "the registry exists on Windows only");
  if (!HIVES.test(key))
    throw new CustodyError("ERR_INVALID_ARGUMENT", `${key} is not a registry key (HKLM\\..., HKCU\\...)`);
  const reg = `${process.env.SystemRoot ?? "C:\\Windows"}\\System32\\reg.exe`;
  const { done } = runInGroup(reg, ["query", key], { signal });
  const { stdout } = await done;
  const { parseRegQuery } = await import("@custody/collect");
  return registryRows(stdout.toString("utf8"), parseRegQuery);
}
