import type { ParseArgsOptionsConfig } from "node:util";
import type { Logger } from "@custody/core";
import type { EarlyCopy } from "@custody/vault/early-copy";

/** What a parsed option can hold (node:util parseArgs values). */
export type OptionValue = string | boolean | (string | boolean)[] | undefined;

/** Live progress on a terminal, nothing when output is not a TTY. */
export interface ProgressLine {
  update(text: string): void;
  done(text?: string): void;
}

/** What a command gets: parsed arguments and the places it may write to. */
export interface CommandContext {
  readonly values: Readonly<Record<string, OptionValue>>;
  readonly positionals: readonly string[];
  /** `--json` was given: print data as JSON on stdout, nothing else there. */
  readonly json: boolean;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly isTTY: boolean;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream;
  /** Where library warnings go (pino, on stderr; --log-level, $CUSTODY_LOG_LEVEL, default warn). */
  readonly logger: Logger;
  /** A line of data on stdout; throws once stdout's reader has gone, so long output stops there. */
  out(text: string): void;
  /** A message for a person on stderr. */
  err(text: string): void;
  printJson(value: unknown): void;
  progress(): ProgressLine;
  /** A string option, or undefined. */
  string(name: string): string | undefined;
  /** Every value of a repeatable string option. */
  strings(name: string): string[];
  flag(name: string): boolean;
  /** The copy of the command's FILE begun while its module loaded (`CommandSpec.copiesFileEarly`). */
  earlyCopy?: EarlyCopy;
}

/** One `custody` subcommand. `--json`, `--help` and `--log-level` are added to every command by the framework. */
export interface CommandSpec {
  /** Words that select the command: ["hash"], ["keys", "init"]. */
  readonly path: readonly string[];
  readonly summary: string;
  /** Synopsis after `custody <path>`, then lines of explanation. */
  readonly usage: string;
  readonly options: ParseArgsOptionsConfig;
  readonly positionals?: { min: number; max?: number };
  /**
   * The command ingests its first positional, a whole file, into the vault: into a local vault's fs
   * store, the file is copied while the command's module loads and the vault opens (`ctx.earlyCopy`).
   */
  readonly copiesFileEarly?: boolean;
  /** Resolves to the exit code. Throw a CustodyError for failures: the framework maps its code. */
  run(ctx: CommandContext): Promise<number>;
}

/** What `custody` knows of a command without loading its module: everything but `run`. */
export type CommandInfo = Omit<CommandSpec, "run">;

/** A command as registered in commands/catalog.ts: its module is imported only when it runs. */
export interface CommandEntry extends CommandInfo {
  load(): Promise<CommandSpec>;
}
