import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { type ParsedCommandLine, parseCommandLine, renderTable } from "@custody/agent/protocol";
import { createLiveClient, type LiveClient, type LiveCommand, type LiveSessionView } from "@custody/client";
import { CustodyError, type ErrorCode, isCustodyError, toCustodyError } from "@custody/core";
import type { CommandContext } from "../command.js";
import { EXIT, exitCodeFor } from "../exit-codes.js";
import { serverUrl } from "../server-url.js";
import {
  escapeControls,
  helpText,
  jsonLine,
  type OutputMode,
  renderRows,
  resultLine,
  writeRedirect,
} from "./live-output.js";

/** One console's state: the session, the command in the foreground (Ctrl+C cancels it), trace mode. */
export interface LiveConsole {
  ctx: CommandContext;
  client: LiveClient;
  session: LiveSessionView;
  foreground?: string;
  trace: boolean;
  /** `live run getfile`: stdout is the new item's id alone. */
  quietRows?: boolean;
}

/** The live-response client of --server as the caller (live response always goes through a server). */
export async function openLiveClient(ctx: CommandContext): Promise<LiveClient> {
  const server = serverUrl(ctx);
  if (server === undefined) {
    throw new CustodyError(
      "ERR_USAGE",
      "live response goes through a server: --server URL (or CUSTODY_SERVER)",
    );
  }
  const identity = ctx.string("identity") ?? ctx.env.CUSTODY_IDENTITY;
  if (identity === undefined || identity === "") {
    throw new CustodyError(
      "ERR_USAGE",
      `--server ${server} needs your identity file: --identity FILE or CUSTODY_IDENTITY`,
    );
  }
  const ca = ctx.string("ca");
  return createLiveClient({
    baseUrl: server,
    identityPem: await readText(resolve(ctx.cwd, identity), "identity file"),
    ...(ctx.env.CUSTODY_IDENTITY_PASSPHRASE === undefined
      ? {}
      : { passphrase: ctx.env.CUSTODY_IDENTITY_PASSPHRASE }),
    ...(ca === undefined ? {} : { caPem: await readText(resolve(ctx.cwd, ca), "--ca file") }),
  });
}

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (cause) {
    throw toCustodyError(cause, "ERR_USAGE", `cannot read ${what} ${file}`);
  }
}

/**
 * Runs one console line: console commands (help, status, jobs, fg, trace) here, the rest on the device
 * through the server, followed to its result unless sent to the background with `&`.
 */
export async function runLine(con: LiveConsole, line: string): Promise<LiveCommand | undefined> {
  const parsed = parseCommandLine(line);
  switch (parsed.name) {
    case "help":
      con.ctx.out(helpText(parsed.positional[0] ?? stringFlag(parsed, "command")));
      return undefined;
    case "trace":
      con.trace = (parsed.positional[0] ?? "on") !== "off";
      con.ctx.err(`trace ${con.trace ? "on" : "off"}`);
      return undefined;
    case "status":
      return status(con, parsed.positional[0] ?? stringFlag(parsed, "id"));
    case "jobs":
      await jobs(con);
      return undefined;
    case "fg":
      return foreground(con, parsed.positional[0] ?? stringFlag(parsed, "id") ?? "");
    case "library":
      await library(con, parsed);
      return undefined;
  }
  const entry = await con.client.submit(con.session.id, line);
  if (parsed.background) {
    con.ctx.err(`[${entry.id}] ${entry.status} in the background ('jobs', 'fg ${entry.id}')`);
    return entry;
  }
  return follow(con, entry.id, parsed);
}

