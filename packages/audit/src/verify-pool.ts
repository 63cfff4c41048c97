import { Worker } from "node:worker_threads";
import { CustodyError } from "@custody/core";
import type { ChunkResult, ChunkSettings } from "./verify-chunk.js";

// The worker threads of the parallel verifier (see verify-parallel.ts).

/**
 * A chunk's garbage (its text, its lines, the parsed records) dies young: a small young generation
 * collects it often and cheaply instead of letting each worker's heap swell to V8's default.
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4 };

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
export class ChunkPool {
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
