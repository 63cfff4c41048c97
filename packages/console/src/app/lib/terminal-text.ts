import { COMMANDS, renderTable } from "@custody/agent/protocol";
import type { LiveCommand } from "@custody/api";

import { escapeControls } from "./escape.ts";

// What the terminal shows of a device's answer: every control character escaped (escape.ts), lines
// ending in CRLF for xterm.js.

export { escapeControls };

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
export function helpText(topic?: string): string {
  if (topic !== undefined) {
    const spec = Object.hasOwn(COMMANDS, topic) ? COMMANDS[topic] : undefined;
    if (spec === undefined) return terminalLines(`unknown command ${topic}; 'help' lists them`);
    const needs = spec.prerequisite === undefined ? "" : `, needs ${spec.prerequisite} first (or -auto)`;
    return terminalLines(
      `${spec.usage}\n  ${spec.summary}\n  ${spec.tier} (${spec.action}), timeout ${spec.timeoutMs / 60_000} min${needs}`,
    );
  }
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
