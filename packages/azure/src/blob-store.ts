import type { Readable } from "node:stream";
import type { ContainerClient } from "@azure/storage-blob";
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
import { INTERNAL_PREFIX, metadataToRecord, type ObjectState, toStoredObject } from "./blob-record.js";
import { uploadObject } from "./create.js";
import { mapAzureError, statusOf } from "./errors.js";
import { LibraryProtection } from "./library-protection.js";
import { assertKeyFree, type LiveObject, readLive } from "./lookup.js";
import { type AzureBlobEvidenceStoreOptions, blockSettings, containerClientFor } from "./options.js";
import { capabilitiesFor, probeEnforcement } from "./probe.js";
import { applyServiceProtection, readLibraryState, serviceState } from "./state.js";
import { AzureVaultState } from "./vault-state.js";

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
    this.capabilities = capabilitiesFor(service ? "service" : "library");
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
      await assertKeyFree(this.#container, key, this.#service);
      const record = await uploadObject(blob, key, body, opts, {
        clock: this.#clock,
        logger: this.#logger,
        service: this.#service,
        lockRetention: this.#options.lockRetention === true,
        ...blockSettings(this.#options),
      });
      const state = this.#service
        ? await this.#protect(key, {
            ...(record.initial.legalHold ? { legalHold: true } : {}),
            ...(record.initial.retainUntil ? { retainUntil: record.initial.retainUntil } : {}),
          })
        : record.initial;
      return toStoredObject(record, state);
    } catch (error) {
      throw mapAzureError(error, `could not store ${JSON.stringify(key)}`, key);
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
    const { record, state, props } = await this.#live(key);
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
      return {
        object: toStoredObject(record, state),
        body: verifiedReadable(source, record, options.abortSignal),
      };
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

  async *listKeys(options: ListOptions = {}): AsyncIterable<string> {
    const prefix = options.prefix ?? "";
    assertValidPrefix(prefix);
    try {
      for await (const item of this.#container.listBlobsFlat({ prefix })) {
        throwIfAborted(options.abortSignal);
        if (!item.name.startsWith(INTERNAL_PREFIX)) yield item.name;
      }
    } catch (error) {
      throw mapAzureError(error, "could not list objects");
    }
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
    const prefix = options.prefix ?? "";
    assertValidPrefix(prefix);
    // Names, not records: a blob whose record is damaged is reported by its read, not fatal to the pass.
    const keys = async function* (container: ContainerClient) {
      for await (const item of container.listBlobsFlat({ prefix })) {
        if (!item.name.startsWith(INTERNAL_PREFIX)) yield item.name;
      }
    };
    yield* verifyObjects(keys(this.#container), (key) => this.read(key), options);
  }

  async close(): Promise<void> {}

  /** The state a replicated vault keeps beside its evidence (audit log, policy, CA, CRLs) in this container. */
  vaultSharedState(): AzureVaultState {
    return new AzureVaultState(this.#container);
  }

  async #protect(
    key: string,
    wanted: { legalHold?: boolean; retainUntil?: string | Date },
  ): Promise<ObjectState> {
    const retainUntil = wanted.retainUntil === undefined ? undefined : new Date(wanted.retainUntil);
    return applyServiceProtection(
      this.#container.getBlobClient(key),
      {
        ...(wanted.legalHold === undefined ? {} : { legalHold: wanted.legalHold }),
        ...(retainUntil ? { retainUntil } : {}),
      },
      this.#options.lockRetention === true,
    );
  }

  async #live(key: string): Promise<LiveObject> {
    return this.#guard(key, () => readLive(this.#container, key, this.#service));
  }

  async #guard<T>(key: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw mapAzureError(error, `evidence store operation on ${JSON.stringify(key)} failed`, key);
    }
  }
}
