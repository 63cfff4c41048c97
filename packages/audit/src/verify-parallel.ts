import { stat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { CustodyError, throwIfAborted } from "@custody/core";
import { emptyTreeHash, merkleNodeHash } from "@custody/hash";
import { type AuditProblem, tooLongProblem, tornProblem } from "./chain.js";
import { FileAuditSource } from "./file-source.js";
import { linkProblem } from "./line-check.js";
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
import { ChunkPool } from "./verify-pool.js";
import { type Slot, Slots, type Splitter, splitChunks } from "./verify-split.js";
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
const INLINE_BYTES = 4 * 1024 * 1024;

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