/** Follows a command to its result, printing (or writing, with `> file`) its rows; Ctrl+C cancels it. */
export async function follow(
  con: LiveConsole,
  cmdId: string,
  parsed: ParsedCommandLine,
): Promise<LiveCommand> {
  const mode: OutputMode = parsed.output ?? "table";
  const streaming = mode === "json" && parsed.redirect === undefined && con.quietRows !== true;
  const rows: Record<string, unknown>[] = [];
  con.foreground = cmdId;
  if (con.trace) con.ctx.err(`trace: following ${cmdId}`);
  try {
    for await (const event of con.client.events(cmdId)) {
      if (con.trace)
        con.ctx.err(`trace: ${event.type}${event.type === "rows" ? ` ${event.rows.length}` : ""}`);
      if (event.type === "rows") {
        if (streaming) for (const row of event.rows) con.ctx.out(jsonLine(row));
        else rows.push(...event.rows);
      } else if (event.type === "result") {
        await show(con, parsed, mode, rows, streaming);
        if (event.command.name === "cd" && typeof event.command.data?.cwd === "string") {
          con.session = { ...con.session, cwd: event.command.data.cwd };
        }
        con.ctx.err(resultLine(event.command));
        return event.command;
      }
    }
  } finally {
    con.foreground = undefined;
  }
  throw new CustodyError("ERR_BACKEND_UNAVAILABLE", `the server ended ${cmdId}'s events without its result`);
}

async function show(
  con: LiveConsole,
  parsed: ParsedCommandLine,
  mode: OutputMode,
  rows: Record<string, unknown>[],
  streamed: boolean,
): Promise<void> {
  if (streamed || con.quietRows === true || (rows.length === 0 && parsed.redirect === undefined)) return;
  const text = renderRows(parsed.name, rows, mode);
  if (parsed.redirect === undefined) {
    con.ctx.out(text);
    return;
  }
  const path = await writeRedirect(con.ctx.cwd, parsed.redirect, text);
  con.ctx.err(`wrote ${rows.length} rows to ${path}`);
}

async function status(con: LiveConsole, id: string | undefined): Promise<LiveCommand | undefined> {
  if (id === undefined) {
    const session = await con.client.session(con.session.id);
    con.ctx.out(
      escapeControls(
        `session ${session.id} on ${session.deviceId} for case ${session.caseId}, by ${session.createdBy} since ${session.createdAt} (${Math.round(session.durationMs / 1000)} s), ${session.commands} commands, cwd ${session.cwd ?? "-"}`,
      ),
    );
    return undefined;
  }
  const command = await con.client.command(id);
  con.ctx.out(resultLine(command));
  return command;
}

async function jobs(con: LiveConsole): Promise<void> {
  const log = await con.client.commandLog(con.session.id);
  const rows = log.filter((c) => c.background).map((c) => ({ id: c.id, command: c.line, status: c.status }));
  con.ctx.out(
    rows.length === 0 ? "no background commands" : renderTable(rows, ["id", "command", "status"], 80),
  );
}

/** `library`: the vault's scripts and files, from the server (the analyst's own grants decide). */
async function library(con: LiveConsole, parsed: ParsedCommandLine): Promise<void> {
  const rows = (await con.client.library()).map((file) => ({
    ...file,
    sha256: parsed.output === "json" ? file.sha256 : file.sha256.slice(0, 16),
    signed: file.signed ? (file.signer ?? "yes") : "no",
  }));
  if (rows.length === 0 && parsed.output !== "json") con.ctx.out("the library is empty");
  else await show(con, parsed, parsed.output ?? "table", rows, false);
}

async function foreground(con: LiveConsole, id: string): Promise<LiveCommand> {
  const command = await con.client.command(id);
  return follow(con, command.id, { ...parseCommandLine(command.line), background: false });
}

function stringFlag(parsed: ParsedCommandLine, name: string): string | undefined {
  const value = parsed.flags[name];
  return typeof value === "string" ? value : undefined;
}

/** The exit code of a command's final status: 0 when completed, else its error's. */
export function exitCodeOfCommand(command: LiveCommand | undefined): number {
  if (command === undefined || command.status === "completed") return EXIT.ok;
  const code = command.error?.code ?? (command.status === "timed-out" ? "ERR_TIMEOUT" : "ERR_ABORTED");
  try {
    return exitCodeFor(code as ErrorCode);
  } catch {
    return EXIT.internal;
  }
}

/** A failure of one console line: printed, and the console goes on. */
export function describeFailure(error: unknown): string {
  if (isCustodyError(error)) return escapeControls(`error ${error.code}: ${error.message}`);
  return escapeControls(`error: ${(error as Error).message ?? String(error)}`);
}
