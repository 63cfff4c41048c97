import { open } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";
import {
  type Clock,
  CustodyError,
  type IdGenerator,
  type Logger,
  makeDirectoryDurable,
  mapInOrder,
  silentLogger,
  systemClock,
  throwIfAborted,
  toCustodyError,
  uuidv7Generator,
} from "@custody/core";
import { verifiedReadable } from "./digest.js";
import { takeEarlyCopy } from "./early-copy.js";
import {
  assertDeletable,
  assertKeyFree,
  commitStaging,
  stageAddressedObject,
  stageObject,
} from "./internal/fs-commit.js";
import { errnoCode, mkdirDurable, removeTree, tempName } from "./internal/fs-durable.js";
import {
  cleanTmp,
  ensureMarker,
  objectDir,
  removeJournal,
  removeObjectDir,
  writeDeleteJournal,
} from "./internal/fs-layout.js";
import {
  DATA_FILE,
  type FsObjectMeta,
  type FsObjectState,
  readLiveRecord,
  toStoredObject,
  updateState,
} from "./internal/fs-record.js";
import { walkKeys } from "./internal/fs-walk.js";
import type {
  AddressedCreateOptions,
  CreateOptions,
  EvidenceStore,
  ListOptions,
  ReadOptions,
  StoreCapabilities,
  StoredObject,
  VerifyOptions,
  VerifyResult,
} from "./types.js";
import {
  assertBody,
  assertValidKey,
  assertValidPrefix,
  validateCreateOptions,
  validRetention,
} from "./validate.js";
import { verifyObjects } from "./verify.js";

export interface FsEvidenceStoreOptions {
  clock?: Clock;
  logger?: Logger;
  /** Version ids for new objects (default: UUIDv7). */
  ids?: IdGenerator;
}

/** The filesystem cannot stop another process (or root) from changing files: every protection is ours. */
const FS_CAPABILITIES: StoreCapabilities = Object.freeze({
  backend: "fs",
  immutability: "library",
  retention: "library",
  legalHold: "library",
  resumableUploads: false,
});

/** How many objects' records a listing reads at once (in the walk's order all the same). */
const LIST_READS_IN_FLIGHT = 16;

/** Write-once evidence storage in a local directory: the embedded default backend. */
export class FsEvidenceStore implements EvidenceStore {
  readonly capabilities: StoreCapabilities = FS_CAPABILITIES;
  readonly #objects: string;
  readonly #tmp: string;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #ids: IdGenerator;

  private constructor(root: string, options: FsEvidenceStoreOptions) {
    this.#objects = join(root, "objects");
    this.#tmp = join(root, "tmp");
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.#ids = options.ids ?? uuidv7Generator(this.#clock);
  }

  /** Opens (creating if needed) the store in `dir` and cleans up after writers that were killed. */
  static async open(dir: string, options: FsEvidenceStoreOptions = {}): Promise<FsEvidenceStore> {
    if (typeof dir !== "string" || dir.length === 0) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", "the store directory must be a non-empty path");
    }
    const root = resolve(dir);
    try {
      await makeDirectoryDurable(root);
      await ensureMarker(root);
      const store = new FsEvidenceStore(root, options);
      await mkdirDurable(root, ["objects"]);
      await mkdirDurable(root, ["tmp"]);
      await cleanTmp(store.#tmp, store.#objects);
      return store;
    } catch (error) {
      throw toCustodyError(error, "ERR_IO", `could not open the evidence store in ${root}`);
    }
  }

