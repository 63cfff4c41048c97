import { randomUUID } from "node:crypto";
import type { Readable } from "node:stream";
import type { BlobGetPropertiesResponse, ContainerClient } from "@azure/storage-blob";
import {
  type Clock,
  CustodyError,
  type Logger,
  silentLogger,
  systemClock,
  throwIfAborted,
} from "@custody/core";
import {
  assertBody,
  assertValidKey,
  assertValidPrefix,
  type CreateOptions,
  type EvidenceStore,
  type ListOptions,
  type ReadOptions,
  type StoreCapabilities,
  type StoredObject,
  type VerifyOptions,
  type VerifyResult,
  validateCreateOptions,
  verifiedReadable,
  verifyObjects,
} from "@custody/store";
import {
  type BlobRecord,
  INTERNAL_PREFIX,
  metadataToRecord,
  type ObjectState,
  recordToMetadata,
  toStoredObject,
} from "./blob-record.js";
import { mapAzureError, statusOf } from "./errors.js";
import { LibraryProtection } from "./library-protection.js";
import { type AzureBlobEvidenceStoreOptions, blockSettings, containerClientFor } from "./options.js";
import { probeEnforcement } from "./probe.js";
import { applyServiceProtection, readLibraryState, serviceState } from "./state.js";
import { stageBlocks } from "./upload.js";

/** Write-once evidence storage on Azure Blob Storage (block blobs, create-only, resumable, verified reads). */
export class AzureBlobEvidenceStore implements EvidenceStore {
  readonly capabilities: StoreCapabilities;
  readonly #container: ContainerClient;
  readonly #options: AzureBlobEvidenceStoreOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #service: boolean;
  readonly #library: LibraryProtection;

  private constructor(container: ContainerClient, options: AzureBlobEvidenceStoreOptions, service: boolean) {
    this.#container = container;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#logger = options.logger ?? silentLogger;
    this.#service = service;
    this.#library = new LibraryProtection(container, this.#clock);
    const enforcement = service ? "service" : "library";
    this.capabilities = Object.freeze({
      backend: "azure-blob",
      immutability: enforcement,
      retention: enforcement,
      legalHold: enforcement,
      resumableUploads: true,
    });
  }

