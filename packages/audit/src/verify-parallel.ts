import { type FileHandle, open, stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { CustodyError, throwIfAborted, toCustodyError } from "@custody/core";
import { emptyTreeHash, merkleNodeHash } from "@custody/hash";
import { type AuditProblem, tooLongProblem, tornProblem } from "./chain.js";
import { FileAuditSource, READ_CHUNK } from "./file-source.js";
import { linkProblem } from "./line-check.js";
import { MAX_LINE_BYTES } from "./lines.js";
import { type AuditRecord, GENESIS_PREV } from "./record.js";
import { toSealKey } from "./seal.js";
import type { AuditSource } from "./sink.js";
import {
  type AuditVerifyReport,
  loadStored,
  openDirSource,
  PROGRESS_EVERY,
  type VerifyAuditOptions,
} from "./verify.js";
import { type ChunkResult, type ChunkSettings, checkChunk } from "./verify-chunk.js";
import { type ScanPosition, VerifyState } from "./verify-state.js";

/** How the work is cut; tests make chunks tiny so every join between chunks is exercised. */
export interface VerifyTuning {
  /** Largest chunk handed to a worker (whole lines; a longer line goes alone). */
  chunkBytes?: number;
  /** Bytes checked in the calling thread before any worker starts (a small log never starts one). */
  inlineBytes?: number;
}

/** Above a source's 1 MiB reads plus a carried partial line, so a read is one chunk. */
const CHUNK_BYTES = 4 * 1024 * 1024;
const SLOT_BYTES = 2 * 1024 * 1024;
const INLINE_BYTES = 4 * 1024 * 1024;
const NEWLINE = 0x0a;
/**
 * A chunk's garbage (its text, its lines, the parsed records) dies young: a small young generation
 * collects it often and cheaply instead of letting each worker's heap swell to V8's default.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4 };

/**
 * Verifies a whole log offline: every record, the hash chain, every stored checkpoint's signature and
 * root, the checkpoint chain, and `knownCheckpoints`. Reports the first problem; never throws for a
 * damaged log (only for an unreadable one).
 *
 * The log streams through in chunks of whole lines; worker threads check each chunk (parse, canonical
 * form, the record's hash, the links inside the chunk, the Merkle leaves folded into aligned subtrees)
 * and this thread joins them in order: the link between chunks, the Merkle accumulator, the checkpoints.
 * Memory stays flat: a bounded number of chunks in flight. The report, and the first problem's code,
 * kind, line and seq, are the sequential verifier's (`verifyAuditLogSequential`), a test compares them.
 */
export async function verifyAuditLog(
  target: { dir: string } | AuditSource,
  options: VerifyAuditOptions,
  tuning: VerifyTuning = {},
): Promise<AuditVerifyReport> {
  const source = "dir" in target ? await openDirSource(target.dir) : target;
  const state = new VerifyState(options, await loadStored(source));
  const sizes = state.sizes();
  const key = options.sealKey === undefined ? undefined : toSealKey(options.sealKey);
  // Seals are checked only past the newest stored checkpoint, so a whole-log verification stays fast.
  const sealed = key === undefined ? undefined : { from: state.storedMax(), count: 0 };
  const settings: ChunkSettings = {
    cuts: sizes,
    ...(key === undefined || sealed === undefined ? {} : { seal: { key, from: sealed.from } }),
  };
  const join = new Join(state, sizes, sealed, options);
  const threads = Math.max(0, Math.floor(options.threads ?? Math.min(availableParallelism(), 8)));
  const inlineBytes = tuning.inlineBytes ?? INLINE_BYTES;
  // A log known to be larger than what this thread checks alone starts its workers before the first
  // read: they load their code while it is read, and no chunk waits for a cold start.
  let pool =
    threads > 0 && (await fileBytes(source)) > inlineBytes ? new ChunkPool(threads, settings) : undefined;
  const slots = new Slots();
  const inFlight: InFlight[] = [];
  let problem: AuditProblem | undefined;
  let read = 0;
  const splitter: Splitter = { carry: Buffer.alloc(0), chunkBytes: tuning.chunkBytes ?? CHUNK_BYTES, slots };
  try {
    for await (const event of splitChunks(source, splitter, options.abortSignal)) {
      if (event.kind !== "chunk") {
        problem = await drain(inFlight, join, slots);
        problem ??=
          event.kind === "torn" ? tornProblem(join, event.bytes) : tooLongProblem(join, event.bytes);
        break;
      }
      const { slot, start, end } = event;
      read += end - start + 1;
      if (pool === undefined && (threads === 0 || read <= inlineBytes)) {
        problem = join.take(checkChunk(slot.bytes.subarray(start, end), settings));
        slots.release(slot);
      } else {
        pool ??= new ChunkPool(threads, settings);
        inFlight.push({ result: pool.check(slot.memory, start, end), slot });
        // Two chunks per worker in flight keeps every worker busy without holding the log in memory.
        if (inFlight.length >= threads * 2) problem = await joinNext(inFlight, join, slots);
      }
      if (problem !== undefined) break;
    }
    problem ??= await drain(inFlight, join, slots);
  } finally {
    await pool?.close();
  }
  const final = state.resolve(problem) ?? state.finish(join.count, join.checkpointsLeft());
  return state.report(join, final, sealed);
}

/** The size of a log file, when the source is one (0 when unknown: the first chunks then decide). */
async function fileBytes(source: AuditSource): Promise<number> {
  const file = source instanceof FileAuditSource ? source.readRange() : undefined;
  if (file === undefined) return 0;
  if (file.end !== undefined) return file.end;
  // A log that cannot be stat'ed is reported by the read that follows, with its own error.
  return stat(file.path).then(
    (info) => info.size,
    () => 0,
  );
}

interface InFlight {
  result: Promise<ChunkResult>;
  slot: Slot;
}

async function joinNext(inFlight: InFlight[], join: Join, slots: Slots): Promise<AuditProblem | undefined> {
  const next = inFlight.shift() as InFlight;
  const problem = join.take(await next.result);
  slots.release(next.slot);
  return problem;
}

async function drain(inFlight: InFlight[], join: Join, slots: Slots): Promise<AuditProblem | undefined> {
  while (inFlight.length > 0) {
    const problem = await joinNext(inFlight, join, slots);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * Shared memory the chunks are read into, reused once a chunk is joined: no allocation per chunk (and
 * no garbage collection for it) in the thread that reads, and nothing copied to hand a chunk over.
 */
interface Slot {
  readonly memory: SharedArrayBuffer;
  readonly bytes: Buffer;
  /** The splitter's hold and one per chunk in the slot. */
  refs: number;
}

class Slots {
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

/** The records joined so far: the chain's last hash, the Merkle accumulator, the line count. */
class Join implements ScanPosition {
  lines = 0;
  lastHash = GENESIS_PREV;
  readonly accumulator = new SubtreeAccumulator();
  #next = 0;

  constructor(
    private readonly state: VerifyState,
    private readonly sizes: readonly number[],
    private readonly sealed: { from: number; count: number } | undefined,
    private readonly options: VerifyAuditOptions,
  ) {}

  get count(): number {
    return this.accumulator.size;
  }

  checkpointsLeft(): number[] {
    return this.sizes.slice(this.#next);
  }

  /** Joins the next chunk; returns the first problem, exactly where the sequential walk finds it. */
  take(chunk: ChunkResult): AuditProblem | undefined {
    throwIfAborted(this.options.abortSignal);
    if (chunk.first !== undefined) {
      const link = linkProblem(chunk.first as AuditRecord, this.count, this.lastHash);
      if (link !== undefined) {
        this.lines += 1;
        return { code: "ERR_AUDIT_CHAIN_BROKEN", ...link, line: this.lines, seq: this.count };
      }
    }
    for (let b = 0; b < chunk.sizes.length; b += 1) {
      const size = chunk.sizes[b] as number;
      const before = this.count;
      this.accumulator.append(size, chunk.roots.subarray(b * 32, b * 32 + 32));
      this.lines += size;
      if (this.sealed !== undefined) this.sealed.count += chunk.sealed[b] as number;
      this.progress(before);
      while (this.#next < this.sizes.length && this.sizes[this.#next] === this.count) {
        const problem = this.state.checkpointAt(this.count, this);
        this.#next += 1;
        if (problem !== undefined) return problem;
      }
    }
    if (chunk.lastHash !== undefined) this.lastHash = chunk.lastHash;
    if (chunk.problem === undefined) return undefined;
    this.lines += 1;
    const { code, kind, message } = chunk.problem;
    return { code, kind, message, line: this.lines, seq: this.count };
  }

  /** The sequential walk reports progress at every multiple of PROGRESS_EVERY records: so does this. */
  private progress(before: number): void {
    const { onProgress } = this.options;
    for (
      let at = (Math.floor(before / PROGRESS_EVERY) + 1) * PROGRESS_EVERY;
      at <= this.count;
      at += PROGRESS_EVERY
    ) {
      onProgress?.({ records: at });
    }
  }
}

/** RFC 9162 accumulator fed whole perfect subtrees, each aligned on its position (as the chunks hand them). */
class SubtreeAccumulator {
  readonly #stack: Buffer[] = [];
  size = 0;

  append(leaves: number, root: Uint8Array): void {
    if (this.size % leaves !== 0) {
      throw new CustodyError("ERR_INTERNAL", `a subtree of ${leaves} leaves does not start at ${this.size}`);
    }
    let node: Buffer = Buffer.from(root);
    for (let count = this.size / leaves; count % 2 === 1; count = (count - 1) / 2) {
      node = merkleNodeHash(this.#stack.pop() as Buffer, node);
    }
    this.#stack.push(node);
    this.size += leaves;
  }

  root(): Buffer {
    if (this.size === 0) return emptyTreeHash();
    let root = this.#stack.at(-1) as Buffer;
    for (let i = this.#stack.length - 2; i >= 0; i -= 1)
      root = merkleNodeHash(this.#stack[i] as Buffer, root);
    return root;
  }
}

type ChunkEvent =
  | { kind: "chunk"; slot: Slot; start: number; end: number }
  | { kind: "torn"; bytes: number }
  | { kind: "too-long"; bytes: number };

/** What splitting a byte stream keeps between reads: the partial last line. */
interface Splitter {
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
async function* splitChunks(
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

/**
 * The worker's module is this package's verify-chunk (the built .js, or the .ts source when the
 * package runs from source, e.g. under the tests: Node strips its types, and a resolve hook maps the
 * sources' `./x.js` imports to `./x.ts`).
 */
function workerSource(): string {
  const fromSource = import.meta.url.endsWith(".ts");
  const url = new URL(fromSource ? "./verify-chunk.ts" : "./verify-chunk.js", import.meta.url).href;
  const hooks = fromSource
    ? `require("node:module").registerHooks({ resolve(specifier, context, next) {
        try { return next(specifier, context); } catch (error) {
          if (specifier.startsWith(".") && specifier.endsWith(".js")) return next(specifier.slice(0, -3) + ".ts", context);
          throw error;
        } } });`
    : "";
  return `"use strict";
const { parentPort, workerData } = require("node:worker_threads");
${hooks}
import(${JSON.stringify(url)}).then(({ checkChunk }) => {
  const { cuts, seal } = workerData;
  const settings = { cuts, ...(seal ? { seal: { from: seal.from, key: { inner: Buffer.from(seal.inner), outer: Buffer.from(seal.outer) } } } : {}) };
  parentPort.on("message", ({ id, memory, start, end }) => {
    try {
      parentPort.postMessage({ id, result: checkChunk(Buffer.from(memory, start, end - start), settings) });
    } catch (error) {
      parentPort.postMessage({ id, error: String(error && error.stack || error) });
    }
  });
}, (error) => { throw error; });`;
}

interface Waiting {
  resolve: (result: ChunkResult) => void;
  reject: (error: Error) => void;
}

/** Worker threads that check chunks, handed out round-robin; results come back by id. */
class ChunkPool {
  readonly #workers: Worker[] = [];
  readonly #waiting = new Map<number, Waiting>();
  #next = 0;
  #failure: Error | undefined;

  constructor(threads: number, settings: ChunkSettings) {
    const seal = settings.seal;
    const workerData = {
      cuts: settings.cuts,
      ...(seal === undefined
        ? {}
        : {
            seal: {
              from: seal.from,
              inner: new Uint8Array(seal.key.inner),
              outer: new Uint8Array(seal.key.outer),
            },
          }),
    };
    for (let i = 0; i < threads; i += 1) {
      const worker = new Worker(workerSource(), { eval: true, workerData, resourceLimits: WORKER_LIMITS });
      worker.on("message", (message: { id: number; result?: ChunkResult; error?: string }) => {
        const waiting = this.#waiting.get(message.id);
        this.#waiting.delete(message.id);
        if (message.result !== undefined) waiting?.resolve(message.result);
        else waiting?.reject(internal(message.error ?? "no result"));
      });
      worker.on("error", (error) => this.fail(internal(error.message, error)));
      worker.on("exit", (code) => {
        if (this.#waiting.size > 0) this.fail(internal(`a verification worker exited (code ${code})`));
      });
      this.#workers.push(worker);
    }
  }

  check(memory: SharedArrayBuffer, start: number, end: number): Promise<ChunkResult> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const id = this.#next;
    this.#next += 1;
    const worker = this.#workers[id % this.#workers.length] as Worker;
    const result = new Promise<ChunkResult>((resolve, reject) => this.#waiting.set(id, { resolve, reject }));
    // Marked handled: after a problem, results still in flight are dropped unawaited.
    result.catch(() => undefined);
    worker.postMessage({ id, memory, start, end });
    return result;
  }

  private fail(error: Error): void {
    this.#failure ??= error;
    for (const waiting of this.#waiting.values()) waiting.reject(error);
    this.#waiting.clear();
  }

  async close(): Promise<void> {
    // Results still in flight after a problem are not wanted: nobody awaits them.
    for (const waiting of this.#waiting.values()) waiting.resolve(emptyResult);
    this.#waiting.clear();
    await Promise.all(this.#workers.map((worker) => worker.terminate()));
  }
}

const emptyResult: ChunkResult = { accepted: 0, sizes: [], roots: new Uint8Array(0), sealed: [] };

function internal(message: string, cause?: unknown): CustodyError {
  return new CustodyError("ERR_INTERNAL", `audit verification worker failed: ${message}`, { cause });
}
