// The terminal's line editing, apart from xterm.js so it is tested without a browser: it takes what the
// terminal sends (keys, pasted text, escape sequences) and says what to draw and what the analyst did.

export type EditorEvent =
  /** Text to write to the terminal (the redrawn line, a newline). */
  | { kind: "write"; text: string }
  /** Enter: the line to run (never empty, never a blank line). */
  | { kind: "submit"; line: string }
  /** Ctrl+C: cancel the command in the foreground (or drop the line being typed). */
  | { kind: "interrupt" }
  /** Ctrl+D on an empty line: end the session. */
  | { kind: "end" };

const HISTORY_LIMIT = 500;
/** The server takes lines up to 8 KiB; the editor stops taking characters at that length. */
export const MAX_EDITOR_LINE = 8192;

/** Escape sequences the editor understands; any other is dropped, never inserted. */
const KEYS: Record<string, (e: LineEditor) => void> = {
  "\x1b[D": (e) => e.move(-1),
  "\x1b[C": (e) => e.move(1),
  "\x1b[A": (e) => e.recall(-1),
  "\x1b[B": (e) => e.recall(1),
  "\x1b[H": (e) => e.moveTo(0),
  "\x1bOH": (e) => e.moveTo(0),
  "\x1b[F": (e) => e.moveTo(Number.POSITIVE_INFINITY),
  "\x1bOF": (e) => e.moveTo(Number.POSITIVE_INFINITY),
  "\x1b[3~": (e) => e.deleteForward(),
};

export class LineEditor {
  #line: string[] = [];
  #cursor = 0;
  #history: string[] = [];
  /** Where the analyst is in the history while recalling; history.length is the line being typed. */
  #recalled = 0;
  #draft: string[] = [];
  #out: EditorEvent[] = [];
  prompt: string;

  constructor(prompt = "> ") {
    this.prompt = prompt;
  }

  get line(): string {
    return this.#line.join("");
  }

  get cursor(): number {
    return this.#cursor;
  }

  get history(): readonly string[] {
    return this.#history;
  }

  /** What the terminal sent (one key, an escape sequence or a paste): the events it leads to, in order. */
  feed(data: string): EditorEvent[] {
    this.#out = [];
    let i = 0;
    while (i < data.length) i = this.#step(data, i);
    return this.#out;
  }

  /** The prompt and the line, for after output was written (a fresh line). */
  redraw(): string {
    const back = this.#line.length - this.#cursor;
    return `\r\x1b[2K${this.prompt}${this.line}${back > 0 ? `\x1b[${back}D` : ""}`;
  }

  #step(data: string, i: number): number {
    const c = data[i] as string;
    if (c === "\x1b") return this.#escape(data, i);
    if (c === "\r" || c === "\n") {
      this.#submit();
      // \r\n from a paste is one line end
      return c === "\r" && data[i + 1] === "\n" ? i + 2 : i + 1;
    }
    const control = CONTROLS[c];
    if (control !== undefined) control(this);
    else if (c >= " ") {
      // a run of printable characters (typing, a paste) is inserted and drawn once
      // biome-ignore lint/suspicious/noControlCharactersInRegex: a run ends at the first control character
      const run = /^[^\x00-\x1f\x7f]+/.exec(data.slice(i))?.[0] ?? c;
      this.insert(run);
      return i + run.length;
    }
    return i + 1;
  }

  #escape(data: string, i: number): number {
    for (const [sequence, action] of Object.entries(KEYS)) {
      if (data.startsWith(sequence, i)) {
        action(this);
        return i + sequence.length;
      }
    }
    // an unknown CSI sequence is skipped whole (parameters, then one final byte)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: an escape sequence starts with ESC
    const csi = /^\x1b\[[0-?]*[ -/]*[@-~]/.exec(data.slice(i, i + 32));
    return i + (csi?.[0].length ?? 1);
  }

