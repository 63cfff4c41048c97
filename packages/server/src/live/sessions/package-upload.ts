import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { pipeline, type Readable, Transform, type TransformCallback } from "node:stream";
import { CustodyError, isCustodyError } from "@custody/core";
import type { AuthenticatedPrincipal, IngestOptions, Vault } from "@custody/vault";
import type { LiveLimits } from "./limits.js";
import type { Tracked } from "./tracked.js";

interface Outcome {
  itemId?: string;
  sha256?: string;
  size?: number;
  error?: { code: string; message: string };
}

/**
 * One collect's upload slot: bound to its command and device, used once, gone when the command ends.
 * The device PUTs the package it made and signed; the vault stores it only when it verifies (BagIt
 * manifest, custody manifest, detached CMS) against the vault CA **and** its signer is this device's
 * own collector certificate. Anything else is refused, recorded, and nothing is stored.
 */
export class PackageUpload {
  readonly id = `P-${randomUUID()}`;
  readonly tracked: Tracked;
  readonly #abort = new AbortController();
  readonly #maxBytes: number;
  #result: Promise<Outcome> | undefined;

  constructor(tracked: Tracked, maxBytes: number) {
    this.tracked = tracked;
    this.#maxBytes = maxBytes;
  }

  frame() {
    return {
      id: this.id,
      path: `/v1/agent/packages/${this.id}`,
      caseId: this.tracked.session.caseId,
      maxBytes: this.#maxBytes,
    };
  }

  abort(reason: CustodyError): void {
    if (!this.#abort.signal.aborted) this.#abort.abort(reason);
  }

  /** What the upload came to; a device that reports a package made but never sent gets an error. */
  outcome(): Promise<Outcome> {
    return (
      this.#result ??
      Promise.resolve({
        error: {
          code: "ERR_PROTOCOL",
          message: "the device reported the package made, but never uploaded it",
        },
      })
    );
  }

  /** The PUT: once, by the device the command went to, at most `maxBytes`. */
  receive(
    vault: Vault,
    device: AuthenticatedPrincipal,
    body: Readable,
    length: number | undefined,
  ): Promise<Outcome> {
    const { session } = this.tracked;
    if (device.kind !== "device" || device.id !== session.deviceId) {
      body.resume();
      throw new CustodyError("ERR_ACCESS_DENIED", `package upload ${this.id} is not for ${device.id}`);
    }
    if (this.#result !== undefined) {
      body.resume();
      throw new CustodyError("ERR_REPLAY", `package upload ${this.id} was already used`);
    }
    if (this.#abort.signal.aborted) {
      body.resume();
      throw new CustodyError("ERR_ABORTED", `package upload ${this.id} was cancelled`);
    }
    if (length === undefined || !Number.isSafeInteger(length) || length > this.#maxBytes) {
      body.resume();
      throw new CustodyError(
        "ERR_SIZE_LIMIT",
        `a package upload carries a content-length of at most ${this.#maxBytes} bytes`,
      );
    }
    this.#result = this.#store(vault, body, length);
    return this.#result;
  }

  async #store(vault: Vault, body: Readable, length: number): Promise<Outcome> {
    const { tracked } = this;
    const { session, entry, principal } = tracked;
    const reason = typeof tracked.parsed.flags.reason === "string" ? tracked.parsed.flags.reason : "";
    const options: IngestOptions & { name: string; expectedSize: number } = {
      caseId: session.caseId,
      name: `${session.deviceId}-${entry.id}.zip`,
      kind: "package",
      signedByDevice: session.deviceId,
      how: "collect",
      source: `${session.deviceId}:collect`,
      expectedSize: length,
      labels: {
        source: "live-response",
        kind: "investigation-package",
        device: session.deviceId,
        command: entry.id,
        session: session.id,
        analyst: principal.id,
        reason: reason.slice(0, 1000),
        ...(typeof tracked.parsed.flags.only === "string"
          ? { only: tracked.parsed.flags.only.slice(0, 1000) }
          : {}),
      },
      abortSignal: this.#abort.signal,
    };
    const counted = pipeline(body, new SizeCap(length), () => undefined);
    try {
      const item = vault.streamsIngest
        ? await vault.ingestStream(principal, counted, options)
        : await ingestSpooled(vault, principal, counted, options);
      return { itemId: item.id, sha256: item.digests.sha256, size: item.size };
    } catch (error) {
      counted.resume();
      const code = isCustodyError(error) ? error.code : "ERR_INTERNAL";
      return { error: { code, message: (error as Error).message } };
    }
  }
}

