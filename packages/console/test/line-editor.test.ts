import { describe, expect, it } from "vitest";
import { LineEditor, MAX_EDITOR_LINE } from "../src/app/lib/line-editor.ts";
import { escapeControls, helpText, terminalText } from "../src/app/lib/terminal-text.ts";

const submitted = (events: ReturnType<LineEditor["feed"]>) =>
  events.flatMap((e) => (e.kind === "submit" ? [e.line] : []));

describe("LineEditor", () => {
  it("submits typed text on Enter, trimmed, and keeps it in the history", () => {
    const editor = new LineEditor("$ ");
    expect(submitted(editor.feed("  processes \r"))).toEqual(["processes"]);
    expect(editor.line).toBe("");
    expect(editor.history).toEqual(["  processes "]);
  });

  it("edits in the middle: arrows, backspace, delete, home and end", () => {
    const editor = new LineEditor();
    editor.feed("getfle");
    editor.feed("\x1b[D\x1b[D");
    editor.feed("i");
    expect(editor.line).toBe("getfile");
    expect(editor.cursor).toBe(5);
    editor.feed("\x01\x1b[3~");
    expect(editor.line).toBe("etfile");
    editor.feed("\x05\x7f\x7f");
    expect(editor.line).toBe("etfi");
    editor.feed("\x1b[H");
    expect(editor.cursor).toBe(0);
    editor.feed("\x7f");
    expect(editor.line).toBe("etfi");
  });

  it("redraws the whole line with the cursor where it is", () => {
    const editor = new LineEditor("> ");
    const events = editor.feed("ab\x1b[D");
    expect(events).toEqual([{ kind: "write", text: expect.stringContaining("\r\x1b[2K> ab\x1b[1D") }]);
  });

  it("recalls earlier lines with up and down and keeps the draft", () => {
    const editor = new LineEditor();
    editor.feed("one\rtwo\r");
    editor.feed("dra");
    editor.feed("\x1b[A");
    expect(editor.line).toBe("two");
    editor.feed("\x1b[A\x1b[A");
    expect(editor.line).toBe("one");
    editor.feed("\x1b[B\x1b[B");
    expect(editor.line).toBe("dra");
  });

  it("Ctrl+C interrupts and drops the line; Ctrl+D on an empty line ends", () => {
    const editor = new LineEditor();
    const events = editor.feed("sleep 100\x03");
    expect(events.map((e) => e.kind)).toEqual(["write", "interrupt"]);
    expect(editor.line).toBe("");
    expect(editor.feed("\x04")).toEqual([{ kind: "end" }]);
  });

  it("kills words and the start of the line", () => {
    const editor = new LineEditor();
    editor.feed("getfile -path /etc/passwd\x17");
    expect(editor.line).toBe("getfile -path ");
    editor.feed("\x15");
    expect(editor.line).toBe("");
  });

  it("takes a pasted block as several lines and skips blank ones", () => {
    const editor = new LineEditor("> ");
    const events = editor.feed("processes\r\n\r\nconnections\n");
    expect(submitted(events)).toEqual(["processes", "connections"]);
    expect(events.some((e) => e.kind === "write" && e.text.includes("\r\n> "))).toBe(true);
  });

  it("drops unknown escape sequences and control characters instead of inserting them", () => {
    const editor = new LineEditor();
    editor.feed("a\x1b[15~b\x1b[1;5Cc\x07\x1bd");
    expect(editor.line).toBe("abcd");
  });

  it("stops taking characters at the server's line limit", () => {
    const editor = new LineEditor();
    editor.feed("x".repeat(MAX_EDITOR_LINE + 10));
    expect(editor.line.length).toBe(MAX_EDITOR_LINE);
  });
});

describe("terminal text", () => {
  it("shows a device's control characters as visible escapes", () => {
    expect(escapeControls("a\x1b]52;c;AAAA\x07b\u202e")).toBe("a\\e]52;c;AAAA\\u0007b\\u202e");
  });

  it("turns rows into table lines ending in CRLF for the terminal", () => {
    const text = terminalText("processes", [{ pid: 1, name: "init\x1b[2J" }]);
    expect(text).toContain("\\u001b[2J");
    expect(text).not.toContain("\x1b");
    expect(text.endsWith("\r\n")).toBe(true);
    expect(text.split("\r\n").length).toBeGreaterThan(2);
  });
});

describe("help in the page", () => {
  it("lists the registry's commands, and one command's usage, tier and timeout", () => {
    expect(helpText()).toMatch(/getfile PATH \[-auto\]/);
    expect(helpText()).toMatch(/Ctrl\+C cancels/);
    expect(helpText("getfile")).toMatch(/^getfile PATH \[-auto\]\r\n/);
    expect(helpText("no\u001bsuch")).toBe("unknown command no\\esuch; 'help' lists them\r\n");
  });
});
