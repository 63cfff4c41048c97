import { open } from "node:fs/promises";
import { resolve } from "node:path";
import { COMMANDS, renderTable } from "@custody/agent/protocol";
import type { LiveCommand } from "@custody/client";
import { toCustodyError } from "@custody/core";

// Everything from the device is untrusted: C0/C1 controls, DEL and direction overrides could move the
// cursor, rewrite lines, set the clipboard (OSC 52) or reorder text on the analyst's terminal.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/** Device text made printable: every control character shown as a visible escape (`\e`, `\u009b`). */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, (c) =>
    c === "\u001b" ? "\\e" : `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
  );
}

/** One row as a JSON line whose text holds no raw control character (JSON.stringify leaves C1 and DEL raw). */
export function jsonLine(value: unknown): string {
  return (JSON.stringify(value) ?? "null").replace(
    UNSAFE,
    (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
  );
}

export type OutputMode = "json" | "table";

/** How a command's output is shown: rows as a table (the registry's columns) or JSON lines. */
export function renderRows(name: string, rows: readonly Record<string, unknown>[], mode: OutputMode): string {
  if (mode === "json") return rows.map(jsonLine).join("\n");
  const columns = COMMANDS[name]?.columns ?? Object.keys(rows[0] ?? {});
  const table = renderTable(rows, columns);
  if (name !== "run") return table;
  // a script's output follows its summary, line by line, every control character escaped
  const output = rows.flatMap((row) =>
    [row.stdout, row.stderr].filter((text): text is string => typeof text === "string" && text !== ""),
  );
  return [table, ...output.flatMap((text) => text.replace(/\n$/, "").split("\n").map(escapeControls))].join(
    "\n",
  );
}

/** The closing line of a command: its id, status, duration, and what it made (the item of a getfile). */
export function resultLine(command: LiveCommand): string {
  const parts = [
    `[${command.id}] ${command.status}`,
    `${command.durationMs ?? 0} ms`,
    `${command.rows} rows`,
  ];
  if (command.itemId !== undefined) parts.push(`item ${command.itemId}`);
  if (command.error !== undefined) parts.push(`${command.error.code}: ${command.error.message}`);
  return escapeControls(parts.join(", "));
}

/** `command > file.txt`: the output is written on the analyst's machine, never over an existing file. */
export async function writeRedirect(cwd: string, file: string, text: string): Promise<string> {
  const path = resolve(cwd, file);
  try {
    const handle = await open(path, "wx", 0o600);
    try {
      await handle.writeFile(text.endsWith("\n") || text === "" ? text : `${text}\n`);
    } finally {
      await handle.close();
    }
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot write ${path}`);
  }
  return path;
}

/** `help` and `help COMMAND`, from the registry the server authorizes by. */
export function helpText(topic?: string): string {
  if (topic !== undefined) {
    const spec = Object.hasOwn(COMMANDS, topic) ? COMMANDS[topic] : undefined;
    if (spec === undefined) return `unknown command ${escapeControls(topic)}; 'help' lists them`;
    return `${spec.usage}\n  ${spec.summary}\n  ${spec.tier} (${spec.action}), timeout ${spec.timeoutMs / 60_000} min${spec.prerequisite === undefined ? "" : `, needs ${spec.prerequisite} first (or -auto)`}`;
  }
  const rows = Object.entries(COMMANDS).map(([name, spec]) => ({
    command: name,
    tier: spec.tier,
    usage: spec.usage,
  }));
  return `${renderTable(rows, ["command", "tier", "usage"], 80)}\n-output json|table, '> file' writes on this machine, '&' runs in the background; exit or Ctrl+D ends the session`;
}
