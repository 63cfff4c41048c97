import type { Readable } from "node:stream";
import type { CustodyError } from "@custody/core";
import type { EarlyCopy } from "./early-copy.js";

/** Who enforces a protection: the storage service itself, or only this library's own checks. */
export type Enforcement = "service" | "library";

/** What a backend really guarantees; callers must not assume more than it says. */
export interface StoreCapabilities {
  /** "fs", "azure-blob", ... */
  readonly backend: string;
  /** Stored bytes cannot be overwritten or removed except through `delete` after retention. */
  readonly immutability: Enforcement;
  readonly retention: Enforcement;
  readonly legalHold: Enforcement;
  /** An interrupted `create` of the same key and bytes continues where it stopped. */
  readonly resumableUploads: boolean;
}

export interface CreateOptions {
  /** Lower-case hex; the object is stored only when the streamed bytes hash to it. */
  expectedSha256?: string;
  /** Delete is refused until this instant; it can later be extended, never shortened. */
  retainUntil?: Date;
  legalHold?: boolean;
  /** Free-form labels (names: letters, digits, `_`, `-`, `.`; at most 4 KiB as JSON). */
  metadata?: Record<string, string>;
  abortSignal?: AbortSignal;
  /** Called with the number of bytes consumed so far. */
  onProgress?: (bytes: number) => void;
  /**
   * About how many bytes the body holds (a file's size, a content-length), when the caller knows: a
   * large body is hashed on a worker thread while this one moves the bytes. Never checked; a wrong
   * hint costs speed only.
   */
  sizeHint?: number;
}

/** Options of `createAddressed`: the key and metadata are decided by `place` once the body is written. */
export interface AddressedCreateOptions extends Omit<CreateOptions, "expectedSha256" | "metadata"> {
  /**
   * Called once, after every byte is written (its fsync may still be running: the object is committed,
   * and becomes visible, only after both it and `place` are done), with the digest of what was written. It returns the key and metadata; if it throws, nothing is stored.
   * A backend that stages the bytes in a local file gives its path (`stagedPath`): the exact bytes
   * written, readable (never writable) until `place` settles, so a caller can examine what it is about
   * to commit without reading the source again.
   */
  place(written: {
    sha256: string;
    size: number;
    stagedPath?: string;
  }): Promise<{ key: string; metadata?: Record<string, string> }>;
  /**
   * Optional, for backends that stage in a local file: called once every byte is in the staged file,
   * possibly before the backend has finished hashing it, so a caller may start reading the staged copy
   * side by side with that hashing. The path is the one `place` gets.
   */
  onStaged?(stagedPath: string): void;
  /**
   * Optional, for backends that copy a whole-file body and read the copy back to hash it (the fs store):
   * called once the copy has begun, before that read, which may follow the kernel's copy as it is
   * written. `whole` settles when the copy has ended, rejected if it failed or its source changed
   * meanwhile (the create then fails); until it is fulfilled the staged file holds only a prefix of the
   * body, so whatever else the caller reads of it must wait for `whole`. The observer it resolves to
   * sees every byte of the backend's read, in file order, each once, so a caller can check the staged
   * bytes without reading them again. A backend that hashes a body on its way in (a stream) does not
   * call it: a caller must not count on being fed. A rejection fails the create, nothing stored.
   */
  observeStaged?(stagedPath: string, whole: Promise<void>): Promise<StagedObserver | undefined>;
  /**
   * Optional, for a whole-file body: the copy of that file `startEarlyCopy` began before the store was
   * opened. The fs store takes it instead of copying the file again when it may, and removes it when it
   * may not (see EarlyCopy); a body the store never copies leaves it be, so the caller `discard`s it once
   * `createAddressed` settles, whatever happened (a no-op once taken or removed).
   */
  earlyCopy?: EarlyCopy;
}

/**
 * Sees the bytes of a staged copy as the backend reads them: `chunk` is the file's bytes at `position`,
 * valid during the call only, or until the promise it returns settles (the backend waits for it before
 * reusing the buffer). A throw or rejection fails the create.
 */
