import { CustodyError } from "@custody/core";

/** At most this many arguments for a script. */
export const MAX_SCRIPT_ARGS = 64;

/**
 * Splits `-parameters "ARGS"` into argv the way a POSIX shell splits words, and nothing more: blanks
 * separate words, '…' keeps everything literally, "…" keeps everything but `\"` and `\\`, and a
 * backslash outside quotes escapes the next character. No variable, command, glob or tilde expansion
 * ever happens: `$(rm -rf /)` is an argument, not a command. An unterminated quote is ERR_USAGE.
 */
export function splitScriptArguments(text: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote === "'") {
      if (c === "'") quote = undefined;
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = undefined;
      else if (c === "\\" && (text[i + 1] === '"' || text[i + 1] === "\\")) word += text[++i];
      else word += c;
    } else if (c === " " || c === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      inWord = true;
      if (c === "'" || c === '"') quote = c;
      else if (c === "\\") {
        if (i + 1 >= text.length) throw usage("-parameters ends with a lone backslash");
        word += text[++i];
      } else word += c;
    }
  }
  if (quote !== undefined) throw usage(`-parameters has an unterminated ${quote} quote`);
  if (inWord) words.push(word);
  if (words.length > MAX_SCRIPT_ARGS) throw usage(`-parameters has more than ${MAX_SCRIPT_ARGS} arguments`);
  return words;
}

function usage(message: string): CustodyError {
  return new CustodyError("ERR_USAGE", message);
}