  #emit(event: EditorEvent): void {
    const last = this.#out.at(-1);
    if (event.kind === "write" && last?.kind === "write") last.text += event.text;
    else this.#out.push(event);
  }

  #changed(): void {
    this.#emit({ kind: "write", text: this.redraw() });
  }

  insert(text: string): void {
    const chars = Array.from(text).slice(0, MAX_EDITOR_LINE - this.#line.length);
    if (chars.length === 0) return;
    this.#line.splice(this.#cursor, 0, ...chars);
    this.#cursor += chars.length;
    this.#changed();
  }

  backspace(): void {
    if (this.#cursor === 0) return;
    this.#line.splice(this.#cursor - 1, 1);
    this.#cursor -= 1;
    this.#changed();
  }

  deleteForward(): void {
    if (this.#cursor >= this.#line.length) return;
    this.#line.splice(this.#cursor, 1);
    this.#changed();
  }

  move(by: number): void {
    this.moveTo(this.#cursor + by);
  }

  moveTo(at: number): void {
    const next = Math.max(0, Math.min(this.#line.length, at));
    if (next === this.#cursor) return;
    this.#cursor = next;
    this.#changed();
  }

  /** Ctrl+U: everything before the cursor goes. */
  killBefore(): void {
    if (this.#cursor === 0) return;
    this.#line.splice(0, this.#cursor);
    this.#cursor = 0;
    this.#changed();
  }

  /** Ctrl+W: the word before the cursor goes. */
  killWord(): void {
    let start = this.#cursor;
    while (start > 0 && this.#line[start - 1] === " ") start--;
    while (start > 0 && this.#line[start - 1] !== " ") start--;
    if (start === this.#cursor) return;
    this.#line.splice(start, this.#cursor - start);
    this.#cursor = start;
    this.#changed();
  }

  /** Up (-1) and down (+1) through the lines already run; the line being typed is kept as a draft. */
  recall(by: number): void {
    const next = Math.max(0, Math.min(this.#history.length, this.#recalled + by));
    if (next === this.#recalled) return;
    if (this.#recalled === this.#history.length) this.#draft = [...this.#line];
    this.#recalled = next;
    this.#line = next === this.#history.length ? [...this.#draft] : Array.from(this.#history[next] ?? "");
    this.#cursor = this.#line.length;
    this.#changed();
  }

  interrupt(): void {
    this.#emit({ kind: "write", text: "^C\r\n" });
    this.#line = [];
    this.#cursor = 0;
    this.#recalled = this.#history.length;
    this.#emit({ kind: "interrupt" });
  }

  endOfInput(): void {
    if (this.#line.length === 0) this.#emit({ kind: "end" });
    else this.deleteForward();
  }

  #submit(): void {
    const line = this.line;
    // a blank line gets a fresh prompt here; after a real one the caller prompts when it is done
    this.#emit({ kind: "write", text: line.trim() === "" ? `\r\n${this.prompt}` : "\r\n" });
    this.#line = [];
    this.#cursor = 0;
    if (line.trim() !== "") {
      if (this.#history.at(-1) !== line) this.#history.push(line);
      if (this.#history.length > HISTORY_LIMIT) this.#history.shift();
      this.#emit({ kind: "submit", line: line.trim() });
    }
    this.#recalled = this.#history.length;
    this.#draft = [];
  }
}

const CONTROLS: Record<string, (e: LineEditor) => void> = {
  "\x7f": (e) => e.backspace(),
  "\b": (e) => e.backspace(),
  "\x03": (e) => e.interrupt(),
  "\x04": (e) => e.endOfInput(),
  "\x01": (e) => e.moveTo(0),
  "\x05": (e) => e.moveTo(Number.POSITIVE_INFINITY),
  "\x02": (e) => e.move(-1),
  "\x06": (e) => e.move(1),
  "\x15": (e) => e.killBefore(),
  "\x17": (e) => e.killWord(),
  "\x10": (e) => e.recall(-1),
  "\x0e": (e) => e.recall(1),
};
