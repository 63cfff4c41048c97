import type { Readable } from "node:stream";
import {
  assertSafeRelativePath,
  type Clock,
  CustodyError,
  pathCollisionKey,
  systemClock,
  throwIfAborted,
  toCustodyError,
} from "@custody/core";
import { ManifestBuilder } from "@custody/manifest";
import type {
  ItemMeta,
  ItemRecord,
  PackageProgress,
  PackageResult,
  PackageWriter,
  PackageWriterOptions,
} from "./package-types.js";
import { openTemporary, publish } from "./publish.js";
import { Sequencer } from "./sequencer.js";
import { type CollectionSummaryRow, collectionSummaryRowSchema } from "./summary.js";
import { writeTagFiles } from "./tag-files.js";
import { fileChunks, streamChunks } from "./zip/chunks.js";
import { writeEntry } from "./zip/entry.js";
import type { ZipCheckpoint, ZipWriter } from "./zip/writer.js";

/**
 * Writes a signed investigation package in one pass: each entry is hashed while it is compressed and
 * written; entries added concurrently are read and compressed in parallel and written in call order.
 * Until `finalize` resolves the output exists only under a temporary name next to `outFile`.
 */
export function createPackageWriter(outFile: string, options: PackageWriterOptions): PackageWriter {
  return new InvestigationPackageWriter(outFile, options);
}

type State = "open" | "finalizing" | "done" | "failed";

class InvestigationPackageWriter implements PackageWriter {
  #outFile: string;
  #options: PackageWriterOptions;
  #clock: Clock;
  #zip: Promise<ZipWriter>;
  #sequencer = new Sequencer();
  #controller = new AbortController();
  #claimed = new Map<string, string>();
  #folders = new Map<string, string>();
  #items: ItemRecord[] = [];
  #manifest: ManifestBuilder;
  #summary: CollectionSummaryRow[] = [];
  #state: State = "open";
  #progress: PackageProgress = { files: 0, bytes: 0 };
  #discarded: Promise<void> | undefined;

  constructor(outFile: string, options: PackageWriterOptions) {
    assertSafeRelativePath(options.name, "package name");
    if (options.name.includes("/"))
      throw new CustodyError("ERR_INVALID_ARGUMENT", "the package name is one folder name");
    this.#outFile = outFile;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    const { name, device, collector, caseId } = options;
    const manifestCase = caseId === undefined ? {} : { case: { id: caseId } };
    this.#manifest = new ManifestBuilder({ name, device, collector, ...manifestCase, clock: this.#clock });
    options.abortSignal?.addEventListener("abort", () => void this.abort(options.abortSignal?.reason), {
      once: true,
    });
    this.#zip = openTemporary(outFile, options.forceZip64 ?? false);
    this.#zip.catch(() => {}); // surfaced by the first call that needs it
  }

  addStream(
    pathUnderData: string,
    body: Readable | AsyncIterable<Uint8Array>,
    meta: ItemMeta = {},
  ): Promise<ItemRecord> {
    return this.#add(pathUnderData, meta, async () => streamChunks(body));
  }

  addFile(pathUnderData: string, file: string, meta: ItemMeta = {}): Promise<ItemRecord> {
    return this.#add(pathUnderData, meta, async () => fileChunks(file));
  }

  setCollectionSummary(rows: readonly CollectionSummaryRow[]): void {
    this.#assertOpen();
    this.#summary = rows.map((row) => collectionSummaryRowSchema.parse(row));
  }