  async create(
    key: string,
    body: Readable | AsyncIterable<Uint8Array>,
    options?: CreateOptions,
  ): Promise<StoredObject> {
    assertValidKey(key);
    assertBody(body);
    const opts = validateCreateOptions(options, this.#clock);
    throwIfAborted(opts.abortSignal);
    const target = objectDir(this.#objects, key);
    // Refuse before reading a byte of the body; the commit below re-checks atomically.
    await assertKeyFree(target, key);
    const staging = join(this.#tmp, tempName(".create"));
    try {
      const { meta, state } = await stageObject(staging, key, body, opts, this.#clock.now(), this.#ids);
      throwIfAborted(opts.abortSignal);
      await commitStaging(this.#objects, staging, target, key);
      this.#logger.debug({ key, size: meta.size, sha256: meta.sha256 }, "evidence object stored");
      return toStoredObject(meta, state);
    } catch (error) {
      await removeTree(staging);
      throw toCustodyError(error, "ERR_IO", `could not store ${JSON.stringify(key)}`);
    }
  }

  async createAddressed(
    body: Readable | AsyncIterable<Uint8Array>,
    options: AddressedCreateOptions,
  ): Promise<StoredObject> {
    assertBody(body);
    if (typeof options?.place !== "function") {
      throw new CustodyError("ERR_INVALID_ARGUMENT", "createAddressed needs a place function");
    }
    const { place, onStaged, observeStaged, earlyCopy, ...rest } = options;
    const opts = validateCreateOptions(rest, this.#clock);
    throwIfAborted(opts.abortSignal);
    const staging = join(this.#tmp, tempName(".create"));
    try {
      const staged = await stageAddressedObject(
        staging,
        body,
        {
          ...opts,
          onStaged,
          observeStaged,
          takeEarlyCopy: (source, dest) => takeEarlyCopy(earlyCopy, source, this.#tmp, dest),
        },
        place,
        this.#clock,
        this.#ids,
      );
      throwIfAborted(opts.abortSignal);
      const key = staged.meta.key;
      const target = objectDir(this.#objects, key);
      await assertKeyFree(target, key);
      await commitStaging(this.#objects, staging, target, key);
      this.#logger.debug(
        { key, size: staged.meta.size, sha256: staged.meta.sha256 },
        "evidence object stored",
      );
      return toStoredObject(staged.meta, staged.state);
    } catch (error) {
      await removeTree(staging);
      throw toCustodyError(error, "ERR_IO", "could not store the object");
    }
  }

  async read(key: string, options: ReadOptions = {}): Promise<Readable> {
    return (await this.readObject(key, options)).body;
  }

  async readObject(
    key: string,
    options: ReadOptions = {},
  ): Promise<{ object: StoredObject; body: Readable }> {
    assertValidKey(key);
    throwIfAborted(options.abortSignal);
    const dir = objectDir(this.#objects, key);
    const { meta, state } = await this.#guard(key, () => readLiveRecord(dir, key));
    const handle = await open(join(dir, DATA_FILE), "r").catch((error: unknown) => {
      // The record is there, so missing data is damage, not absence: verify must report it.
      if (errnoCode(error) !== "ENOENT")
        throw toCustodyError(error, "ERR_IO", `could not read ${JSON.stringify(key)}`);
      throw new CustodyError("ERR_INTEGRITY_MISMATCH", `the data of ${JSON.stringify(key)} is missing`, {
        cause: error,
        details: { key },
      });
    });
    // Reads of up to 1 MiB, never much larger than the object: a check of many small items would
    // otherwise allocate 1 MiB for each (garbage-collection time, not reads).
    const highWaterMark = Math.min(1 << 20, Math.max(16 * 1024, meta.size + 1));
    const source = handle.createReadStream({ highWaterMark });
    return { object: toStoredObject(meta, state), body: verifiedReadable(source, meta, options.abortSignal) };
  }

  async head(key: string): Promise<StoredObject> {
    assertValidKey(key);
    const { meta, state } = await this.#guard(key, () => readLiveRecord(objectDir(this.#objects, key), key));
    return toStoredObject(meta, state);
  }

  async *listKeys(options: ListOptions = {}): AsyncIterable<string> {
    const prefix = options.prefix ?? "";
    assertValidPrefix(prefix);
    yield* walkKeys(this.#objects, prefix, options.abortSignal);
  }

  async *list(options: ListOptions = {}): AsyncIterable<StoredObject> {
    const prefix = options.prefix ?? "";
    assertValidPrefix(prefix);
    const read = (key: string) =>
      readLiveRecord(objectDir(this.#objects, key), key).catch((error: unknown) => {
        if (errnoCode(error) === undefined && (error as CustodyError).code === "ERR_NOT_FOUND")
          return undefined;
        throw toCustodyError(error, "ERR_IO", `could not list ${JSON.stringify(key)}`);
      });
    const keys = walkKeys(this.#objects, prefix, options.abortSignal);
    for await (const record of mapInOrder(keys, read, LIST_READS_IN_FLIGHT)) {
      if (record !== undefined) yield toStoredObject(record.meta, record.state);
    }
  }

  async setLegalHold(key: string, on: boolean): Promise<StoredObject> {
    assertValidKey(key);
    if (typeof on !== "boolean")
      throw new CustodyError("ERR_INVALID_ARGUMENT", "legal hold must be true or false");
    return this.#change(key, (state) =>
      state.legalHold === on ? undefined : { ...this.#next(state), legalHold: on },
    );
  }

  async extendRetention(key: string, until: Date): Promise<StoredObject> {
    assertValidKey(key);
    if (!(until instanceof Date) || Number.isNaN(until.getTime())) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", "retention must be a valid Date");
    }
    return this.#change(key, (state) => {
      const current = state.retainUntil === undefined ? undefined : new Date(state.retainUntil);
      if (current !== undefined && until.getTime() < current.getTime()) {
        throw new CustodyError(
          "ERR_IMMUTABLE",
          `the retention of ${JSON.stringify(key)} cannot be shortened`,
          {
            details: { key, retainUntil: state.retainUntil, requested: until.toISOString() },
          },
        );
      }
      if (current !== undefined && until.getTime() === current.getTime()) return undefined;
      return { ...this.#next(state), retainUntil: validRetention(until, this.#clock).toISOString() };
    });
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    const dir = objectDir(this.#objects, key);
    const { meta } = await this.#guard(key, () => readLiveRecord(dir, key));
    // The journal lets a restart finish a delete that was decided but not carried out.
    const journal = await writeDeleteJournal(this.#tmp, key, meta.version);
    try {
      await this.#change(key, (state, current) => {
        assertDeletable(key, state, current.version === meta.version, this.#clock.now());
        return { ...this.#next(state), deleted: true };
      });
      await removeObjectDir(dir, this.#tmp);
    } finally {
      await removeJournal(journal);
    }
  }

  async *verify(options: VerifyOptions = {}): AsyncIterable<VerifyResult> {
    const prefix = options.prefix ?? "";
    assertValidPrefix(prefix);
    yield* verifyObjects(
      walkKeys(this.#objects, prefix, options.abortSignal),
      (key) => this.read(key),
      options,
    );
  }

  async close(): Promise<void> {}

  #next(state: FsObjectState): Omit<FsObjectState, "revision"> {
    const { revision: _revision, ...rest } = state;
    return { ...rest, changedAt: this.#clock.now().toISOString() };
  }

  async #change(
    key: string,
    change: (state: FsObjectState, meta: FsObjectMeta) => Omit<FsObjectState, "revision"> | undefined,
  ): Promise<StoredObject> {
    const dir = objectDir(this.#objects, key);
    const { meta, state } = await this.#guard(key, () => updateState(dir, this.#tmp, key, change));
    return toStoredObject(meta, state);
  }

  async #guard<T>(key: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw toCustodyError(error, "ERR_IO", `evidence store operation on ${JSON.stringify(key)} failed`);
    }
  }
}
