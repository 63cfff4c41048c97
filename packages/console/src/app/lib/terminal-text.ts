import { COMMANDS, renderTable } from "@custody/agent/protocol";
import type { LiveCommand } from "@custody/api";

// What the terminal shows of a device's answer: everything from the device is untrusted, so every
// control character (cursor moves, OSC 52 clipboard writes, bidi overrides) is shown as a visible escape,
// and lines end in CRLF for xterm.js.

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/** Device text made printable: every control character shown as `\e` or `\uXXXX`. */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, (c) =>
    c === "\u001b" ? "\\e" : `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
  );
}

/** Plain lines as terminal text: each escaped, each ending in CRLF. */
export function terminalLines(text: string): string {
  if (text === "") return "";
  return `${text
    .replace(/\n$/, "")
    .split("\n")
    .map((line) => escapeControls(line))
    .join("\r\n")}\r\n`;
}

/** A command's rows as the CLI console shows them: a table of the registry's columns (run: its output). */
export function terminalText(name: string, rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return "";
  const spec = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  const columns = spec?.columns ?? Object.keys(rows[0] ?? {});
  const parts = [renderTable(rows, columns)];
  if (name === "run") {
    for (const row of rows)
      for (const text of [row.stdout, row.stderr])
        if (typeof text === "string" && text !== "") parts.push(text.replace(/\n$/, ""));
  }
  return terminalLines(parts.join("\n"));
}

/** The closing line of a command: id, status, duration, rows, and its item or error. */
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

/** `help` in the page: the registry the server authorizes by, plus the page's own commands. */
export function helpText(): string {
  const rows = Object.entries(COMMANDS).map(([command, spec]) => ({
    command,
    tier: spec.tier,
    usage: spec.usage,
  }));
  return terminalLines(
    `${renderTable(rows, ["command", "tier", "usage"], 80)}\n` +
      "Ctrl+C cancels the command on the device; 'clear' clears the screen; 'exit' ends the session",
  );
}
