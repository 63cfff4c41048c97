import { Readable } from "node:stream";
import { assertSafeRelativePath, CustodyError, type Logger } from "@custody/core";
import { collectFs } from "./safe-fs.js";
import type {
  CollectContext,
  CollectionSink,
  CollectLimits,
  CollectProgress,
  EmitFileOptions,
  EmitMeta,
  EmitResult,
  ParseReport,
} from "./types.js";

export interface Problem {
  source: string;
  code: string;
  reason: string;
}

export interface ContextStats {
  files: number;
  bytes: number;
  problems: Problem[];
  commands: string[];
  parsing: ParseReport[];
}

export interface ContextOptions {
  dataPoint: string;
  sink: CollectionSink;
  limits: CollectLimits;
  abortSignal: AbortSignal;
  logger: Logger;
  now: () => Date;
  onProgress: (event: CollectProgress) => void;
  /** Where the device's tree is read from (default `/`). */
  root?: string;
}

/** The context one collector writes through, plus the handle the runner uses to close and drain it. */
export function createContext(options: ContextOptions): {
  ctx: CollectContext;
  stats: ContextStats;
  close(): Promise<void>;
} {
  const stats: ContextStats = { files: 0, bytes: 0, problems: [], commands: [], parsing: [] };
  let closed = false;
  // A package is one ZIP stream: entries must go in one at a time even if a collector emits in parallel.
  let queue: Promise<unknown> = Promise.resolve();

  const problem = (source: string, code: string, reason: string): void => {
    stats.problems.push({ source, code, reason });
    options.logger.warn({ dataPoint: options.dataPoint, source, code, reason }, "source not fully read");
  };

  const write = async (relativePath: string, body: Readable, meta: EmitMeta): Promise<EmitResult> => {
    if (closed) throw new CustodyError("ERR_ABORTED", `${options.dataPoint} was already cut off`);
    const path = `${options.dataPoint}/${relativePath}`;
    const remaining = options.limits.maxDataPointBytes - stats.bytes;
    if (remaining <= 0) {
      body.destroy();
      problem(meta.source, "ERR_SIZE_LIMIT", "data point size cap reached; file not collected");
      return { kind: "unreadable", source: meta.source, code: "ERR_SIZE_LIMIT", reason: "total cap" };
    }
    const cap = Math.min(options.limits.maxFileBytes, remaining);
    const gate = capped(body, cap, options.abortSignal);
    await options.sink.addStream(path, Readable.from(gate.chunks()), {
      dataPoint: options.dataPoint,
      source: meta.source,
      collectedAt: options.now(),
    });
    const { bytes, truncated, readError } = gate.state;
    stats.files++;
    stats.bytes += bytes;
    if (readError !== undefined) problem(meta.source, readError.code, `read stopped: ${readError.reason}`);
    else if (truncated) problem(meta.source, "ERR_SIZE_LIMIT", `truncated at ${bytes} bytes`);
    options.onProgress({ kind: "file", dataPoint: options.dataPoint, path, ...stats });
    return { kind: "written", path, bytes, truncated: truncated || readError !== undefined };
  };

  const serial = <T>(task: () => Promise<T>): Promise<T> => {
    const run = queue.then(task);
    queue = run.catch(() => undefined);
    return run;
  };

  // Every refused read is recorded where it happened: a symlinked path is a finding, not a silent gap.
  const fs = collectFs(options.root ?? "/", (source, refused) =>
    problem(source, refused.code, refused.reason),
  );
  const ctx: CollectContext = {
    dataPoint: options.dataPoint,
    fs,
    abortSignal: options.abortSignal,
    logger: options.logger,
    limits: options.limits,
    emit(relativePath, body, meta) {
      assertSafeRelativePath(relativePath, "collected path");
      return serial(() => write(relativePath, toReadable(body), meta));
    },
    emitFile(relativePath, absPath, fileOptions: EmitFileOptions) {
      assertSafeRelativePath(relativePath, "collected path");
      return serial(async () => {
        const opened = await fs.openFile(absPath, fileOptions);
        if (opened.kind === "absent") return { kind: "absent", source: absPath };
        if (opened.kind === "refused")
          return { kind: "unreadable", source: absPath, code: opened.code, reason: opened.reason };
        return write(relativePath, opened.handle.createReadStream(), fileOptions);
      });
    },
    problem,
    command(commandLine) {
      stats.commands.push(commandLine);
    },
    parsed(report) {
      stats.parsing.push(report);
    },
  };
  return {
    ctx,
    stats,
    async close() {
      closed = true;
      await queue;
    },
  };
}

function toReadable(body: Readable | string | Buffer): Readable {
  if (typeof body === "string" || Buffer.isBuffer(body)) return Readable.from([Buffer.from(body)]);
  return body;
}

interface GateState {
  bytes: number;
  truncated: boolean;
  readError?: { code: string; reason: string };
}

/**
 * Passes at most `cap` bytes and always ends cleanly: a cap, an abort or a read error truncates the
 * entry (and is recorded) instead of tearing the package stream.
 */
function capped(source: Readable, cap: number, signal: AbortSignal) {
  const state: GateState = { bytes: 0, truncated: false };
  const onAbort = (): void => {
    source.destroy();
  };
  async function* chunks(): AsyncGenerator<Buffer> {
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      if (signal.aborted) throw new CustodyError("ERR_ABORTED", "cut off before reading");
      for await (const chunk of source) {
        const bytes = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
        const room = cap - state.bytes;
        if (bytes.length > room) {
          if (room > 0) yield bytes.subarray(0, room);
          state.bytes = cap;
          state.truncated = true;
          return;
        }
        state.bytes += bytes.length;
        yield bytes;
      }
      if (signal.aborted) throw new CustodyError("ERR_ABORTED", "cut off while reading");
    } catch (error) {
      state.readError = signal.aborted
        ? { code: "ERR_TIMEOUT", reason: "cut off by the data point's timeout or abort" }
        : { code: codeOf(error), reason: error instanceof Error ? error.message : String(error) };
    } finally {
      signal.removeEventListener("abort", onAbort);
      source.destroy();
    }
  }
  return { state, chunks };
}

function codeOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === "EACCES" || code === "EPERM") return "ERR_PERMISSION";
  if (typeof code === "string" && code.startsWith("ERR_") && !code.startsWith("ERR_STREAM")) return code;
  return "ERR_IO";
}
