import { createHash, randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { CustodyError, type ErrorCode, isCustodyError, noteTransientBytes } from "@custody/core";
import type { AuthenticatedPrincipal, Vault } from "@custody/vault";
import type { LiveLimits } from "./limits.js";
import type { LiveSession } from "./session.js";

export interface TransferRequest {
  cmdId: string;
  session: LiveSession;
  /** The analyst who asked for the file: the item is theirs, authorized as their ingest. */
  principal: AuthenticatedPrincipal;
  path: string;
  fileinfoCmdId: string;
  /** What fileinfo said of the file (size, digests, times, owner, mode). */
  data: Record<string, unknown>;
  sha256: string;
  size: number;
  /** More labels for the item (a quarantine: `kind`, the remediation). */
  labels?: Record<string, string>;
  /**
   * A quarantine: bytes the case already holds as an item count as held once the upload hashes to the
   * same digest (a file taken with getfile, then remediated). A getfile is refused instead.
   */
  keepsExisting?: boolean;
}

interface Outcome {
  itemId?: string;
  error?: { code: string; message: string };
}

/** Where a PUT starts: 0, or the staged offset it resumes from (`content-range: bytes START-END/TOTAL`). */
export interface TransferRange {
  offset: number;
  /** The PUT's content-length: exactly the bytes from the offset to the end. */
  length: number | undefined;
}

/**
 * One getfile's upload slot: bound to its command, device, digest and size, gone when the command ends.
 * The device PUTs the bytes; they stream into the vault create-only under the digest, the store hashing
 * and writing them once. When a PUT is cut, the store's create waits (for the command's lifetime) with
 * the bytes it was given; `HEAD` tells the device how many, and its next PUT continues the same body from
 * there. Bytes that differ from the digest, resumed or not, store nothing.
 */
export class Transfer {
  readonly id = `T-${randomUUID()}`;
  readonly request: TransferRequest;
  readonly #abort = new AbortController();
  /** The store's create under way, fed by every attempt in order; it waits across a cut. */
  #pending: Pending | undefined;
  /** Bytes handed to the store's body, from 0. */
  #staged = 0;
  /** The attempt under way (PUTs and HEADs wait for it, one at a time). */
  #busy: Promise<unknown> = Promise.resolve();
  #result: Promise<Outcome> | undefined;

  constructor(request: TransferRequest) {
    this.request = request;
  }

  get path(): string {
    return this.request.path;
  }

  frame() {
    return {
      id: this.id,
      path: `/v1/agent/transfers/${this.id}`,
      expectedSha256: this.request.sha256,
      expectedSize: this.request.size,
      maxBytes: this.request.size,
    };
  }

  abort(reason: CustodyError): void {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort(reason);
    // a create waiting for a resumed PUT ends with the command: nothing stored
    this.#pending?.feed.destroy(reason);
  }

  /** What the store holds of a cut transfer goes with the command. */
  async discard(): Promise<void> {
    this.abort(new CustodyError("ERR_ABORTED", `transfer ${this.id} ended`));
    await this.#busy.catch(() => undefined);
    await this.#pending?.stored;
  }

  /** What the upload came to; a device that reports success without uploading gets an error. */
  outcome(): Promise<Outcome> {
    return (
      this.#result ??
      Promise.resolve({
        error: { code: "ERR_PROTOCOL", message: "the device reported the file sent, but never uploaded it" },
      })
    );
  }

  /** HEAD: the bytes held so far, once any attempt under way has settled. */
  async staged(device: AuthenticatedPrincipal): Promise<{ offset: number; complete: boolean }> {
    this.#check(device);
    await this.#busy.catch(() => undefined);
    return { offset: this.#staged, complete: this.#result !== undefined };
  }

  /**
   * A PUT: the device's bytes from `range.offset` on. Resolves with the outcome once the whole file is
   * stored or refused, or with a resumable error (`staged` set) when the body ended short or was cut.
   */
  receive(
    vault: Vault,
    device: AuthenticatedPrincipal,
    body: Readable,
    range: TransferRange,
  ): Promise<Outcome & { staged?: number }> {
    this.#check(device);
    const attempt = this.#busy.catch(() => undefined).then(() => this.#attempt(vault, body, range));
    this.#busy = attempt;
    return attempt;
  }

  #check(device: AuthenticatedPrincipal): void {
    if (device.kind !== "device" || device.id !== this.request.session.deviceId) {
      throw new CustodyError("ERR_ACCESS_DENIED", `transfer ${this.id} is not for ${device.id}`);
    }
  }

  async #attempt(vault: Vault, body: Readable, range: TransferRange): Promise<Outcome & { staged?: number }> {
    const size = this.request.size;
    const refuse = (code: ErrorCode, message: string): never => {
      body.resume();
      throw new CustodyError(code, message);
    };
    if (this.#result !== undefined) refuse("ERR_REPLAY", `transfer ${this.id} was already stored or refused`);
    if (this.#abort.signal.aborted) refuse("ERR_ABORTED", `transfer ${this.id} was cancelled`);
    if (range.offset !== 0 && range.offset !== this.#staged)
      refuse(
        "ERR_CONFLICT",
        `transfer ${this.id} has ${this.#staged} bytes staged; a PUT starts at 0 or there, not at ${range.offset}`,
      );
    if (range.length !== size - range.offset)
      refuse(
        "ERR_INVALID_ARGUMENT",
        `a PUT from ${range.offset} carries the ${size - range.offset} bytes to the end, with a content-length`,
      );
    if (range.offset === 0) await this.#restart();
    const pending = this.#pending ?? this.#open(vault);
    const whole = await this.#take(body, pending);
    // the store refused before the end (another item under the digest, a failed write): that is final
    if (pending.settled !== undefined) {
      this.#result = Promise.resolve(pending.settled);
      return pending.settled;
    }
    if (!whole || this.#staged < size) {
      return {
        staged: this.#staged,
        error: {
          code: "ERR_ABORTED",
          message: `transfer ${this.id} ended at ${this.#staged} of ${size} bytes; resume from there`,
        },
      };
    }
    pending.feed.end();
    this.#result = pending.stored;
    return await this.#result;
  }

  /** A PUT from 0 starts over: a create waiting with the bytes of an earlier attempt ends first. */
  async #restart(): Promise<void> {
    const pending = this.#pending;
    if (pending === undefined) return;
    pending.feed.destroy(new CustodyError("ERR_ABORTED", `transfer ${this.id} started over`));
    await pending.stored;
    this.#pending = undefined;
    this.#staged = 0;
  }

  /** Starts the store's create, reading from a body the PUTs feed. */
  #open(vault: Vault): Pending {
    const feed = new PassThrough({ highWaterMark: FEED_BYTES });
    const pending: Pending = { feed, stored: this.#store(vault, feed) };
    void pending.stored.then((outcome) => {
      pending.settled = outcome;
    });
    this.#pending = pending;
    return pending;
  }

  /**
   * Pipes one PUT's body into the store's, counting what it hands over; true when the body came whole,
   * false when it was cut (or the transfer ended). Once the store has answered, the rest of the body is
   * read and dropped, so the device hears the answer.
   */
  #take(body: Readable, pending: Pending): Promise<boolean> {
    const { feed } = pending;
    return new Promise<boolean>((resolve) => {
      let taking = true;
      const onData = (chunk: Buffer): void => {
        this.#staged += chunk.length;
        noteTransientBytes(chunk.length);
      };
      const done = (whole: boolean): void => {
        if (!taking) return;
        taking = false;
        body.off("data", onData);
        body.unpipe(feed);
        this.#abort.signal.removeEventListener("abort", cut);
        resolve(whole);
      };
      const cut = (): void => done(false);
      body.once("end", () => done(true));
      body.once("error", cut);
      body.once("close", () => done(body.readableEnded));
      this.#abort.signal.addEventListener("abort", cut, { once: true });
      void pending.stored.then(() => {
        if (!taking) return;
        body.unpipe(feed);
        body.resume();
      });
      body.on("data", onData);
      body.pipe(feed, { end: false });
    });
  }

  async #store(vault: Vault, body: Readable): Promise<Outcome> {
    const { request } = this;
    const { session } = request;
    try {
      const item = await vault.ingestLiveFile(request.principal, body, {
        caseId: session.caseId,
        name: basename(request.path),
        expectedSha256: request.sha256,
        expectedSize: request.size,
        deviceId: session.deviceId,
        source: `${session.deviceId}:${request.path}`,
        labels: fileLabels(request),
        abortSignal: this.#abort.signal,
      });
      return { itemId: item.id };
    } catch (error) {
      // the case's item was ingested and verified under this digest; the upload must still hash to it
      if (request.keepsExisting === true && isCustodyError(error, "ERR_ALREADY_EXISTS"))
        return await this.#confirmHeld(body);
      body.resume();
      const code = isCustodyError(error) ? error.code : "ERR_INTERNAL";
      return { error: { code, message: (error as Error).message } };
    }
  }

  async #confirmHeld(body: Readable): Promise<Outcome> {
    const { sha256, size, session } = this.request;
    const hash = createHash("sha256");
    let seen = 0;
    try {
      for await (const chunk of body) {
        hash.update(chunk as Buffer);
        seen += (chunk as Buffer).length;
      }
    } catch (error) {
      const code = isCustodyError(error) ? error.code : "ERR_INTERNAL";
      return { error: { code, message: (error as Error).message } };
    }
    if (seen === size && hash.digest("hex") === sha256) return { itemId: sha256 };
    return {
      error: {
        code: "ERR_INTEGRITY_MISMATCH",
        message: `the bytes sent are not item ${sha256} of case ${session.caseId}, which the device announced`,
      },
    };
  }
}

