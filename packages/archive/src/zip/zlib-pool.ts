import { constants, createDeflateRaw, createInflateRaw, type DeflateRaw, type InflateRaw } from "node:zlib";

/**
 * Reused zlib contexts for whole small entries. zlib's one-shot functions build a context per call
 * (~300 KiB for deflate) that is released only when the garbage collector gets to it; with thousands of
 * small files that alone held ~50 MiB. A context taken from here is used by one call at a time, then
 * reset and returned. Each runs on libuv's thread pool, so several calls still use all cores.
 */
const MAX_IDLE = 8;
const OUTPUT_CHUNK = 64 * 1024;

const idleDeflaters = new Map<number, DeflateRaw[]>();
const idleInflaters: InflateRaw[] = [];

/** Deflates `input` as one complete raw deflate stream. */
export async function deflateWhole(input: Buffer, level: number): Promise<Buffer> {
  const idle = idleDeflaters.get(level) ?? [];
  idleDeflaters.set(level, idle);
  const deflater = idle.pop() ?? createDeflateRaw({ level, chunkSize: OUTPUT_CHUNK });
  const { chunks, size } = await run(deflater, input, constants.Z_FINISH, Number.POSITIVE_INFINITY);
  release(deflater, idle);
  return Buffer.concat(chunks, size);
}

export type InflateResult =
  | { kind: "ok"; data: Buffer }
  | { kind: "overflow" }
  | { kind: "trailing"; unused: number };

/**
 * Inflates one complete raw deflate stream, stopping (and discarding the context) as soon as the
 * output passes `maxOutput`, so a lying entry inflates no further than one chunk past its declared
 * size; input left over after the end of the deflate stream (hidden bytes) is reported too.
 */
export async function inflateWhole(input: Buffer, maxOutput: number): Promise<InflateResult> {
  const inflater = idleInflaters.pop() ?? createInflateRaw({ chunkSize: OUTPUT_CHUNK });
  const before = inflater.bytesWritten;
  const { chunks, size, overflow } = await run(inflater, input, constants.Z_SYNC_FLUSH, maxOutput);
  if (overflow) return { kind: "overflow" };
  const unused = input.length - (inflater.bytesWritten - before);
  if (unused > 0) {
    // zlib has ended this stream's readable side: the context cannot be reused.
    inflater.destroy();
    return { kind: "trailing", unused };
  }
  release(inflater, idleInflaters);
  return { kind: "ok", data: Buffer.concat(chunks, size) };
}

type Context = DeflateRaw | InflateRaw;

function run(
  context: Context,
  input: Buffer,
  flush: number,
  maxOutput: number,
): Promise<{ chunks: Buffer[]; size: number; overflow: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      context.off("data", onData);
      context.off("error", onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxOutput) {
        chunks.push(chunk);
        return;
      }
      cleanup();
      context.destroy();
      resolve({ chunks: [], size, overflow: true });
    };
    const onError = (error: Error) => {
      cleanup();
      context.destroy();
      reject(error);
    };
    context.on("data", onData);
    context.on("error", onError);
    context.write(input);
    context.flush(flush, () => {
      if (context.destroyed) return;
      cleanup();
      resolve({ chunks, size, overflow: false });
    });
  });
}

function release(context: Context, idle: Context[]): void {
  if (context.destroyed) return;
  context.reset();
  if (idle.length < MAX_IDLE) idle.push(context);
  else context.close();
}
