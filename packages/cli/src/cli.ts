import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import type { Logger } from "@custody/core";
import { CustodyError } from "@custody/core/errors";
import type { EarlyCopy } from "@custody/vault/early-copy";
import type { CommandContext, CommandEntry, CommandInfo, OptionValue } from "./command.js";
import { catalog } from "./commands/catalog.js";
import { EXIT, exitCodeFor } from "./exit-codes.js";
import { presentError } from "./failure.js";
import { createCliLogger, DEFAULT_LOG_LEVEL, LOG_LEVELS, quietLogger, takeLogLevel } from "./logging.js";
import { createProgressLine } from "./progress.js";
import { serverUrl } from "./server-url.js";
import {
  ignoreStderrErrors,
  StdoutClosedError,
  type StdoutWatch,
  settle,
  watchStdout,
} from "./stdout-watch.js";

export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

const COMMON: ParseArgsOptionsConfig = {
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
};

export function cliVersion(): string {
  // Found from this package's entry point, not this file: the bundle holds this code elsewhere.
  const file = new URL("../package.json", import.meta.resolve("@custody/cli"));
  const pkg = JSON.parse(readFileSync(file, "utf8")) as {
    version: string;
  };
  return pkg.version;
}

/** Runs `custody` with `argv` (without node and the script) and resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const stdout = watchStdout(io.stdout);
  ignoreStderrErrors(io.stderr);
  const fail = { json: argv.includes("--json"), io, stdout, logger: quietLogger };
  let code: number;
  try {
    const global = takeLogLevel(argv, io.env);
    fail.logger = createCliLogger(global.level, io.stderr);
    code = await dispatch(global.argv, io, stdout, fail.logger);
  } catch (error) {
    code = reportError(error, fail);
  }
  await settle(io.stdout);
  if (stdout.closed) return EXIT.closedPipe;
  // Output that could not be written (a full disk behind `> file`) is a failure, not a success.
  if (stdout.failure !== undefined && code === EXIT.ok) return reportError(stdout.failure, fail);
  return code;
}

/** Options that may also stand before the command, as in `custody --server URL --identity FILE list`. */
const LEADING_VALUE_OPTIONS = new Set(["--server", "--identity", "--vault", "--ca"]);

/** Moves leading `--server URL`-style options after the command words, where the command parses them. */
export function optionsAfterCommand(argv: readonly string[]): string[] {
  const leading: string[] = [];
  let at = 0;
  while (at < argv.length) {
    const arg = argv[at] as string;
    const name = arg.split("=")[0] as string;
    if (arg === "--json") leading.push(arg);
    else if (LEADING_VALUE_OPTIONS.has(name) && arg.includes("=")) leading.push(arg);
    else if (LEADING_VALUE_OPTIONS.has(name) && at + 1 < argv.length) leading.push(arg, argv[++at] as string);
    else break;
    at += 1;
  }
  return [...argv.slice(at), ...leading];
}

