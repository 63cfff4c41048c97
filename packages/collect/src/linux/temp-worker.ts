import { SafeDir } from "../safe-dir.js";
import { Chunks } from "./csv-chunks.js";
import { RowFormat } from "./row-format.js";
import { type Child, type WalkContext, walkTrees } from "./temp-walk.js";

// The listing's second thread: it lists sub-trees of a folder the main thread has open, claiming each
// next one as the main thread does (./temp-pool.ts).

/** The next sub-tree to claim (Atomics.add by the worker, compareExchange by the main thread). */
export const NEXT = 0;
/** Sub-trees whose rows the main thread has taken in, in order. */
export const TAKEN = 1;

/** A folder's sub-trees offered to the worker: claim flags shared with the main thread. */
export interface ShareMessage {
  kind: "share";
  id: number;
  fd: number;
  path: string;
  prefix: string;
  dev: number;
  ino: number;
  names: string[];
  /** Int32 counters shared with the main thread: NEXT and TAKEN. */
  counters: SharedArrayBuffer;
  /** The worker takes no new sub-tree while the main thread has this many bytes of its rows to take in. */
  capBytes: number;
}

export interface Problem {
  source: string;
  code: string;
  reason: string;
}

/** One sub-tree's whole listing, in order, with the problems met on the way. */
export interface TreeMessage {
  kind: "tree";
  id: number;
  index: number;
  chunks: Uint8Array[];
  problems: Problem[];
  entries: number;
}

export interface DoneMessage {
  kind: "done";
  id: number;
}

/** The answer to a stop: the worker takes messages (`WalkPool.ready`). */
export interface StoppedMessage {
  kind: "stopped";
  id: number;
}

export type FromWorker = TreeMessage | DoneMessage | StoppedMessage;
export type ToWorker = ShareMessage | { kind: "stop"; id: number };

/** The worker's loop: `post` sends to the main thread; returns the handler of the main thread's messages. */
export function serveListings(
  owners: [number, string][],
  post: (message: FromWorker, transfer?: ArrayBuffer[]) => void,
): (message: ToWorker) => void {
  const names = new Map(owners);
  const format = new RowFormat((uid) => names.get(uid) ?? String(uid));
  const stops = new Map<number, AbortController>();
  let queue = Promise.resolve();
  return (message) => {
    if (message.kind === "stop") {
      stops.get(message.id)?.abort();
      post({ kind: "stopped", id: message.id });
      return;
    }
    const stop = new AbortController();
    stops.set(message.id, stop);
    queue = queue
      .then(() => listShare(message, format, stop.signal, post))
      .finally(() => {
        stops.delete(message.id);
        post({ kind: "done", id: message.id });
      });
  };
}

async function listShare(
  share: ShareMessage,
  format: RowFormat,
  abortSignal: AbortSignal,
  post: (message: FromWorker, transfer?: ArrayBuffer[]) => void,
): Promise<void> {
  const top = SafeDir.openDescriptorNow(share.fd, share.path, share.dev, share.ino);
  if (!(top instanceof SafeDir)) return;
  try {
    const counters = new Int32Array(share.counters);
    const held = new Held(counters, share.capBytes);
    while (await held.room(abortSignal)) {
      const index = Atomics.add(counters, NEXT, 1);
      if (index >= share.names.length) return;
      const tree = await listTree(top, share, index, format, abortSignal);
      if (tree === undefined) return;
      held.add(index, tree.chunks);
      post(
        tree,
        tree.chunks.map((chunk) => chunk.buffer as ArrayBuffer),
      );
    }
  } finally {
    top.closeNow();
  }
}

/** The rows this worker has posted that the main thread has not taken in yet. */
class Held {
  readonly #counters: Int32Array;
  readonly #capBytes: number;
  readonly #trees: { index: number; bytes: number }[] = [];
  #bytes = 0;

  constructor(counters: Int32Array, capBytes: number) {
    this.#counters = counters;
    this.#capBytes = capBytes;
  }

  add(index: number, chunks: Uint8Array[]): void {
    const bytes = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    this.#trees.push({ index, bytes });
    this.#bytes += bytes;
  }

  /** Waits until less than the cap is held; false once stopped. */
  async room(abortSignal: AbortSignal): Promise<boolean> {
    for (;;) {
      const taken = Atomics.load(this.#counters, TAKEN);
      while ((this.#trees[0]?.index ?? taken) < taken) this.#bytes -= this.#trees.shift()?.bytes ?? 0;
      if (abortSignal.aborted) return false;
      if (this.#bytes < this.#capBytes) return true;
      Atomics.wait(this.#counters, TAKEN, taken, 20);
      await new Promise(setImmediate); // a stop message comes in here
    }
  }
}

// The worker lists without a budget; the main thread applies it when it takes the rows in.
const UNCOUNTED = Number.MAX_SAFE_INTEGER;

/** One sub-tree listed whole, or undefined when stopped before its end. */
async function listTree(
  top: SafeDir,
  share: ShareMessage,
  index: number,
  format: RowFormat,
  abortSignal: AbortSignal,
): Promise<TreeMessage | undefined> {
  const name = share.names[index] as string;
  const problems: Problem[] = [];
  const ctx: WalkContext = {
    abortSignal,
    limits: { maxListEntries: UNCOUNTED },
    problem: (source, code, reason) => problems.push({ source, code, reason }),
  };
  const state = { sinceTurn: 0, stopped: false, budget: { left: UNCOUNTED } };
  const chunks = new Chunks();
  const out: Uint8Array[] = [];
  const item: Child = { parent: top, name, path: share.prefix + name, last: false };
  // Copied out to buffers of their own, moved to the main thread without a copy: a chunk is a view of a
  // larger buffer, which the message would otherwise clone whole.
  for await (const chunk of walkTrees(ctx, top, [item], format, chunks, state))
    out.push(new Uint8Array(chunk));
  if (state.stopped) return undefined;
  const rest = chunks.take();
  if (rest !== undefined) out.push(new Uint8Array(rest));
  const entries = UNCOUNTED - state.budget.left;
  return { kind: "tree", id: share.id, index, chunks: out, problems, entries };
}
