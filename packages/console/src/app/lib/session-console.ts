import { ROUTES as API, type LiveCommand } from "@custody/api";
import type { BrowserClient } from "@custody/client/browser";
import { failureOf } from "./api.ts";
import { escapeControls, helpText, resultLine, terminalLines, terminalText } from "./terminal-text.ts";
import type { TerminalView } from "./terminal-view.ts";

// The page's side of the session console: `help`, `clear` and `exit` here, every other line submitted
// to the server (parsed, authorized and audited there, as from the CLI) and followed to its result.
// Ctrl+C cancels the foreground command on the device.

export interface SessionConsoleHooks {
  /** A command reached its result (the log and the evidence list refresh). */
  onResult(command: LiveCommand): void;
  /** The analyst typed `exit` or Ctrl+D. */
  onExit(): void;
}

const RED = "\x1b[31m";
const DIM = "\x1b[2m";
const RESET = "\x1b[0m";

export class SessionConsole {
  foreground: string | undefined;
  #client: BrowserClient;
  #sessionId: string;
  #view: TerminalView;
  #hooks: SessionConsoleHooks;

  constructor(client: BrowserClient, sessionId: string, view: TerminalView, hooks: SessionConsoleHooks) {
    this.#client = client;
    this.#sessionId = sessionId;
    this.#view = view;
    this.#hooks = hooks;
  }

  async run(line: string): Promise<void> {
    if (this.foreground !== undefined) {
      this.#note(
        `${this.foreground} is still running: Ctrl+C cancels it ('&' runs a line in the background)`,
      );
      return;
    }
    try {
      await this.#dispatch(line);
    } catch (error) {
      const failure = failureOf(error);
      this.#view.print(`${RED}${escapeControls(`${failure.code}: ${failure.message}`)}${RESET}\r\n`);
    } finally {
      this.foreground = undefined;
      this.#view.prompt();
    }
  }

  async #dispatch(line: string): Promise<void> {
    const [word, arg] = line.split(/\s+/);
    switch (word) {
      case "help":
        return this.#view.print(helpText(arg));
      case "clear":
        return this.#view.clear();
      case "exit":
      case "logout":
        return this.#hooks.onExit();
      case "status":
        return this.#status(arg);
      case "jobs":
        return this.#jobs();
      case "fg":
        return this.#follow(await this.#client.command(arg ?? ""));
      case "library":
        return this.#library();
      case "trace":
        return this.#note(
          "trace is the CLI console's; the command log tab shows every command's input and output",
        );
    }
    const entry = await this.#client.submit(this.#sessionId, line);
    if (entry.background) {
      this.#note(`[${entry.id}] ${entry.status} in the background (the command log follows it)`);
      return;
    }
    await this.#follow(entry);
  }

  async #follow(entry: LiveCommand): Promise<void> {
    this.foreground = entry.id;
    const rows: Record<string, unknown>[] = [];
    for await (const event of this.#client.events(entry.id)) {
      if (event.type === "rows") rows.push(...event.rows);
      else if (event.type === "result") {
        this.#view.print(terminalText(event.command.name, rows));
        const colour = event.command.status === "completed" ? DIM : RED;
        this.#view.print(`${colour}${resultLine(event.command)}${RESET}\r\n`);
        this.#hooks.onResult(event.command);
        return;
      }
    }
  }

  async #status(id: string | undefined): Promise<void> {
    if (id !== undefined) return this.#view.print(`${resultLine(await this.#client.command(id))}\r\n`);
    const s = await this.#client.session(this.#sessionId);
    this.#view.print(
      terminalLines(
        `session ${s.id} on ${s.deviceId} for case ${s.caseId}, by ${s.createdBy} since ${s.createdAt}, ${s.commands} commands, cwd ${s.cwd ?? "-"}`,
      ),
    );
  }

  async #jobs(): Promise<void> {
    const rows = (await this.#client.commandLog(this.#sessionId))
      .filter((c) => c.background)
      .map((c) => ({ id: c.id, command: c.line, status: c.status }));
    if (rows.length === 0) return this.#note("no background commands");
    this.#view.print(terminalText("jobs", rows));
  }

  async #library(): Promise<void> {
    const files = await this.#client.call(API.listLibrary);
    if (files.length === 0) return this.#note("the library is empty");
    const rows = files.map((f) => ({
      ...f,
      sha256: f.sha256.slice(0, 16),
      signed: f.signed ? (f.signer ?? "yes") : "no",
    }));
    this.#view.print(terminalText("library", rows));
  }

  /** Ctrl+C: the foreground command is cancelled on the device; its result line follows. */
  async interrupt(): Promise<void> {
    const id = this.foreground;
    if (id === undefined) return;
    try {
      await this.#client.cancel(id, "Ctrl+C in the web console");
      this.#note(`cancelling ${id}…`);
    } catch (error) {
      const failure = failureOf(error);
      this.#note(`cannot cancel ${id}: ${failure.code} ${failure.message}`);
    }
  }

  #note(text: string): void {
    this.#view.print(`${DIM}${terminalLines(text).trimEnd()}${RESET}\r\n`);
  }
}
