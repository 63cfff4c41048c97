// Everything from the device is untrusted: every control character (cursor moves, OSC 52 clipboard
// writes, bidi overrides) is shown as a visible escape. Apart from terminal-text.ts so pages that show
// device text do not pull the command registry into the first load.

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/** Device text made printable: every control character shown as `\e` or `\uXXXX`. */
export function escapeControls(text: string): string {
  return text.replace(UNSAFE, (c) =>
    c === "\u001b" ? "\\e" : `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
  );
}
