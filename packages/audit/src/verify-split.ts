import { type FileHandle, open } from "node:fs/promises";
import { toCustodyError } from "@custody/core";
import { FileAuditSource, READ_CHUNK } from "./file-source.js";
import { MAX_LINE_BYTES } from "./lines.js";
import type { AuditSource } from "./sink.js";

// How the parallel verifier cuts a log into chunks of whole lines, in shared memory a worker reads
// without a copy (see verify-parallel.ts).

const SLOT_BYTES = 2 * 1024 * 1024;
const NEWLINE = 0x0a;

/**
 * Shared memory the chunks are read into, reused once a chunk is joined: no allocation per chunk (and
 * no garbage collection for it) in the thread that reads, and nothing copied to hand a chunk over.
 */
export interface Slot {
  readonly memory: SharedArrayBuffer;
  readonly bytes: Buffer;
  /** The splitter's hold and one per chunk in the slot. */
  refs: number;
}

export class Slots {
  readonly #free: Slot[] = [];

  take(size: number): Slot {
    const index = this.#free.findIndex((slot) => slot.memory.byteLength >= size);
    const slot = index >= 0 ? (this.#free.splice(index, 1)[0] as Slot) : this.#make(size);
    slot.refs = 1;
    return slot;
  }

  release(slot: Slot): void {
    slot.refs -= 1;
    if (slot.refs === 0) this.#free.push(slot);
  }

  #make(size: number): Slot {
    const memory = new SharedArrayBuffer(Math.max(size, SLOT_BYTES));
    return { memory, bytes: Buffer.from(memory), refs: 0 };
  }
}

export type ChunkEvent =
  | { kind: "chunk"; slot: Slot; start: number; end: number }
  | { kind: "torn"; bytes: number }
  | { kind: "too-long"; bytes: number };

/** What splitting a byte stream keeps between reads: the partial last line. */
export interface Splitter {
  carry: Buffer;
  chunkBytes: number;
  slots: Slots;
}

/**
 * Cuts `length` bytes of `slot` (the carried partial line, then what was just read) into chunks of
 * whole lines; keeps the bytes after the last newline for the next read.
 */
function cut(splitter: Splitter, slot: Slot, length: number): ChunkEvent[] {
  const data = slot.bytes.subarray(0, length);
  const last = data.lastIndexOf(NEWLINE);
  if (last < 0) {
    splitter.carry = Buffer.from(data);
    splitter.slots.release(slot);
    return splitter.carry.length > MAX_LINE_BYTES ? [{ kind: "too-long", bytes: splitter.carry.length }] : [];
  }
  splitter.carry = Buffer.from(data.subarray(last + 1));
  const events: ChunkEvent[] = [];
  let start = 0;
  while (last - start > splitter.chunkBytes) {
    const at = data.lastIndexOf(NEWLINE, start + splitter.chunkBytes);
    const end = at >= start ? at : data.indexOf(NEWLINE, start + splitter.chunkBytes);
    if (end >= last) break;
    events.push({ kind: "chunk", slot, start, end });
    start = end + 1;
  }
  events.push({ kind: "chunk", slot, start, end: last });
  // The chunks hold the slot now (one hold each), not the splitter.
  slot.refs += events.length - 1;
  return events;
}

/**
 * Cuts the byte stream into chunks of whole lines, in shared memory that moves to a worker without a
 * copy, with splitLines' rules for a torn tail and an overlong line, so both walks stop at the same place.
 */
export async function* splitChunks(
  source: AuditSource,
  splitter: Splitter,
  abortSignal: AbortSignal | undefined,
): AsyncGenerator<ChunkEvent> {
  const file = source instanceof FileAuditSource ? source.readRange() : undefined;
  if (file !== undefined) {
    yield* splitFile(file, splitter);
  } else {
    // Reads of another source (an Azure segment's download stream: tens of KB each) are gathered
    // into chunks of about a file read, so a worker gets work worth a message.
    let gathered: Uint8Array[] = [];
    let size = 0;
    const flush = (): ChunkEvent[] => {
      const { carry } = splitter;
      const slot = splitter.slots.take(carry.length + size);
      carry.copy(slot.bytes);
      let at = carry.length;
      for (const piece of gathered) {
        slot.bytes.set(piece, at);
        at += piece.length;
      }
      gathered = [];
      size = 0;
      return cut(splitter, slot, at);
    };
    for await (const chunk of source.readBytes(abortSignal === undefined ? {} : { abortSignal })) {
      gathered.push(chunk);
      size += chunk.length;
      if (size < READ_CHUNK) continue;
      const events = flush();
      yield* events;
      if (events.some((event) => event.kind === "too-long")) return;
    }
    if (size > 0) {
      const events = flush();
      yield* events;
      if (events.some((event) => event.kind === "too-long")) return;
    }
  }
  if (splitter.carry.length > 0) yield { kind: "torn", bytes: splitter.carry.length };
}

/**
 * A log file is read straight into the shared memory (no buffer per read for the collector to free),
 * in reads of the size the file source's stream uses, so the cuts fall where the sequential walk's do.
 */
async function* splitFile(file: { path: string; end: number | undefined }, splitter: Splitter) {
  let handle: FileHandle;
  try {
    handle = await open(file.path, "r");
  } catch (error) {
    throw toCustodyError(error, "ERR_IO", `cannot read ${file.path}`);
  }
  try {
    let position = 0;
    for (;;) {
      const want = file.end === undefined ? READ_CHUNK : Math.min(READ_CHUNK, file.end - position);
      if (want <= 0) return;
      const { carry } = splitter;
      const slot = splitter.slots.take(carry.length + want);
      carry.copy(slot.bytes);
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(slot.bytes, carry.length, want, position));
      } catch (error) {
        throw toCustodyError(error, "ERR_IO", `cannot read ${file.path}`);
      }
      if (bytesRead === 0) {
        splitter.slots.release(slot);
        return;
      }
      position += bytesRead;
      const events = cut(splitter, slot, carry.length + bytesRead);
      yield* events;
      if (events.some((event) => event.kind === "too-long")) {
        splitter.carry = Buffer.alloc(0);
        return;
      }
    }
  } finally {
    await handle.close();
  }
}
