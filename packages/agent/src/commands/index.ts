import { lstat, realpath } from "node:fs/promises";
import { CustodyError, throwIfAborted, toCustodyError } from "@custody/core";
import type { AgentPolicy } from "../policy-types.js";
import { bindArguments } from "../registry.js";
import type {
  DownloadBody,
  PackageUploadBody,
  QuarantineBody,
  RestoreBody,
  ScriptBody,
  TransferBody,
} from "../schemas.js";
import { analyzeFile } from "./analyze/index.js";
import { type CollectorSignerSource, collectOnDevice, type PackageUploader } from "./collect.js";
import { collectedRows, isCollectedCommand } from "./collected.js";
import { dir } from "./dir.js";
import { drivers } from "./drivers.js";
import { fileInfo } from "./fileinfo.js";
import { findFile } from "./findfile.js";
import { getFile, type Uploader } from "./getfile.js";
import { isolate, type Peer, release } from "./isolate.js";
import { checkedPath } from "./paths.js";
import { putFile } from "./putfile.js";
import { registry } from "./registry-query.js";
import type { ServerExchange } from "./remediate/exchange.js";
import { remediate } from "./remediate/run.js";
import { undoRemediation } from "./remediate/undo.js";
import { runScript } from "./run.js";
import { splitScriptArguments } from "./script-args.js";
import { checkScript } from "./script-check.js";

export type Row = Record<string, unknown>;
/** Yields the command's rows, then returns its result data (cd: `{cwd}`, fileinfo and getfile: the file). */
export type CommandRun = AsyncGenerator<Row, Row | undefined, void>;

export interface CommandInput {
  name: string;
  positional: readonly string[];
  flags: Readonly<Record<string, string | true>>;
}

export interface RunCommandOptions {
  cwd: string | null;
  signal: AbortSignal;
  policy: AgentPolicy;
  transfer?: TransferBody;
  upload?: Uploader;
  /** `run`: the script as the server sent it, and the vault CA this agent pinned to verify it. */
  script?: ScriptBody;
  caPem?: string;
  /** Where the live connection goes (isolate keeps it open), and the server's address as enrolled. */
  peer?: () => Peer | undefined;
  serverUrl?: string;
  /** `collect`: this device, the analyst, where the package goes, how, and the device's own signer. */
  collect?: {
    deviceId: string;
    operator: string;
    upload: PackageUploadBody | undefined;
    uploader: PackageUploader;
    signer: CollectorSignerSource;
  };
  /** remediate, undo, putfile: the command's id, the agent's folder, its own files, the server's side. */
  cmdId?: string;
  agentDir?: string;
  own?: readonly string[];
  exchange?: ServerExchange;
  quarantine?: QuarantineBody;
  download?: DownloadBody;
  restore?: RestoreBody;
}

function agentDirOf(options: RunCommandOptions): string {
  if (options.agentDir === undefined || options.cmdId === undefined)
    throw new CustodyError("ERR_PROTOCOL", "this agent runs without a folder for remediations and files");
  return options.agentDir;
}

function remediationRows(data: { steps: Row[] } & Row): Row[] {
  return data.steps.map((step) => ({
    id: data.id,
    type: data.type,
    target: data.target,
    step: step.action,
    ...step,
  }));
}

