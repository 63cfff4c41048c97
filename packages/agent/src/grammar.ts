import { CustodyError } from "@custody/core";
import { bindArguments, COMMANDS } from "./registry.js";

/** Limits on one console line: bounded before anything else looks at it. */
export const MAX_LINE_BYTES = 8 * 1024;
export const MAX_ARGS = 64;

export interface ParsedCommandLine {
  name: string;
  positional: string[];
  flags: Record<string, string | true>;
  output?: "json" | "table";
  /** `> file`: where the console writes the output on the analyst's machine. */
  redirect?: string;
  background: boolean;
}

interface Token {
  value: string;
  quoted: boolean;
  at: number;
}

// C0 and C1 controls, DEL, and the bidirectional overrides that make a line display differently from what runs.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
const FLAG = /^-[A-Za-z][A-Za-z0-9_]*$/;
const FLAG_NAME = /^[a-z][a-z0-9_]{0,31}$/;
const NAME = /^[A-Za-z][A-Za-z0-9]{0,31}$/;

function usage(message: string, details: Record<string, unknown> = {}): CustodyError {
  return new CustodyError("ERR_USAGE", message, { details });
}

function checkLine(line: string): void {
  const bytes = Buffer.byteLength(line, "utf8");
  if (bytes > MAX_LINE_BYTES)
    throw new CustodyError("ERR_SIZE_LIMIT", `the command line is ${bytes} bytes, over ${MAX_LINE_BYTES}`, {
      details: { bytes },
    });
  if (!line.isWellFormed()) throw usage("the command line holds an unpaired surrogate");
  const bad = FORBIDDEN.exec(line);
  if (bad !== null)
    throw usage(
      `control or direction character U+${(bad[0].codePointAt(0) ?? 0).toString(16).padStart(4, "0")} at ${bad.index}`,
      { at: bad.index },
    );
}

/** Splits on spaces; `"..."` quotes a value, `""` inside it is one quote, backslashes are literal. */
function tokenize(line: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === " ") {
      i++;
      continue;
    }
    const at = i;
    if (line[i] === '"') {
      let value = "";
      i++;
      for (;;) {
        if (i >= line.length) throw usage(`unterminated quote starting at ${at}`, { at });
        if (line[i] === '"' && line[i + 1] === '"') {
          value += '"';
          i += 2;
        } else if (line[i] === '"') {
          i++;
          break;
        } else value += line[i++];
      }
      if (i < line.length && line[i] !== " ")
        throw usage(`a closing quote must end the argument (at ${i})`, { at: i });
      tokens.push({ value, quoted: true, at });
    } else {
      const end = line.indexOf(" ", i) === -1 ? line.length : line.indexOf(" ", i);
      const value = line.slice(i, end);
      if (value.includes('"'))
        throw usage(`a quote inside an unquoted argument at ${at}; quote the whole argument`, { at });
      tokens.push({ value, quoted: false, at });
      i = end;
    }
    if (tokens.length > MAX_ARGS + 1)
      throw new CustodyError("ERR_SIZE_LIMIT", `more than ${MAX_ARGS} arguments`, {
        details: { limit: MAX_ARGS },
      });
  }
  return tokens;
}

const isBare = (token: Token | undefined, value: string) =>
  token !== undefined && !token.quoted && token.value === value;

/** Takes `&` and `> file` off the end of the tokens. */
function takeTail(tokens: Token[], parsed: ParsedCommandLine): void {
  if (isBare(tokens.at(-1), "&")) {
    tokens.pop();
    parsed.background = true;
  }
  if (isBare(tokens.at(-2), ">")) {
    const target = tokens.pop() as Token;
    tokens.pop();
    if (target.value === "" || (!target.quoted && (target.value === "&" || target.value === ">")))
      throw usage("`>` needs a file name", { at: target.at });
    parsed.redirect = target.value;
  }
  for (const token of tokens) {
    if (
      !token.quoted &&
      (token.value === ">" || token.value === "&" || token.value === "|" || token.value === "<")
    )
      throw usage(
        `${token.value} may only come at the end (\`> file\`, then \`&\`); quote it to pass it as a value`,
        { at: token.at },
      );
  }
}

function setFlag(parsed: ParsedCommandLine, name: string, value: string | true, at: number): void {
  if (name === "output") {
    if (value !== "json" && value !== "table") throw usage("-output takes json or table", { at });
    if (parsed.output !== undefined) throw usage("-output given twice", { at });
    parsed.output = value;
    return;
  }
  if (Object.hasOwn(parsed.flags, name)) throw usage(`-${name} given twice`, { at });
  parsed.flags[name] = value;
}

/**
 * Parses one console line: `name [positional | -flag [value]]... [-output json|table] [> file] [&]`.
 * A flag the command declares as a switch never takes a value; any other flag takes the next argument
 * unless that is itself a flag. Arguments are then bound to the command's parameters (ERR_USAGE).
 */
export function parseCommandLine(line: string): ParsedCommandLine {
  checkLine(line);
  const tokens = tokenize(line);
  const first = tokens.shift();
  if (first === undefined) throw usage("empty command line");
  if (first.quoted || !NAME.test(first.value))
    throw usage(`not a command name: ${JSON.stringify(first.value)}`);
  const name = first.value.toLowerCase();
  const spec = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (spec === undefined)
    throw new CustodyError("ERR_UNKNOWN_COMMAND", `unknown command ${JSON.stringify(name)}; try help`, {
      details: { name },
    });
  const parsed: ParsedCommandLine = { name, positional: [], flags: {}, background: false };
  takeTail(tokens, parsed);
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i] as Token;
    if (token.quoted || !FLAG.test(token.value)) {
      parsed.positional.push(token.value);
      continue;
    }
    const flag = token.value.slice(1).toLowerCase();
    if (!FLAG_NAME.test(flag)) throw usage(`bad flag name ${token.value}`, { at: token.at });
    const next = tokens[i + 1];
    const takesValue =
      !spec.switches.includes(flag) && next !== undefined && (next.quoted || !FLAG.test(next.value));
    setFlag(parsed, flag, takesValue ? (next as Token).value : true, token.at);
    if (takesValue) i++;
  }
  bindArguments(name, parsed.positional, parsed.flags);
  return parsed;
}

function quote(value: string): string {
  return value === "" || /[\s"]/.test(value) || FLAG.test(value) || ["&", ">", "|", "<"].includes(value)
    ? `"${value.replaceAll('"', '""')}"`
    : value;
}

/** The inverse of parseCommandLine: `parseCommandLine(renderCommandLine(x))` gives back `x`. */
export function renderCommandLine(parsed: ParsedCommandLine): string {
  const parts = [parsed.name, ...parsed.positional.map(quote)];
  for (const [flag, value] of Object.entries(parsed.flags))
    parts.push(value === true ? `-${flag}` : `-${flag} ${quote(value)}`);
  if (parsed.output !== undefined) parts.push("-output", parsed.output);
  if (parsed.redirect !== undefined) parts.push(">", quote(parsed.redirect));
  if (parsed.background) parts.push("&");
  return parts.join(" ");
}
