import type {
  decodeCodePage as DecodeCodePage,
  parseChcp as ParseChcp,
  parseRegQuery as ParseRegQuery,
} from "@custody/collect";
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
  const system32 = `${process.env.SystemRoot ?? "C:\\Windows"}\\System32`;
  // reg.exe writes in the console's output code page (the OEM page, 850 or 437, without a console):
  // chcp run the same way says which one, as the collectors do
  let chcp: Buffer | undefined;
  try {
    chcp = (await runInGroup(`${system32}\\chcp.com`, [], { signal }).done).stdout;
  } catch {
    chcp = undefined; // no answer: decoded as UTF-8, as collect does
  }
  const { stdout } = await runInGroup(`${system32}\\reg.exe`, ["query", key], { signal }).done;
  const collect = await import("@custody/collect");
  return registryRows(regOutputText(stdout, chcp, collect), collect.parseRegQuery);
}

/** reg.exe's bytes as text, decoded in the code page `chcp` answered (UTF-8 if it did not). */
export function regOutputText(
  stdout: Buffer,
  chcpAnswer: Buffer | undefined,
  collect: { decodeCodePage: typeof DecodeCodePage; parseChcp: typeof ParseChcp },
): string {
  const page = chcpAnswer === undefined ? undefined : collect.parseChcp(chcpAnswer.toString("latin1"));
  return collect.decodeCodePage(stdout, page).text;
}