/** A store that cannot stage a stream: the package is spooled to a private file under the vault's folder first. */
async function ingestSpooled(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  body: Readable,
  options: IngestOptions & { name: string },
) {
  const parent = join(vault.dir, "server", "packages");
  await mkdir(parent, { recursive: true, mode: 0o700 });
  const dir = await mkdtemp(join(parent, "up-"));
  try {
    const file = join(dir, options.name);
    await new Promise<void>((resolve, reject) =>
      pipeline(body, createWriteStream(file, { mode: 0o600, flags: "wx" }), (error) =>
        error ? reject(error) : resolve(),
      ),
    );
    return await vault.ingest(principal, file, options);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** More bytes than the content-length announced, or fewer, is an error before the vault decides. */
class SizeCap extends Transform {
  #bytes = 0;
  constructor(private readonly expected: number) {
    super({ highWaterMark: 1024 * 1024 });
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.#bytes += chunk.length;
    if (this.#bytes > this.expected) done(new CustodyError("ERR_SIZE_LIMIT", "more bytes than announced"));
    else done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    done(
      this.#bytes === this.expected
        ? null
        : new CustodyError(
            "ERR_INTEGRITY_MISMATCH",
            `${this.#bytes} bytes of the ${this.expected} announced`,
          ),
    );
  }
}

/** Package uploads by id, for the PUT route. */
export class PackageUploads {
  readonly #byId = new Map<string, PackageUpload>();
  readonly vault: Vault;
  readonly limits: LiveLimits;

  constructor(vault: Vault, limits: LiveLimits) {
    this.vault = vault;
    this.limits = limits;
  }

  create(tracked: Tracked): PackageUpload {
    const upload = new PackageUpload(tracked, this.limits.maxPackageBytes);
    this.#byId.set(upload.id, upload);
    return upload;
  }

  get(id: string): PackageUpload | undefined {
    return this.#byId.get(id);
  }

  forget(upload: PackageUpload): void {
    upload.abort(new CustodyError("ERR_ABORTED", `package upload ${upload.id} ended`));
    this.#byId.delete(upload.id);
  }
}

/**
 * A completed collect on the server's side: the package the device uploaded, verified and stored (or
 * refused); the row the console shows, with the item id.
 */
export async function settleCollect(
  upload: PackageUpload,
  data: Record<string, unknown> | undefined,
): Promise<{ data: Record<string, unknown>; itemId?: string; error?: { code: string; message: string } }> {
  const stored = await upload.outcome();
  const reason =
    typeof upload.tracked.parsed.flags.reason === "string" ? upload.tracked.parsed.flags.reason : "";
  // the device's account of its package is its claim; the vault's own digest and size are the facts
  const row = {
    package: typeof data?.package === "string" ? data.package.slice(0, 200) : undefined,
    dataPoints: typeof data?.dataPoints === "string" ? data.dataPoints.slice(0, 20) : undefined,
    reason,
    ...(stored.itemId === undefined
      ? {}
      : { itemId: stored.itemId, sha256: stored.sha256, size: stored.size }),
  };
  return {
    data: row,
    ...(stored.itemId === undefined ? {} : { itemId: stored.itemId }),
    ...(stored.error === undefined ? {} : { error: stored.error }),
  };
}
