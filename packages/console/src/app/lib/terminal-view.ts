import { FitAddon } from "@xterm/addon-fit";
import { Terminal } from "@xterm/xterm";
import "@xterm/xterm/css/xterm.css";
import { adoptInjectedStyles } from "./adopted-styles.ts";
import { type EditorEvent, LineEditor } from "./line-editor.ts";

// The terminal of a live-response session, loaded as its own chunk when a session page opens: xterm.js
// draws, the LineEditor edits, and the page runs what is submitted.

export interface TerminalHandlers {
  onLine(line: string): void;
  onInterrupt(): void;
  onEnd(): void;
}

export interface TerminalView {
  /** Writes text (already escaped, CRLF line ends) above the prompt, then redraws the prompt line. */
  print(text: string): void;
  /** Shows the prompt (after a command finished). */
  prompt(prompt?: string): void;
  clear(): void;
  focus(): void;
  dispose(): void;
}

export function createTerminalView(host: HTMLElement, handlers: TerminalHandlers): TerminalView {
  const styles = adoptInjectedStyles(host.ownerDocument);
  const terminal = new Terminal({
    convertEol: false,
    cursorBlink: true,
    scrollback: 5000,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, monospace',
    fontSize: 14,
    // xterm's default red (#cd3131) on black is 4.0:1, under WCAG AA's 4.5:1 for text: failures are red
    theme: { red: "#f14c4c" },
  });
  const fit = new FitAddon();
  terminal.loadAddon(fit);
  terminal.open(host);
  fit.fit();
  const editor = new LineEditor("> ");
  let waiting = false;
  const dispatch = (event: EditorEvent) => {
    switch (event.kind) {
      case "write":
        terminal.write(event.text);
        return;
      case "submit":
        waiting = true;
        handlers.onLine(event.line);
        return;
      case "interrupt":
        handlers.onInterrupt();
        if (!waiting) terminal.write(editor.redraw());
        return;
      case "end":
        handlers.onEnd();
        return;
    }
  };
  const input = terminal.onData((data) => {
    for (const event of editor.feed(data)) dispatch(event);
  });
  const resize = new ResizeObserver(() => fit.fit());
  resize.observe(host);
  terminal.write(editor.redraw());
  return {
    print(text) {
      terminal.write(`\r\x1b[2K${text}`);
      if (!waiting) terminal.write(editor.redraw());
    },
    prompt(prompt) {
      if (prompt !== undefined) editor.prompt = prompt;
      waiting = false;
      terminal.write(editor.redraw());
    },
    clear: () => terminal.clear(),
    focus: () => terminal.focus(),
    dispose() {
      resize.disconnect();
      input.dispose();
      terminal.dispose();
      styles.dispose();
    },
  };
}