async function dispatch(argv: string[], io: CliIo, stdout: StdoutWatch, logger: Logger): Promise<number> {
  const err = (text: string) => io.stderr.write(`${text}\n`);
  if (argv[0] === "--version" || argv[0] === "-V") {
    stdout.write(`${cliVersion()}\n`);
    return EXIT.ok;
  }
  if (argv.length === 0 || argv[0] === "--help" || argv[0] === "-h" || argv[0] === "help") {
    stdout.write(generalHelp());
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  argv = optionsAfterCommand(argv);
  const command = findCommand(argv);
  const group = command === undefined ? commandsUnder(argv[0] ?? "") : [];
  if (group.length > 0) {
    // `custody keys` or `custody keys --help`: the group's commands.
    stdout.write(generalHelp(group));
    return argv.includes("--help") || argv.includes("-h") ? EXIT.ok : EXIT.usage;
  }
  if (command === undefined) {
    err(
      `custody: unknown command '${argv.filter((a) => !a.startsWith("-")).join(" ")}' (see custody --help)`,
    );
    return EXIT.usage;
  }
  const ctx = makeContext(command, argv.slice(command.path.length), { io, stdout, logger });
  if (ctx === undefined) {
    stdout.write(commandHelp(command));
    return EXIT.ok;
  }
  // A file to ingest is copied into a local vault's store while the command loads and opens the vault.
  const earlyCopy = command.copiesFileEarly === true ? await startEarlyCopy(ctx) : undefined;
  if (earlyCopy !== undefined) ctx.earlyCopy = earlyCopy;
  try {
    // Only the command that runs loads its module (the vault, the server, the Azure SDK...).
    const spec = await command.load();
    return await spec.run(ctx);
  } finally {
    earlyCopy?.discard();
  }
}

/** The copy of a local ingest's FILE into the vault's fs store, begun now (see `copiesFileEarly`). */
async function startEarlyCopy(ctx: CommandContext): Promise<EarlyCopy | undefined> {
  const file = ctx.positionals[0];
  if (file === undefined || serverUrl(ctx) !== undefined) return undefined;
  const { resolveVaultDir, startIngestEarlyCopy } = await import("@custody/vault/early-copy");
  return startIngestEarlyCopy(resolveVaultDir(ctx.string("vault"), ctx.env, ctx.cwd), resolve(ctx.cwd, file));
}

function commandsUnder(word: string): CommandEntry[] {
  return catalog.filter((c) => c.path.length > 1 && c.path[0] === word);
}

function findCommand(argv: readonly string[]): CommandEntry | undefined {
  const matches = catalog.filter((c) => c.path.every((word, i) => argv[i] === word));
  return matches.sort((a, b) => b.path.length - a.path.length)[0];
}

interface Sinks {
  io: CliIo;
  stdout: StdoutWatch;
  logger: Logger;
}

function makeContext(
  command: CommandInfo,
  args: string[],
  { io, stdout, logger }: Sinks,
): CommandContext | undefined {
  const parsed = parseOrUsage(command, args);
  if (parsed.values.help === true) return undefined;
  checkPositionals(command, parsed.positionals);
  const values = parsed.values as Record<string, OptionValue>;
  const isTTY = io.stderr.isTTY === true;
  return {
    values,
    positionals: parsed.positionals,
    json: values.json === true,
    env: io.env,
    cwd: io.cwd,
    isTTY,
    stdout: io.stdout,
    stderr: io.stderr,
    stdin: io.stdin,
    logger,
    out: (text) => stdout.write(`${text}\n`),
    err: (text) => io.stderr.write(`${text}\n`),
    printJson: (value) => stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    progress: () => createProgressLine(io.stderr, isTTY && values.json !== true),
    string: (name) => lastString(values[name]),
    strings: (name) => allStrings(values[name]),
    flag: (name) => values[name] === true,
  };
}

function parseOrUsage(command: CommandInfo, args: string[]) {
  try {
    return parseArgs({
      args,
      options: { ...command.options, ...COMMON },
      allowPositionals: true,
      strict: true,
    });
  } catch (cause) {
    throw new CustodyError("ERR_USAGE", `${(cause as Error).message}\nusage: ${synopsis(command)}`, {
      cause,
    });
  }
}

function checkPositionals(command: CommandInfo, positionals: string[]): void {
  const { min, max } = command.positionals ?? { min: 0, max: 0 };
  if (positionals.length < min || (max !== undefined && positionals.length > max)) {
    const expected = max === undefined ? `at least ${min}` : min === max ? `${min}` : `${min} to ${max}`;
    throw new CustodyError(
      "ERR_USAGE",
      `expected ${expected} argument(s), got ${positionals.length}\nusage: ${synopsis(command)}`,
    );
  }
}

function lastString(value: OptionValue): string | undefined {
  if (Array.isArray(value)) return lastString(value.at(-1));
  return typeof value === "string" ? value : undefined;
}

function allStrings(value: OptionValue): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === "string");
}

/** `custody: ERR_…: message` on stderr (and the error as JSON with --json); never a stack. */
function reportError(error: unknown, { json, io, stdout, logger }: Sinks & { json: boolean }): number {
  // The reader of stdout has gone (`custody list | head -1`): end quietly, as coreutils do.
  if (stdout.closed || error instanceof StdoutClosedError) return EXIT.closedPipe;
  const coded = presentError(error);
  logger.debug({ err: error }, "the failure behind the message");
  if (json && stdout.failure === undefined)
    io.stdout.write(`${JSON.stringify({ ok: false, error: coded.toJSON() }, null, 2)}\n`);
  io.stderr.write(`custody: ${coded.code}: ${coded.message}\n`);
  return exitCodeFor(coded.code);
}

function synopsis(command: CommandInfo): string {
  return `custody ${command.path.join(" ")} ${command.usage.split("\n")[0] ?? ""}`.trimEnd();
}

function commandHelp(command: CommandInfo): string {
  const [, ...body] = command.usage.split("\n");
  const options = Object.entries({ ...command.options, ...COMMON }).map(([name, o]) => {
    const short = o.short ? `-${o.short}, ` : "    ";
    return `  ${short}--${name}${o.type === "string" ? " VALUE" : ""}${o.multiple ? " (repeatable)" : ""}`;
  });
  return [`usage: ${synopsis(command)}`, "", command.summary, ...body, "", "options:", ...options, ""].join(
    "\n",
  );
}

function generalHelp(listed: readonly CommandInfo[] = catalog): string {
  const width = Math.max(...listed.map((c) => c.path.join(" ").length));
  const rows = listed.map((c) => `  ${c.path.join(" ").padEnd(width)}  ${c.summary}`);
  return [
    `custody ${cliVersion()}: keep digital evidence under a provable chain of custody`,
    "",
    "usage: custody <command> [options]   (custody <command> --help for details)",
    "",
    "commands:",
    ...rows,
    "",
    "Every command takes --json (data for programs on stdout) and --help; --log-level LEVEL (or",
    `CUSTODY_LOG_LEVEL; ${LOG_LEVELS.join(", ")}; default ${DEFAULT_LOG_LEVEL}) sets what is logged to stderr.`,
    "Exit codes: 0 ok, 1 verification or integrity failure, 2 usage error, 3 access denied,",
    "4 not found, 5 conflict or immutable, 6 backend unavailable, 7 disk full or I/O error,",
    "10 internal error, 141 stdout closed by its reader (see docs/cli.md).",
    "",
  ].join("\n");
}

function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
  };
}
