import { availableParallelism, loadavg } from "node:os";
import { Worker } from "node:worker_threads";
import type { SafeDir } from "../safe-dir.js";
import {
  type FromWorker,
  NEXT,
  type ShareMessage,
  TAKEN,
  type ToWorker,
  type TreeMessage,
} from "./temp-worker.js";

// Sub-folders a folder needs before its sub-trees are shared with the worker thread.
const SHARE_FROM = 8;
// Rows of the worker's that may wait for the main thread to take them in (in order).
const CAP_BYTES = 8 * 1024 * 1024;

/**
 * A second thread for the temp-folder listings: started on the first folder worth sharing, stopped by
 * `close`. Both threads claim a folder's next sub-tree through a shared counter; the main thread lists
 * its own into the output and takes the worker's in where they fall, so the output is byte for byte
 * the one-thread listing. The worker runs at most CAP_BYTES ahead; a worker that fails leaves its
 * sub-trees to the main thread.
 */
export class WalkPool {
  readonly #owners: [number, string][];
  readonly #shares = new Map<number, Share>();
  #worker: Worker | undefined;
  #failed = false;
  #nextId = 0;
  /** Sub-trees the worker has listed so far (for tests and benchmarks). */
  treesFromWorker = 0;

  /** `owners`: uid and user name, as `Accounts.userName` looks them up (the last of a uid wins). */
  constructor(owners: [number, string][]) {
    this.#owners = owners;
  }

  /**
   * A pool where a core is idle (the last minute's load average at least one below the cores); else
   * undefined. Two threads cost 5-30% more CPU than one, and on a machine whose cores are all busy they
   * did not shorten the listing (measured on 2 cores at load 10-14, docs/benchmarks.md).
   */
  static forThisMachine(owners: [number, string][]): WalkPool | undefined {
    const cores = availableParallelism();
    return cores > 1 && (loadavg()[0] ?? cores) + 1 <= cores ? new WalkPool(owners) : undefined;
  }

  /** Offers `names` (sorted sub-folders of `top`, listed under `prefix`) to the worker. */
  share(top: SafeDir, prefix: string, names: string[]): Share | undefined {
    const fd = top.descriptor;
    if (this.#failed || fd === undefined || names.length < SHARE_FROM) return undefined;
    this.#start();
    const id = this.#nextId++;
    const share = new Share(() => this.#post({ kind: "stop", id }));
    this.#shares.set(id, share);
    const { path, dev, ino } = top;
    const counters = share.counters.buffer as SharedArrayBuffer;
    this.#post({ kind: "share", id, fd, path, prefix, dev, ino, names, counters, capBytes: CAP_BYTES });
    return share;
  }

  /** Starts the worker now and settles once it takes work (a share made before waits for it anyway). */
  async ready(): Promise<void> {
    const worker = this.#start();
    await new Promise<void>((resolve, reject) => {
      worker.once("message", () => resolve());
      worker.once("error", reject);
      worker.postMessage({ kind: "stop", id: -1 } satisfies ToWorker);
    });
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }

  #post(message: ToWorker | ShareMessage): void {
    this.#worker?.postMessage(message);
  }

  #start(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = new Worker(workerSource(), { eval: true, workerData: { owners: this.#owners } });
    worker.on("message", (message: FromWorker) => {
      if (message.kind === "stopped") return;
      const share = this.#shares.get(message.id);
      if (share === undefined) return;
      if (message.kind === "tree") {
        share.arrived(message);
        this.treesFromWorker++;
        return;
      }
      this.#shares.delete(message.id);
      share.finish();
    });
    const fail = (): void => {
      this.#failed = true;
      for (const share of this.#shares.values()) share.finish();
      this.#shares.clear();
    };
    worker.on("error", fail);
    worker.on("exit", fail);
    this.#worker = worker;
    return worker;
  }
}

/** One folder's sub-trees, shared: who lists which, and the worker's listings as they come. */
export class Share {
  readonly counters = new Int32Array(new SharedArrayBuffer(8));
  /** Settles once the worker has stopped working on this folder (it then holds no descriptor of it). */
  readonly done: Promise<void>;
  readonly #results = new Map<number, TreeMessage>();
  readonly #waiting = new Map<number, (tree: TreeMessage | undefined) => void>();
  readonly #stop: () => void;
  #finished = false;
  #finish: () => void = () => undefined;

  constructor(stop: () => void) {
    this.#stop = stop;
    this.done = new Promise((resolve) => {
      this.#finish = resolve;
    });
  }

  /** Claims sub-tree `index` (the next in order) for the main thread; false when the worker has it. */
  claim(index: number): boolean {
    return Atomics.compareExchange(this.counters, NEXT, index, index + 1) === index;
  }

  /**
   * The worker's listing of sub-tree `index`; undefined when the worker stopped without it, or at once
   * when `abortSignal` fires (a large sub-tree must not hold up a timeout).
   */
  async result(index: number, abortSignal: AbortSignal): Promise<TreeMessage | undefined> {
    const tree = this.#results.get(index);
    if (tree !== undefined || this.#finished || abortSignal.aborted) return tree;
    const aborted = () => this.#waiting.get(index)?.(undefined);
    abortSignal.addEventListener("abort", aborted, { once: true });
    try {
      return await new Promise((resolve) => this.#waiting.set(index, resolve));
    } finally {
      this.#waiting.delete(index);
      abortSignal.removeEventListener("abort", aborted);
    }
  }

  /** Sub-tree `index` is in the output: the worker may run further ahead. */
  taken(index: number): void {
    this.#results.delete(index);
    Atomics.store(this.counters, TAKEN, index + 1);
    Atomics.notify(this.counters, TAKEN);
  }

  arrived(tree: TreeMessage): void {
    const waiting = this.#waiting.get(tree.index);
    this.#waiting.delete(tree.index);
    if (waiting === undefined) this.#results.set(tree.index, tree);
    else waiting(tree);
  }

  /** Asks the worker to stop (it finishes the entry it is on); await `done` after. */
  stop(): void {
    this.#stop();
  }

  finish(): void {
    this.#finished = true;
    for (const waiting of this.#waiting.values()) waiting(undefined);
    this.#waiting.clear();
    this.#finish();
  }
}

/**
 * The worker's source: it imports ./temp-worker.js from beside this file, or ./temp-worker.ts when the
 * package runs from source, e.g. under the tests (Node strips its types, and a resolve hook maps the
 * sources' `./x.js` imports to `./x.ts`).
 */
function workerSource(): string {
  const fromSource = import.meta.url.endsWith(".ts");
  const url = new URL(fromSource ? "./temp-worker.ts" : "./temp-worker.js", import.meta.url).href;
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
import(${JSON.stringify(url)}).then(({ serveListings }) => {
  parentPort.on("message", serveListings(workerData.owners, (message, transfer) => parentPort.postMessage(message, transfer)));
}, (error) => { throw error; });`;
}