async function cd(input: string, options: RunCommandOptions): Promise<Row> {
  const path = await checkedPath(input, options.cwd, options.policy);
  let real: string;
  try {
    real = await realpath(path);
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot cd to ${path}`);
  }
  await checkedPath(real, null, options.policy);
  if (!(await lstat(real)).isDirectory())
    throw new CustodyError("ERR_INVALID_ARGUMENT", `${path} is not a directory`, { details: { path } });
  return { cwd: real };
}

function filterProcesses(rows: Row[], args: Record<string, string | true>): Row[] {
  return rows.filter(
    (row) =>
      (args.pid === undefined || String(row.pid) === args.pid) &&
      (args.name === undefined || row.name === args.name),
  );
}

async function* collected(
  name: string,
  args: Record<string, string | true>,
  signal: AbortSignal,
): CommandRun {
  let rows = await collectedRows(name, signal);
  if (name === "processes") rows = filterProcesses(rows, args);
  if ((name === "services" || name === "scheduledtasks") && typeof args.name === "string") {
    const wanted = args.name;
    rows = rows.filter(
      (row) =>
        String(row.name ?? row.command ?? "").includes(wanted) || String(row.source ?? "").includes(wanted),
    );
  }
  for (const row of rows) {
    throwIfAborted(signal);
    yield row;
  }
  return undefined;
}

/** A run's row for the console: its summary and its output as text (the bytes travel in the result). */
function outputRow(data: Row): Row {
  const { stdoutBase64, ...summary } = data;
  return { ...summary, stdout: Buffer.from(String(stdoutBase64), "base64").toString("utf8") };
}

async function* single(row: Promise<Row>): CommandRun {
  const value = await row;
  yield value;
  return value;
}

async function* each(rows: Promise<Row[]>, signal: AbortSignal): CommandRun {
  for (const row of await rows) {
    throwIfAborted(signal);
    yield row;
  }
  return undefined;
}

/**
 * Runs one agent-side command: arguments are bound against the registry (ERR_USAGE), paths resolved
 * against the session directory and checked against the local policy, and every command stops when
 * `signal` fires. Console commands and unknown names are refused.
 */
export async function* runCommand(command: CommandInput, options: RunCommandOptions): CommandRun {
  const args = bindArguments(command.name, command.positional, command.flags);
  throwIfAborted(options.signal);
  const path = typeof args.path === "string" ? args.path : undefined;
  switch (command.name) {
    case "cd":
      return yield* single(cd(String(args.path), options));
    case "dir":
      return yield* dir(path, args.recursive === true, options);
    case "fileinfo":
      return yield* single(
        fileInfo(String(args.path), {
          ...options,
          hash: typeof args.hash === "string" ? args.hash : undefined,
        }),
      );
    case "findfile":
      return yield* findFile(args, options);
    case "getfile":
      return yield* single(
        getFile(String(args.path), { ...options, transfer: options.transfer, upload: options.upload }),
      );
    case "run": {
      const checked = checkScript(options.script, String(args.script), options.policy, options.caPem);
      const argv = typeof args.parameters === "string" ? splitScriptArguments(args.parameters) : [];
      const data = await runScript(checked, { cwd: options.cwd, signal: options.signal, args: argv });
      yield outputRow(data);
      return data;
    }
    case "analyze":
      // facts only: the vault states the verdict (and sends it as the command's row)
      return await analyzeFile(String(args.path), options);
    case "isolate":
    case "release": {
      const network = { signal: options.signal, peer: options.peer?.(), serverUrl: options.serverUrl ?? "" };
      return yield* single(command.name === "isolate" ? isolate(network) : release(network));
    }
    case "collect":
      // facts only: the server verifies and stores the package, then sends the row with the item id
      return await collectOnDevice(args, {
        signal: options.signal,
        deviceId: options.collect?.deviceId ?? "",
        operator: options.collect?.operator ?? "",
        upload: options.collect?.upload,
        uploader: options.collect?.uploader,
        signer: options.collect?.signer,
      });
    case "putfile":
      return yield* single(
        putFile(String(args.name), {
          agentDir: agentDirOf(options),
          overwrite: args.overwrite === true,
          signal: options.signal,
          download: options.download,
          exchange: options.exchange,
        }),
      );
    case "remediate":
    case "undo": {
      const common = {
        signal: options.signal,
        policy: options.policy,
        agentDir: agentDirOf(options),
        own: options.own ?? [],
      };
      const data =
        command.name === "remediate"
          ? await remediate(String(args.type), String(args.target), {
              ...common,
              cmdId: options.cmdId as string,
              cwd: options.cwd,
              quarantine: options.quarantine,
              exchange: options.exchange,
              upload: options.upload,
            })
          : await undoRemediation(String(args.id), {
              ...common,
              restore: options.restore,
              exchange: options.exchange,
            });
      for (const row of remediationRows(data)) yield row;
      return data;
    }
    case "drivers":
      return yield* each(drivers(), options.signal);
    case "registry":
      return yield* each(registry(String(args.key), options.signal), options.signal);
    default:
      if (isCollectedCommand(command.name)) return yield* collected(command.name, args, options.signal);
      throw new CustodyError("ERR_UNKNOWN_COMMAND", `${command.name} does not run on the device`, {
        details: { name: command.name },
      });
  }
}

export type { CollectorSignerSource, PackageUploader } from "./collect.js";
export type { FileBody, Uploader } from "./getfile.js";
export type { Peer } from "./isolate.js";
export { resetWorkDir, workDir } from "./putfile.js";
export type { QuarantineFile, ServerExchange } from "./remediate/exchange.js";
