import { captureToolBytes } from "../command.js";
import { type CsvValue, recordsToCsv } from "../csv.js";
import type { CollectContext } from "../types.js";
import { decodeCodePage, parseChcp } from "./codepage.js";
import type { Parsed } from "./ledger.js";
import { parseRegQuery } from "./registry.js";

/** PowerShell is told to write UTF-8 (no byte order mark), so its output needs no code page guess. */
export const POWERSHELL_UTF8 = "[Console]::OutputEncoding = New-Object System.Text.UTF8Encoding $false; ";
export const UTF8 = 65001;
export const NLS_CODE_PAGE = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Nls\\CodePage";

/**
 * The console output code page the tools of this data point write in: `chcp` run the same way as they
 * are (same console, or a new one with the system's OEM default), so it is the page they really used.
 */
export async function consoleCodePage(ctx: CollectContext): Promise<number | undefined> {
  const answer = await captureToolBytes(ctx, undefined, "chcp.com", []);
  const page = answer === undefined ? undefined : parseChcp(answer.toString("latin1"));
  if (page !== undefined) return page;
  // No answer from chcp: the system's OEM default, which a new console starts with.
  const reg = await captureToolBytes(ctx, undefined, "reg", ["query", NLS_CODE_PAGE, "/v", "OEMCP"]);
  return reg === undefined ? undefined : oemCodePage(reg.toString("latin1"));
}

/** The OEMCP value of `reg query <Nls\\CodePage> /v OEMCP`. */
export function oemCodePage(regOutput: string): number | undefined {
  const value = parseRegQuery(regOutput).values.find((v) => v.name.toUpperCase() === "OEMCP");
  return value !== undefined && /^\d+$/.test(value.data) ? Number(value.data) : undefined;
}

export interface CommandSpec<T> {
  /** The raw output's file name in the data point (its bytes are kept as the tool wrote them). */
  raw: string;
  tool: string;
  args: readonly string[];
  codePage: number | undefined;
  parse: (text: string) => Parsed<T> & { language?: string };
  /** The parsed CSV's file name; none when only the unparsed lines are reported (raw CSV outputs). */
  csv?: string;
}

/**
 * Runs one console command: raw bytes kept, decoded with the code page it wrote in, parsed; the code
 * page, the parser's language table and the count of unparsed lines go to the summary, and the
 * unparsed lines themselves to `<raw>.unparsed.txt`.
 */
export async function parsedCommand<T>(
  ctx: CollectContext,
  spec: CommandSpec<T>,
): Promise<(Parsed<T> & { language?: string }) | undefined> {
  const bytes = await captureToolBytes(ctx, spec.raw, spec.tool, spec.args);
  if (bytes === undefined) return undefined;
  const decoded = decodeCodePage(bytes, spec.codePage);
  const parsed = spec.parse(decoded.text);
  ctx.parsed({
    tool: spec.tool,
    codePage: decoded.codePage,
    unparsed: parsed.unparsed.length,
    ...(parsed.language === undefined ? {} : { language: parsed.language }),
  });
  if (spec.csv !== undefined)
    await ctx.emit(spec.csv, recordsToCsv(parsed.rows as Record<string, CsvValue>[]), {
      source: `parsed from ${spec.raw} (code page ${decoded.codePage})`,
    });
  if (parsed.unparsed.length > 0) {
    const text = parsed.unparsed.map((u) => `line ${u.line}: ${u.text}\r\n`).join("");
    await ctx.emit(`${spec.raw.replace(/\.[^.]+$/, "")}.unparsed.txt`, text, {
      source: `lines of ${spec.raw} no parser could read (code page ${decoded.codePage})`,
    });
  }
  return parsed;
}
