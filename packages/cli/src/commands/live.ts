import { createInterface, type Interface } from "node:readline";
import { COMMANDS } from "@custody/agent/protocol";
import { CustodyError } from "@custody/core";
import type { CommandContext, CommandSpec } from "../command.js";
import { VAULT_OPTIONS } from "../vault-context.js";
import { escapeControls } from "./live-output.js";
import {
  describeFailure,
  exitCodeOfCommand,
  type LiveConsole,
  openLiveClient,
  runLine,
} from "./live-session.js";

const LIVE_OPTIONS = { ...VAULT_OPTIONS, case: { type: "string" } } as const;

function caseOf(ctx: CommandContext): string {
  const caseId = ctx.string("case");
  if (caseId === undefined)
    throw new CustodyError("ERR_USAGE", "a live session belongs to a case: --case ID");
  return caseId;
}

export const liveConnectCommand: CommandSpec = {
  path: ["live", "connect"],
  summary: "open an interactive live-response session on a device, for a case",
  usage: `DEVICE --case ID --server URL --identity FILE
Commands run on the device through the server, each authorized and audited before it is sent ('help'
lists them). Tab completes command names; Ctrl+C cancels the running command on the device; Ctrl+D or
'exit' ends the session, whose transcript is stored in the case. '-output json|table' picks the format,
'> file.txt' writes the output on this machine, '&' runs a command in the background ('jobs', 'fg ID').
Device output is printed with control characters escaped.`,
  options: LIVE_OPTIONS,
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const client = await openLiveClient(ctx);
    try {
      const session = await client.openSession(ctx.positionals[0] as string, caseOf(ctx));
      ctx.err(
        `session ${session.id} on ${session.deviceId} for case ${session.caseId}; 'help' lists the commands`,
      );
      const con: LiveConsole = { ctx, client, session, trace: false };
      await interact(con);
      const closed = await client.closeSession(session.id);
      ctx.err(
        `session closed after ${Math.round(closed.durationMs / 1000)} s; transcript item ${closed.transcriptItemId ?? "(not stored)"}`,
      );
      if (ctx.json) ctx.printJson(closed);
      return 0;
    } finally {
      client.close();
    }
  },
};

export const liveRunCommand: CommandSpec = {
  path: ["live", "run"],
  summary: "run one live-response command on a device and exit with its status",
  usage: `DEVICE --case ID --server URL --identity FILE -- COMMAND [ARGS...]
Opens a session, runs the command, closes the session (its transcript is stored in the case). The exit
code is the command's: 0 when it completed. getfile prints the new item's id.`,
  options: LIVE_OPTIONS,
  positionals: { min: 2 },
  async run(ctx) {
    const [device, ...words] = ctx.positionals as string[];
    const line = words.map(quoteWord).join(" ");
    const client = await openLiveClient(ctx);
    try {
      const session = await client.openSession(device as string, caseOf(ctx));
      const con: LiveConsole = { ctx, client, session, trace: false, quietRows: words[0] === "getfile" };
      const onSigint = () => void cancelForeground(con);
      process.on("SIGINT", onSigint);
      let command: Awaited<ReturnType<typeof runLine>>;
      try {
        command = await runLine(con, line);
      } finally {
        process.off("SIGINT", onSigint);
        await client.closeSession(session.id).catch(() => undefined);
      }
      if (command?.itemId !== undefined) ctx.out(command.itemId);
      if (ctx.json && command !== undefined) ctx.printJson(command);
      return exitCodeOfCommand(command);
    } finally {
      client.close();
    }
  },
};

/** A word of `--` as one argument of the console grammar (quoted when it holds a space or a quote). */
function quoteWord(word: string): string {
  return word === "" || /[\s"]/.test(word) ? `"${word.replaceAll('"', '""')}"` : word;
}

async function cancelForeground(con: LiveConsole): Promise<void> {
  const id = con.foreground;
  if (id === undefined) return;
  con.ctx.err(`cancelling ${id} on the device...`);
  await con.client
    .cancel(id, "Ctrl+C in the console")
    .catch((error: unknown) => con.ctx.err(describeFailure(error)));
}

const CONSOLE_WORDS = ["exit", "disconnect", "cancel"];

/** The read-eval loop: one line at a time, in order; Ctrl+C cancels, Ctrl+D (end of input) leaves. */
async function interact(con: LiveConsole): Promise<void> {
  const names = [...Object.keys(COMMANDS), ...CONSOLE_WORDS].sort();
  const rl = createInterface({
    input: con.ctx.stdin,
    output: con.ctx.isTTY ? con.ctx.stderr : undefined,
    terminal: con.ctx.isTTY,
    historySize: 1000,
    completer: (line: string) => {
      const word = line.trimStart();
      const hits = word.includes(" ") ? [] : names.filter((name) => name.startsWith(word));
      return [hits, word];
    },
  });
  const onSigint = () => {
    if (con.foreground === undefined) con.ctx.err("(Ctrl+D or 'exit' ends the session)");
    else void cancelForeground(con);
  };
  rl.on("SIGINT", onSigint);
  process.on("SIGINT", onSigint);
  try {
    await loop(con, rl);
  } finally {
    process.off("SIGINT", onSigint);
    rl.close();
  }
}

async function loop(con: LiveConsole, rl: Interface): Promise<void> {
  prompt(con, rl);
  for await (const raw of rl) {
    const line = raw.trim();
    if (line === "exit" || line === "disconnect") return;
    if (line !== "") await oneLine(con, line);
    prompt(con, rl);
  }
}

async function oneLine(con: LiveConsole, line: string): Promise<void> {
  try {
    const cancel = /^cancel\s+(\S+)$/.exec(line);
    if (cancel !== null) {
      const command = await con.client.cancel(cancel[1] as string, "cancel in the console");
      con.ctx.err(`[${command.id}] cancel requested (${command.status})`);
      return;
    }
    await runLine(con, line);
  } catch (error) {
    con.ctx.err(describeFailure(error));
  }
}

function prompt(con: LiveConsole, rl: Interface): void {
  const where = escapeControls(`${con.session.deviceId}:${con.session.cwd ?? "~"}$ `);
  if (con.ctx.isTTY) {
    rl.setPrompt(where);
    rl.prompt();
  } else con.ctx.err(where);
}
