import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { access, lstat, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { runInGroup } from "../spawn.js";

const MAX_RULE_FILES = 256;
const MAX_RULE_BYTES = 16 * 1024 * 1024;

export type YaraFacts =
  | { ran: true; tool: string; version: string; rulesSha256: string; ruleFiles: number; matches: string[] }
  | { ran: false; reason: string };

/** The `yara` tool on this device's PATH, or undefined. */
export async function findYara(path = process.env.PATH ?? ""): Promise<string | undefined> {
  for (const dir of path.split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, "yara");
    if (
      await access(candidate, constants.X_OK).then(
        () => true,
        () => false,
      )
    )
      return candidate;
  }
  return undefined;
}

/** The rule text of a file, or of a folder's `*.yar` / `*.yara` files in name order (symlinks skipped). */
async function ruleText(rules: string): Promise<{ text: string; files: number }> {
  const stats = await lstat(rules);
  const files = stats.isDirectory()
    ? (await readdir(rules))
        .filter((name) => /\.ya?ra?$/.test(name))
        .sort()
        .map((name) => join(rules, name))
    : [rules];
  if (files.length > MAX_RULE_FILES) throw new Error(`more than ${MAX_RULE_FILES} rule files in ${rules}`);
  const parts: string[] = [];
  let bytes = 0;
  for (const file of files) {
    if (!(await lstat(file)).isFile()) continue;
    const text = await readFile(file, "utf8");
    bytes += text.length;
    if (bytes > MAX_RULE_BYTES) throw new Error(`the rules under ${rules} exceed ${MAX_RULE_BYTES} bytes`);
    parts.push(text);
  }
  return { text: parts.join("\n"), files: parts.length };
}

/**
 * Scans one file with the device's `yara` and the rules the local policy names (a file or a folder).
 * The rules are read once and the tool runs on exactly that text, so the recorded digest is of the
 * rules that ran; the tool's version is recorded beside it. No rules or no tool: it says so.
 */
export async function scanWithYara(
  target: string,
  rules: string | undefined,
  signal: AbortSignal,
): Promise<YaraFacts> {
  const tool = await findYara();
  if (tool === undefined) return { ran: false, reason: "the yara tool is not installed on this device" };
  if (rules === undefined) return { ran: false, reason: "no YARA rules configured (agent policy yaraRules)" };
  let loaded: { text: string; files: number };
  try {
    loaded = await ruleText(rules);
  } catch (error) {
    return { ran: false, reason: `the YARA rules could not be read: ${(error as Error).message}` };
  }
  if (loaded.files === 0) return { ran: false, reason: `no rule files in ${rules}` };
  const rulesSha256 = createHash("sha256").update(loaded.text).digest("hex");
  const dir = await mkdtemp(join(tmpdir(), "custody-yara-"));
  try {
    const file = join(dir, "rules.yar");
    await writeFile(file, loaded.text, { mode: 0o600 });
    const version = await runInGroup(tool, ["--version"], { signal, maxOutputBytes: 4096 }).done;
    const scan = await runInGroup(tool, ["-w", file, target], { signal, maxOutputBytes: 1024 * 1024 }).done;
    if (scan.code !== 0)
      return { ran: false, reason: `yara failed (exit ${scan.code}): ${scan.stderr.trim().slice(0, 500)}` };
    const matches = scan.stdout
      .toString("utf8")
      .split("\n")
      .map((line) => /^([A-Za-z_][A-Za-z0-9_]{0,127}) /.exec(line)?.[1])
      .filter((rule): rule is string => rule !== undefined);
    return {
      ran: true,
      tool,
      version: version.stdout.toString("utf8").trim().slice(0, 64),
      rulesSha256,
      ruleFiles: loaded.files,
      matches: [...new Set(matches)].slice(0, 256),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