export type StagedObserver = (chunk: Uint8Array, position: number) => void | Promise<void>;

/** `AddressedCreateOptions.observeStaged`, as a backend calls it. */
export type StageObserverFactory = (
  stagedPath: string,
  whole: Promise<void>,
) => Promise<StagedObserver | undefined>;

export interface ReadOptions {
  abortSignal?: AbortSignal;
}

export interface ListOptions {
  /** A plain string prefix of the key (may end inside a segment). */
  prefix?: string;
  abortSignal?: AbortSignal;
}

export interface VerifyOptions {
  prefix?: string;
  abortSignal?: AbortSignal;
  onProgress?: (bytes: number) => void;
}

/** The record of one stored object. */
export interface StoredObject {
  key: string;
  size: number;
  /** Lower-case hex sha256 of the bytes, computed while they were written. */
  sha256: string;
  createdAt: Date;
  retainUntil?: Date;
  legalHold: boolean;
  /** Identifies this incarnation of the key (a new create after a delete gets a new version). */
  version: string;
  metadata: Record<string, string>;
}

/** One object checked by `verify`. */
export type VerifyResult =
  | { kind: "ok"; key: string; size: number; sha256: string }
  | {
      kind: "mismatch";
      key: string;
      expected: { size: number; sha256: string };
      actual: { size: number; sha256: string };
    }
  | { kind: "error"; key: string; error: CustodyError };

/**
 * Write-once evidence storage. Every method fails with a coded CustodyError: ERR_NOT_FOUND,
 * ERR_ALREADY_EXISTS, ERR_INTEGRITY_MISMATCH, ERR_IMMUTABLE and ERR_BACKEND_UNAVAILABLE stay distinct.
 */
export interface EvidenceStore {
  readonly capabilities: StoreCapabilities;
  /** Streams `body` in; fails with ERR_ALREADY_EXISTS if the key exists (checked before reading the body). */
  create(
    key: string,
    body: Readable | AsyncIterable<Uint8Array>,
    options?: CreateOptions,
  ): Promise<StoredObject>;
  /**
   * Optional: streams `body` in when its key depends on its digest (a content address known only at its
   * end). Create-only like `create`, but the key is checked after the body was read: an existing key
   * fails with ERR_ALREADY_EXISTS having stored nothing.
   */
  createAddressed?(
    body: Readable | AsyncIterable<Uint8Array>,
    options: AddressedCreateOptions,
  ): Promise<StoredObject>;
  /** The stream errors with ERR_INTEGRITY_MISMATCH at its end, instead of 'end', when the bytes are not the stored ones. */
  read(key: string, options?: ReadOptions): Promise<Readable>;
  /**
   * `head` and `read` in one look-up: the object as it stands and a stream of its bytes (checked as
   * `read`'s are). Where both are needed (a check of the object), this reads its record once, and the
   * bytes are those of exactly that record.
   */
  readObject(key: string, options?: ReadOptions): Promise<{ object: StoredObject; body: Readable }>;
  head(key: string): Promise<StoredObject>;
  /** Objects in key order (UTF-16 code units). */
  list(options?: ListOptions): AsyncIterable<StoredObject>;
  /**
   * The keys `list` would give, in the same order, without reading a record: a caller that knows most
   * of them already (a check looking for objects nobody recorded) looks up only the others. It may also
   * give the key of an object being deleted, which `head` then does not find.
   */
  listKeys(options?: ListOptions): AsyncIterable<string>;
  setLegalHold(key: string, on: boolean): Promise<StoredObject>;
  /** Moves retention later; an earlier date fails with ERR_IMMUTABLE. */
  extendRetention(key: string, until: Date): Promise<StoredObject>;
  /** ERR_IMMUTABLE while retained or held. */
  delete(key: string): Promise<void>;
  /** Re-reads every object (under `prefix`) and compares it with its record. */
  verify?(options?: VerifyOptions): AsyncIterable<VerifyResult>;
  close?(): Promise<void>;
}