/** Bytes the feed holds before the PUT waits: little, so each TLS record's buffer is dropped young. */
const FEED_BYTES = 64 * 1024;

/** A store's create in progress: the body it reads and its outcome, `settled` once it has one. */
interface Pending {
  feed: PassThrough;
  stored: Promise<Outcome>;
  settled?: Outcome;
}

/** Transfers by id, for the PUT route. */
export class Transfers {
  readonly #byId = new Map<string, Transfer>();
  readonly vault: Vault;
  readonly limits: LiveLimits;
  #swept = false;

  constructor(vault: Vault, limits: LiveLimits) {
    this.vault = vault;
    this.limits = limits;
  }

  create(request: TransferRequest): Transfer {
    if (!this.#swept) {
      // An older server kept cut transfers in staging files here; their commands ended with it.
      rmSync(join(this.vault.dir, "server", "transfers"), { recursive: true, force: true });
      this.#swept = true;
    }
    const transfer = new Transfer(request);
    this.#byId.set(transfer.id, transfer);
    return transfer;
  }

  get(id: string): Transfer | undefined {
    return this.#byId.get(id);
  }

  forget(transfer: Transfer): void {
    this.#byId.delete(transfer.id);
    void transfer.discard();
  }

  /** At shutdown: every transfer's waiting create ends, nothing stored. */
  async close(): Promise<void> {
    await Promise.all([...this.#byId.values()].map((transfer) => transfer.discard()));
    this.#byId.clear();
  }
}

/**
 * What the item records of its origin: device, path, file metadata, command, session, analyst. The
 * device's sha1/md5 (fileinfo) are kept as its claims (`file.sha1`, `file.md5`), like its other metadata:
 * the vault's own digest of the bytes is the sha256 the store computes; re-hashing sha1 and md5 on the
 * server cost about 40% of a transfer.
 */
function fileLabels(request: TransferRequest): Record<string, string> {
  const labels: Record<string, string> = {
    source: "live-response",
    device: request.session.deviceId,
    path: request.path.slice(0, 1024),
    command: request.cmdId,
    fileinfo: request.fileinfoCmdId,
    session: request.session.id,
    analyst: request.principal.id,
    ...request.labels,
  };
  for (const key of [
    "mode",
    "owner",
    "uid",
    "gid",
    "mtime",
    "ctime",
    "atime",
    "btime",
    "inode",
    "ino",
    "dev",
    "sha1",
    "md5",
  ]) {
    const value = request.data[key];
    if (typeof value === "string" || typeof value === "number")
      labels[`file.${key}`] = String(value).slice(0, 200);
  }
  return labels;
}

function basename(path: string): string {
  const name = path
    .split(/[\\/]/)
    .filter((part) => part !== "")
    .at(-1);
  return name === undefined || name === "" ? "file" : name;
}