  async finalize(): Promise<PackageResult> {
    await this.#assertUsable();
    this.#state = "finalizing";
    try {
      await this.#sequencer.idle();
      throwIfAborted(this.#controller.signal);
      const zip = await this.#zip;
      const tags = await writeTagFiles(zip, {
        ...this.#options,
        clock: this.#clock,
        items: this.#items,
        manifest: this.#manifest,
        summary: this.#summary,
        abortSignal: this.#controller.signal,
      });
      const { size } = await zip.finish();
      await publish(zip.path, this.#outFile);
      this.#state = "done";
      return { file: this.#outFile, name: this.#options.name, size, items: this.#items.length, ...tags };
    } catch (error) {
      await this.#fail();
      throw toCustodyError(error, "ERR_IO", "the package could not be finalized");
    }
  }

  async abort(reason?: unknown): Promise<void> {
    if (this.#state === "done" || this.#state === "failed") return;
    this.#controller.abort(reason);
    await this.#fail();
  }

  async #add(
    pathUnderData: string,
    meta: ItemMeta,
    source: () => Promise<AsyncIterable<Buffer>>,
  ): Promise<ItemRecord> {
    this.#assertOpen();
    const collectedAt = timestamp(meta.collectedAt ?? this.#clock.now());
    const path = this.#claim(pathUnderData);
    const turn = this.#sequencer.take();
    const zip = await this.#zip.catch(async (error: unknown) => {
      turn.done();
      throw toCustodyError(error, "ERR_IO", `cannot create ${this.#outFile}`);
    });
    let checkpoint: ZipCheckpoint | undefined;
    const ready = turn.ready.then(() => {
      checkpoint = zip.checkpoint();
    });
    try {
      const written = await writeEntry(zip, await source(), {
        name: `${this.#options.name}/${path}`,
        path,
        level: this.#options.level ?? 6,
        modifiedAt: new Date(collectedAt),
        turn: ready,
        abortSignal: this.#controller.signal,
        onBytes: (bytes) => this.#report(0, bytes),
      });
      const dataPoint = meta.dataPoint ?? pathUnderData.split("/")[0] ?? pathUnderData;
      const record: ItemRecord = { path, ...written, collectedAt, dataPoint };
      if (meta.source !== undefined) record.source = meta.source;
      const { size, sha256, source: origin } = record;
      this.#manifest.addItem({
        path,
        size,
        sha256,
        collectedAt,
        dataPoint,
        ...(origin === undefined ? {} : { source: origin }),
      });
      this.#items.push(record);
      this.#report(1, 0);
      return record;
    } catch (error) {
      await ready;
      // The entry's source failed: the package stays consistent without it and the path may be retried.
      if (this.#state !== "failed" && checkpoint !== undefined) zip.rollback(checkpoint);
      this.#claimed.delete(pathCollisionKey(path));
      if (this.#controller.signal.aborted) await this.#fail();
      throw toCustodyError(error, "ERR_IO", `${pathUnderData} could not be added to the package`);
    } finally {
      turn.done();
    }
  }

  #claim(pathUnderData: string): string {
    assertSafeRelativePath(pathUnderData, "package path");
    const path = `data/${pathUnderData}`;
    const key = pathCollisionKey(path);
    const earlier = this.#claimed.get(key);
    if (earlier !== undefined) {
      throw new CustodyError(
        "ERR_DUPLICATE_PATH",
        `${path} collides with ${earlier} already in the package`,
        {
          details: { path, earlier },
        },
      );
    }
    this.#claimFolders(path, key);
    this.#claimed.set(key, path);
    return path;
  }

  /** One spelling per folder ("Data/a" then "data/b" would be one folder on Windows and macOS, two elsewhere). */
  #claimFolders(path: string, key: string): void {
    const keys = key.split("/");
    const spelled = path.split("/");
    for (let depth = 1; depth < keys.length; depth++) {
      const earlier = this.#folders.get(keys.slice(0, depth).join("/"));
      const spelling = spelled.slice(0, depth).join("/");
      if (earlier !== undefined && earlier !== spelling) {
        throw new CustodyError("ERR_DUPLICATE_PATH", `${path} spells the folder ${earlier} another way`, {
          details: { path, earlier },
        });
      }
    }
    for (let depth = 1; depth < keys.length; depth++)
      this.#folders.set(keys.slice(0, depth).join("/"), spelled.slice(0, depth).join("/"));
  }

  #report(files: number, bytes: number): void {
    this.#progress = { files: this.#progress.files + files, bytes: this.#progress.bytes + bytes };
    this.#options.onProgress?.(this.#progress);
  }

  #assertOpen(): void {
    throwIfAborted(this.#controller.signal);
    if (this.#state !== "open")
      throw new CustodyError("ERR_CONFLICT", `the package writer is ${this.#state}`);
  }

  /** Discards the temporary file once; every caller waits until it is gone. */
  #fail(): Promise<void> {
    this.#state = "failed";
    this.#discarded ??= this.#zip.then(
      (zip) => zip.discard(),
      () => {},
    );
    return this.#discarded;
  }

  /** Like #assertOpen, but after an abort it first waits until the temporary file is gone. */
  async #assertUsable(): Promise<void> {
    if (this.#controller.signal.aborted) await this.#fail();
    this.#assertOpen();
  }
}

function timestamp(value: Date | string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `collectedAt ${JSON.stringify(String(value))} is not a time`,
    );
  }
  return date.toISOString();
}
