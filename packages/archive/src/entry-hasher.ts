import { createHash, type Hash } from "node:crypto";
import { Worker } from "node:worker_threads";
import { crc32 } from "node:zlib";
import { CustodyError } from "@custody/core";

/** What a stored entry's bytes hash to: the sha256 the manifests name and the CRC-32 the ZIP names. */
export interface EntryDigest {
  sha256: string;
  crc32: number;
}

/**
 * The running sha256 and CRC-32 of one entry's bytes. `update` may return a promise: the chunk's memory
 * must stay as it is until it settles.
 */
export interface EntryHashing {
  update(chunk: Uint8Array): Promise<void> | undefined;
  digest(): Promise<EntryDigest>;
}

/** On the calling thread: for chunks in ordinary memory (a small file's reads), where a worker costs more. */
export class InThreadEntryHashing implements EntryHashing {
  readonly #hash: Hash = createHash("sha256");
  #crc = 0;

  update(chunk: Uint8Array): undefined {
    this.#hash.update(chunk);
    this.#crc = crc32(chunk, this.#crc);
  }

  async digest(): Promise<EntryDigest> {
    return { sha256: this.#hash.digest("hex"), crc32: this.#crc >>> 0 };
  }
}

/** Hashing workers allocate almost nothing: a small heap (the process stays in its memory budget). */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 };

// Plain JS evaluated in the worker, so it runs the same from src/ (tests) and dist/ (users). Bytes come
// as a range of shared memory (no copy; the memory itself is sent when it changes, not with every
// range) or as a transferred copy; sha256 and CRC-32 go over them in 64 KiB steps so the second pass
// finds the bytes still in cache.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const { crc32 } = require("node:zlib");
const STEP = 64 * 1024;
const open = new Map();
let shared;
parentPort.on("message", (m) => {
  if (m.type === "bytes") {
    if (m.shared !== undefined) shared = m.shared;
    let entry = open.get(m.id);
    if (entry === undefined) open.set(m.id, (entry = { hash: createHash("sha256"), crc: 0 }));
    const view = new Uint8Array(m.buffer ?? shared, m.offset, m.length);
    for (let at = 0; at < view.length; at += STEP) {
      const part = view.subarray(at, at + STEP);
      entry.hash.update(part);
      entry.crc = crc32(part, entry.crc);
    }
    if (m.reply) parentPort.postMessage({ type: "done" });
  } else {
    const entry = open.get(m.id) ?? { hash: createHash("sha256"), crc: 0 };
    open.delete(m.id);
    parentPort.postMessage({ type: "digest", sha256: entry.hash.digest("hex"), crc32: entry.crc >>> 0 });
  }
});
`;

type Reply = { type: "done" } | ({ type: "digest" } & EntryDigest);
type Waiter = { resolve: (reply: Reply) => void; reject: (error: Error) => void };

/**
 * One worker thread hashing the entries of a package as another read passes them: a chunk in shared
 * memory (a store's hashing ring) is hashed where it lies, and the caller waits before reusing it; any
 * other chunk is copied over. Replies come in the order of the requests.
 */
export class EntryHashWorker {
  readonly #worker: Worker;
  readonly #waiting: Waiter[] = [];
  #failure: CustodyError | undefined;
  #nextId = 0;
  #closed = false;
  /** The shared memory the worker holds: ranges of it are sent without it. */
  #shared: SharedArrayBuffer | undefined;

  constructor() {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: WORKER_LIMITS });
    this.#worker.on("message", (reply: Reply) => this.#waiting.shift()?.resolve(reply));
    this.#worker.on("error", (cause) => this.#fail(cause));
    this.#worker.on("exit", (code) => this.#fail(new Error(`exited with code ${code}`)));
  }

  /** A new entry's hashing on this worker. */
  entry(): EntryHashing {
    const id = this.#nextId++;
    return {
      update: (chunk) => this.#bytes(id, chunk),
      digest: async () => {
        const reply = await this.#ask({ type: "end", id });
        if (reply.type !== "digest")
          throw new CustodyError("ERR_INTERNAL", "the entry hasher answered out of turn");
        return { sha256: reply.sha256, crc32: reply.crc32 };
      },
    };
  }

  /** Stops the worker; whatever is still waiting is refused. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#worker.terminate();
    this.#fail(new Error("closed"));
  }

  #bytes(id: number, chunk: Uint8Array): Promise<void> | undefined {
    const memory = chunk.buffer;
    if (memory instanceof SharedArrayBuffer) {
      const shared = memory === this.#shared ? undefined : memory;
      this.#shared = memory;
      const range = { offset: chunk.byteOffset, length: chunk.byteLength };
      return this.#ask({ type: "bytes", id, shared, ...range, reply: true }).then(() => undefined);
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    // A copy of its own (a Buffer's slice() would be a view of the caller's memory), then transferred.
    const copy = new Uint8Array(chunk);
    const range = { buffer: copy.buffer, offset: 0, length: copy.byteLength };
    this.#worker.postMessage({ type: "bytes", id, ...range, reply: false }, [copy.buffer]);
    return undefined;
  }

  #ask(message: object): Promise<Reply> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      this.#worker.postMessage(message);
    });
  }

  #fail(cause: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = new CustodyError("ERR_INTERNAL", "the entry hashing worker thread stopped", { cause });
    for (const waiter of this.#waiting.splice(0)) waiter.reject(this.#failure);
  }
}
