import { pipeline, type Readable } from "node:stream";
import { CustodyError } from "@custody/core";
import { ThreadedDigestStream } from "@custody/hash";
import type { EarlyCopy, EvidenceStore, StoredObject } from "@custody/store";
import type { VaultContext } from "./context.js";
import { type ExtraHash, pickDigests } from "./ingest-hashes.js";
import type { StagedExaminer } from "./staged-examination.js";

/** The body, written durably but not yet visible: examined, then committed under its address or dropped. */
export interface StagedBody {
  readonly sha256: string;
  readonly size: number;
  /**
   * The digests asked for beside sha256 (`IngestOptions.hashes`), computed on the way in for a stream;
   * for a whole file, from the staged copy by `examineStaged` (undefined here).
   */
  readonly extra: Partial<Record<ExtraHash, string>> | undefined;
  /** The staged copy, readable until `commit` or `discard`. */
  readonly stagedPath: string;
  /** The examination of the staged copy, when it started before the store had hashed it. */
  readonly examining: StagedExaminer | undefined;
  commit(placed: { key: string; metadata: Record<string, string> }): Promise<StoredObject>;
  /** Drops the staged copy (a no-op after `commit`); never throws. */
  discard(reason: unknown): Promise<void>;
}

/** A store that can stage a body in a local file before its key is known (the fs store). */
export function stagesLocally(store: EvidenceStore): boolean {
  return typeof store.createAddressed === "function" && store.capabilities.backend === "fs";
}

/**
 * Reads `body` once: the store hashes it (sha256) and writes it durably into its staging area while
 * worker threads compute the digests asked for beside it (`extraHashes`, none by default) of the same bytes. Resolves when the bytes are durable and
 * before anything is visible; the caller decides (`commit`) or drops them (`discard`).
 */
export async function stageBody(
  ctx: VaultContext,
  body: Readable,
  options: {
    retainUntil: Date | undefined;
    legalHold: boolean;
    abortSignal: AbortSignal | undefined;
    onProgress?: (bytes: number) => void;
    /** A file's size or a content-length: a large body's sha256 runs on a worker. */
    sizeHint?: number;
    /**
     * The body is a whole file (`openForStore`): the store copies it in the kernel, and any extra
     * digests are computed from the staged copy instead of on the way in.
     */
    wholeFile?: boolean;
    /** Digests beside sha256, from `resolveIngestHashes`; none when absent. */
    extraHashes?: readonly ExtraHash[];
    /**
     * Started on the staged copy as soon as the store has begun it, before the store reads it to hash it
     * (`whole` settles once every byte is there): its observer is fed that read (a whole file's), so
     * both checks take one read.
     */
    examine?: (stagedPath: string, whole: Promise<void>) => Promise<StagedExaminer>;
    /** A copy of the whole file begun early (`IngestOptions.earlyCopy`), for the store to take. */
    earlyCopy?: EarlyCopy;
  },
): Promise<StagedBody> {
  let examining: StagedExaminer | undefined;
  const examine = options.examine;
  const createAddressed = ctx.store.createAddressed?.bind(ctx.store);
  if (createAddressed === undefined) throw new CustodyError("ERR_INTERNAL", "the store cannot stage a body");
  const extraHashes = options.extraHashes ?? [];
  const digests =
    options.wholeFile === true || extraHashes.length === 0
      ? undefined
      : new ThreadedDigestStream({ algorithms: extraHashes });
  const hashed = digests === undefined ? body : pipeline(body, digests, () => {});
  let reached: (written: { sha256: string; size: number; stagedPath?: string }) => void = () => {};
  const written = new Promise<{ sha256: string; size: number; stagedPath?: string }>((resolve) => {
    reached = resolve;
  });
  let decide:
    | {
        resolve: (placed: { key: string; metadata: Record<string, string> }) => void;
        reject: (reason: unknown) => void;
      }
    | undefined;
  const decision = new Promise<{ key: string; metadata: Record<string, string> }>((resolve, reject) => {
    decide = { resolve, reject };
  });
  // A decision nobody waits for any more (the store failed first) must not be an unhandled rejection.
  decision.catch(() => {});
  const storing = createAddressed(hashed, {
    place: (done) => {
      reached(done);
      return decision;
    },
    legalHold: options.legalHold,
    ...(options.retainUntil === undefined ? {} : { retainUntil: options.retainUntil }),
    ...(options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    ...(options.sizeHint === undefined ? {} : { sizeHint: options.sizeHint }),
    ...(options.earlyCopy === undefined ? {} : { earlyCopy: options.earlyCopy }),
    ...(examine === undefined
      ? {}
      : {
          observeStaged: async (path: string, whole: Promise<void>) => {
            examining = await examine(path, whole);
            return examining.observer;
          },
        }),
  });
  const failedEarly = storing.then(() => {
    throw new CustodyError("ERR_INTERNAL", "the store committed a body nobody placed");
  });
  failedEarly.catch(() => {});
  let done: { sha256: string; size: number; stagedPath?: string };
  try {
    done = await Promise.race([written, failedEarly]);
  } catch (error) {
    // A store that failed before reading it all must not leave the reader and hashing workers running.
    hashed.destroy();
    body.destroy();
    await examining?.close();
    throw error;
  }
  let settled = false;
  const settle = (): boolean => {
    const first = !settled;
    settled = true;
    return first;
  };
  const stagedPath = done.stagedPath;
  if (stagedPath === undefined) {
    decide?.reject(new CustodyError("ERR_INTERNAL", "the store gave no staged copy"));
    await storing.catch(() => {});
    await examining?.close();
    throw new CustodyError("ERR_INTERNAL", "the store gave no staged copy");
  }
  const raw = digests?.result();
  return {
    sha256: done.sha256,
    size: done.size,
    extra: raw === undefined ? undefined : pickDigests(raw.digests, extraHashes),
    stagedPath,
    examining,
    commit: (placed) => {
      if (!settle()) throw new CustodyError("ERR_INTERNAL", "a staged body is committed or dropped once");
      decide?.resolve(placed);
      return storing;
    },
    discard: async (reason) => {
      await examining?.close();
      if (!settle()) return;
      decide?.reject(reason);
      await storing.catch(() => {});
    },
  };
}
