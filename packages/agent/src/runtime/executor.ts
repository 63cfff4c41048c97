import { CustodyError, type ErrorCode, toCustodyError } from "@custody/core";
import type { CollectorSignerSource, PackageUploader } from "../commands/collect.js";
import type { Uploader } from "../commands/getfile.js";
import { type RunCommandOptions, runCommand } from "../commands/index.js";
import type { Peer } from "../commands/isolate.js";
import type { ServerExchange } from "../commands/remediate/exchange.js";
import type { AgentPolicy } from "../policy-types.js";
import type { CommandBody, ResultBody } from "../schemas.js";
import { MAX_ROWS_FRAME_BYTES } from "../schemas.js";

// Room for the envelope and the rows frame's own fields around a chunk.
const CHUNK_BYTES = MAX_ROWS_FRAME_BYTES - 4096;
const MAX_CELL_CHARS = 16 * 1024;

export type RowsSender = (rows: Record<string, unknown>[], chunk: number) => Promise<void>;

/** A row too large for one frame keeps its fields but has its long strings cut. */
function fitRow(row: Record<string, unknown>): { row: Record<string, unknown>; bytes: number } {
  let text = JSON.stringify(row);
  if (text.length * 3 < CHUNK_BYTES) return { row, bytes: Buffer.byteLength(text) };
  const cut = Object.fromEntries(
    Object.entries(row).map(([k, v]) => [
      k,
      typeof v === "string" && v.length > MAX_CELL_CHARS ? `${v.slice(0, MAX_CELL_CHARS)}…[cut]` : v,
    ]),
  );
  text = JSON.stringify(cut);
  if (Buffer.byteLength(text) > CHUNK_BYTES) return { row: { error: "row too large to send" }, bytes: 40 };
  return { row: cut, bytes: Buffer.byteLength(text) };
}

export interface ExecuteOptions {
  policy: AgentPolicy;
  signal: AbortSignal;
  sendRows: RowsSender;
  upload: Uploader;
  /** The vault CA pinned at enrollment: `run` verifies script signatures against it. */
  caPem?: string;
  peer?: () => Peer | undefined;
  serverUrl?: string;
  /** collect: how the package goes to the server, and this device's own signer. */
  packageUploader?: PackageUploader;
  collectorSigner?: CollectorSignerSource;
  /** remediate, undo, putfile: the server's side, the agent's folder and its own files. */
  exchange?: ServerExchange;
  agentDir?: string;
  own?: readonly string[];
  now?: () => number;
}

/** What stopped a command: a stop request wins over the error it caused, except a changed file. */
function outcome(
  cause: unknown,
  command: CommandBody,
  signal: AbortSignal,
): { status: ResultBody["status"]; error: CustodyError } {
  if (signal.aborted && !(cause instanceof CustodyError && cause.code === "ERR_FILE_CHANGED")) {
    return signal.reason === "timeout"
      ? {
          status: "timed-out",
          error: new CustodyError("ERR_TIMEOUT", `timed out after ${command.timeoutMs} ms`),
        }
      : {
          status: "cancelled",
          error: new CustodyError("ERR_ABORTED", `cancelled: ${String(signal.reason)}`),
        };
  }
  return { status: "failed", error: toCustodyError(cause, "ERR_COMMAND_FAILED", `${command.name} failed`) };
}

/**
 * Runs one accepted command and reports its rows in frames of at most 256 KiB, then its result. The
 * status says what really happened: cancelled or timed-out only when the work was stopped.
 */
export async function executeCommand(command: CommandBody, options: ExecuteOptions): Promise<ResultBody> {
  const now = options.now ?? Date.now;
  const started = now();
  let rows = 0;
  let chunk = 0;
  let pending: Record<string, unknown>[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pending.length === 0) return;
    const out = pending;
    pending = [];
    pendingBytes = 0;
    await options.sendRows(out, chunk++);
  };
  const run: RunCommandOptions = {
    cwd: command.cwd,
    signal: options.signal,
    policy: options.policy,
    upload: options.upload,
    ...(options.peer === undefined ? {} : { peer: options.peer }),
    ...(options.serverUrl === undefined ? {} : { serverUrl: options.serverUrl }),
    ...(command.transfer === undefined ? {} : { transfer: command.transfer }),
    ...(command.script === undefined ? {} : { script: command.script }),
    ...(options.caPem === undefined ? {} : { caPem: options.caPem }),
    ...(options.packageUploader === undefined || options.collectorSigner === undefined
      ? {}
      : {
          collect: {
            deviceId: command.deviceId,
            operator: command.issuedBy,
            upload: command.package,
            uploader: options.packageUploader,
            signer: options.collectorSigner,
          },
        }),
    cmdId: command.cmdId,
    ...(options.exchange === undefined ? {} : { exchange: options.exchange }),
    ...(options.agentDir === undefined ? {} : { agentDir: options.agentDir }),
    ...(options.own === undefined ? {} : { own: options.own }),
    ...(command.quarantine === undefined ? {} : { quarantine: command.quarantine }),
    ...(command.download === undefined ? {} : { download: command.download }),
    ...(command.restore === undefined ? {} : { restore: command.restore }),
  };
  try {
    const generator = runCommand(command, run);
    let data: Record<string, unknown> | undefined;
    for (;;) {
      const next = await generator.next();
      if (next.done) {
        data = next.value;
        break;
      }
      const { row, bytes } = fitRow(next.value);
      if (pendingBytes + bytes > CHUNK_BYTES) await flush();
      pending.push(row);
      pendingBytes += bytes + 1;
      rows++;
    }
    await flush();
    if (options.signal.aborted) throw new CustodyError("ERR_ABORTED", "stopped");
    return {
      cmdId: command.cmdId,
      status: "completed",
      rows,
      durationMs: now() - started,
      ...(data === undefined ? {} : { data }),
    };
  } catch (cause) {
    await flush().catch(() => undefined);
    const { status, error } = outcome(cause, command, options.signal);
    // a stopped script says which processes of its group, if any, outlived the kill
    const survivors = cause instanceof CustodyError ? cause.details?.survivors : undefined;
    return {
      ...(Array.isArray(survivors) ? { survivors: survivors as number[] } : {}),
      cmdId: command.cmdId,
      status,
      error: { code: error.code as ErrorCode, message: error.message.slice(0, 4000) },
      rows,
      durationMs: now() - started,
    };
  }
}