  /** Connects, checks the container (creating it if asked) and finds out what the service enforces. */
  static async open(options: AzureBlobEvidenceStoreOptions): Promise<AzureBlobEvidenceStore> {
    const container = containerClientFor(options);
    blockSettings(options);
    const logger = options.logger ?? silentLogger;
    try {
      if (options.createContainer === true) await container.createIfNotExists();
      else await container.getProperties();
      const enforcement =
        options.protection === "library"
          ? "library"
          : await probeEnforcement(container, options.clock ?? systemClock, logger);
      return new AzureBlobEvidenceStore(container, options, enforcement === "service");
    } catch (error) {
      throw mapAzureError(error, `could not open container ${options.containerName}`);
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
    const blob = this.#container.getBlockBlobClient(key);
    try {
      // Refuse before any data is sent; the commit below repeats the check atomically (ifNoneMatch "*").
      await this.#assertFree(key);
      const staged = await stageBlocks(blob, key, body, { ...blockSettings(this.#options), ...opts });
      if (staged.reusedBlocks > 0)
        this.#logger.info({ key, reusedBlocks: staged.reusedBlocks }, "upload resumed");
      if (opts.expectedSha256 !== undefined && staged.sha256 !== opts.expectedSha256) {
        throw new CustodyError(
          "ERR_INTEGRITY_MISMATCH",
          `the body of ${JSON.stringify(key)} does not hash to expectedSha256`,
          {
            details: { key, expectedSha256: opts.expectedSha256, actualSha256: staged.sha256 },
          },
        );
      }
      const record: BlobRecord = {
        key,
        size: staged.size,
        sha256: staged.sha256,
        createdAt: this.#clock.now(),
        version: randomUUID(),
        metadata: opts.metadata,
        initial: {
          legalHold: opts.legalHold,
          ...(opts.retainUntil ? { retainUntil: opts.retainUntil.toISOString() } : {}),
          deleted: false,
        },
      };
      await blob.commitBlockList(staged.blockIds, {
        conditions: { ifNoneMatch: "*" },
        metadata: recordToMetadata(record),
        abortSignal: opts.abortSignal,
      });
      const state = this.#service ? await this.#protect(key, record.initial) : record.initial;
      return toStoredObject(record, state);
    } catch (error) {
      throw mapAzureError(error, `could not store ${JSON.stringify(key)}`, key);
    }
  }

  async read(key: string, options: ReadOptions = {}): Promise<Readable> {
    assertValidKey(key);
    throwIfAborted(options.abortSignal);
    const { record, props } = await this.#live(key);
    try {
      const response = await this.#container.getBlobClient(key).download(0, undefined, {
        // Exactly the incarnation whose record was just read.
        conditions: { ifMatch: props.etag },
        abortSignal: options.abortSignal,
        maxRetryRequests: 3,
      });
      const source = response.readableStreamBody as Readable | undefined;
      if (source === undefined)
        throw new CustodyError("ERR_INTERNAL", "the download has no body (browser runtime?)");
      return verifiedReadable(source, record, options.abortSignal);
    } catch (error) {
      if (statusOf(error) === 412) {
        throw new CustodyError("ERR_CONFLICT", `${JSON.stringify(key)} changed while it was being read`, {
          cause: error,
        });
      }
      throw mapAzureError(error, `could not read ${JSON.stringify(key)}`, key);
    }
  }

  async head(key: string): Promise<StoredObject> {
    assertValidKey(key);
    const { record, state } = await this.#live(key);
    return toStoredObject(record, state);
  }

  async *list(options: ListOptions = {}): AsyncIterable<StoredObject> {
    const prefix = options.prefix ?? "";
    assertValidPrefix(prefix);
    try {
      const items = this.#container.listBlobsFlat({
        prefix,
        includeMetadata: true,
        includeLegalHold: true,
        includeImmutabilityPolicy: true,
      });
      for await (const item of items) {
        throwIfAborted(options.abortSignal);
        if (item.name.startsWith(INTERNAL_PREFIX)) continue;
        const record = metadataToRecord(item.name, item.metadata);
        const state = this.#service
          ? serviceState(item.properties)
          : (await readLibraryState(this.#container, record)).state;
        if (!state.deleted) yield toStoredObject(record, state);
      }
    } catch (error) {
      throw mapAzureError(error, "could not list objects");
    }
  }

  async setLegalHold(key: string, on: boolean): Promise<StoredObject> {
    assertValidKey(key);
    if (typeof on !== "boolean")
      throw new CustodyError("ERR_INVALID_ARGUMENT", "legal hold must be true or false");
    const { record, state } = await this.#live(key);
    if (state.legalHold === on) return toStoredObject(record, state);
    return this.#guard(key, async () =>
      this.#service
        ? toStoredObject(record, await this.#protect(key, { legalHold: on }))
        : toStoredObject(
            record,
            await this.#library.change(record, (s) =>
              s.legalHold === on ? undefined : { ...s, legalHold: on },
            ),
          ),
    );
  }

  async extendRetention(key: string, until: Date): Promise<StoredObject> {
    assertValidKey(key);
    const { record } = await this.#live(key);
    return this.#guard(key, async () => {
      if (!this.#service) return toStoredObject(record, await this.#library.extend(record, until));
      const { state } = await this.#live(key);
      const next = this.#library.extendedState(key, state, until);
      if (next === undefined) return toStoredObject(record, state);
      return toStoredObject(
        record,
        await this.#protect(key, { retainUntil: new Date(next.retainUntil ?? until) }),
      );
    });
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    const { record, state, props } = await this.#live(key);
    await this.#guard(key, async () => {
      if (this.#service) this.#library.assertDeletable(key, state);
      else
        await this.#library.change(record, (s) => {
          this.#library.assertDeletable(key, s);
          return { ...s, deleted: true };
        });
      await this.#container.getBlobClient(key).delete({ conditions: { ifMatch: props.etag } });
      if (!this.#service) await this.#library.forget(record);
    });
  }

  async *verify(options: VerifyOptions = {}): AsyncIterable<VerifyResult> {
    const keys = async function* (store: AzureBlobEvidenceStore) {
      for await (const object of store.list(options.prefix === undefined ? {} : { prefix: options.prefix }))
        yield object.key;
    };
    yield* verifyObjects(keys(this), (key) => this.read(key), options);
  }

  async close(): Promise<void> {}

  async #protect(
    key: string,
    wanted: { legalHold?: boolean; retainUntil?: string | Date },
  ): Promise<ObjectState> {
    const retainUntil = wanted.retainUntil === undefined ? undefined : new Date(wanted.retainUntil);
    return applyServiceProtection(
      this.#container.getBlobClient(key),
      {
        ...(wanted.legalHold ? { legalHold: wanted.legalHold } : {}),
        ...(retainUntil ? { retainUntil } : {}),
      },
      this.#options.lockRetention === true,
    );
  }

  async #assertFree(key: string): Promise<void> {
    const existing = await this.#live(key).catch((error: unknown) => {
      if ((error as CustodyError).code === "ERR_NOT_FOUND") return undefined;
      throw error;
    });
    if (existing !== undefined) {
      throw new CustodyError(
        "ERR_ALREADY_EXISTS",
        `an object with key ${JSON.stringify(key)} already exists`,
        { details: { key } },
      );
    }
  }

  /** The record and current state of a live object; a tombstoned one whose delete was cut short is finished off. */
  async #live(
    key: string,
  ): Promise<{ record: BlobRecord; state: ObjectState; props: BlobGetPropertiesResponse }> {
    return this.#guard(key, async () => {
      const props = await this.#container.getBlobClient(key).getProperties();
      const record = metadataToRecord(key, props.metadata);
      const state = this.#service
        ? serviceState(props)
        : (await readLibraryState(this.#container, record)).state;
      if (state.deleted) {
        await this.#container
          .getBlobClient(key)
          .delete({ conditions: { ifMatch: props.etag } })
          .catch(() => undefined);
        throw new CustodyError("ERR_NOT_FOUND", `no object with key ${JSON.stringify(key)}`, {
          details: { key },
        });
      }
      return { record, state, props };
    });
  }

  async #guard<T>(key: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw mapAzureError(error, `evidence store operation on ${JSON.stringify(key)} failed`, key);
    }
  }
}
