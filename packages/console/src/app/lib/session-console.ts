import type { LiveCommand } from "@custody/api";
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
    const word = line.split(/\s+/)[0];
    if (word === "help" && line === "help") return this.#view.print(helpText());
    if (word === "clear") return this.#view.clear();
    if (word === "exit" || word === "logout") return this.#hooks.onExit();
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
