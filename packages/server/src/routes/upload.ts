import { createHash, type Hash, randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { pipeline as pipelineCallback, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { type IngestQuery, ROUTES, UPLOAD_DIGEST_HEADER } from "@custody/api";
import { CustodyError, isCustodyError, noteTransientBytes } from "@custody/core";
import { type IngestHash, type IngestOptions, resolveIngestHashes } from "@custody/vault";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { clientAddress, principalOf } from "../auth.js";
import type { ServerLimits } from "../options.js";
import { type RouteContext, route } from "./register.js";

/** Where uploads are spooled: inside the vault folder, so the store's copy stays on one filesystem. */
export const UPLOAD_DIR = join("server", "uploads");

/**
 * `POST /v1/items`: the raw body is streamed to a spool file (counted, hashed, and cut when too large or
 * too slow), then ingested as a file would be. Nothing is stored unless every byte arrived, the optional
 * digest header matches, and the vault accepts it; an upload that fails before the vault sees it is
 * recorded as an `error`. The spool is removed in every case.
 */
export function uploadRoute(app: FastifyInstance, ctx: RouteContext): void {
  route(app, ctx, ROUTES.ingest, async ({ api, query, request, reply }) => {
    if (request.body !== request.raw) {
      reply.header("connection", "close");
      throw new CustodyError(
        "ERR_INVALID_ARGUMENT",
        "an upload is the raw bytes, content-type application/octet-stream",
      );
    }
    if (ctx.uploads.active >= ctx.limits.maxConcurrentUploads) {
      reply.header("connection", "close").header("retry-after", "5");
      throw new CustodyError("ERR_SERVER_BUSY", "too many uploads in progress; retry later");
    }
    ctx.uploads.active += 1;
    try {
      // an unknown digest name is refused before a byte of the body is read
      resolveIngestHashes(hashesOf(query));
    } catch (error) {
      ctx.uploads.active -= 1;
      reply.header("connection", "close");
      await ctx.vault.recordIngestFailure(principalOf(request), query.case, error, { bytesReceived: 0 });
      throw error;
    }
    if (ctx.vault.streamsIngest) {
      try {
        return await ingestInOnePass(request, ctx, query);
      } catch (error) {
        if (isCustodyError(error) && error.code !== "ERR_SERVER_BUSY") reply.header("connection", "close");
        throw error;
      } finally {
        ctx.uploads.active -= 1;
      }
    }
    const spool = join(ctx.vault.dir, UPLOAD_DIR, randomUUID());
    try {
      // A caller no grant allows to ingest into the case is refused before the body is spooled.
      await ctx.vault.refuseUngrantedIngest(
        principalOf(request),
        query.case,
        `upload from ${clientAddress(request)}`,
      );
      const file = join(spool, query.name ?? "upload");
      const received = await receive(request, ctx, query.case, spool, file);
      return await api.ingest(file, {
        ...ingestOptions(query),
        source: `upload from ${clientAddress(request)}`,
        abortSignal: received.abort.signal,
      });
    } catch (error) {
      if (isCustodyError(error) && error.code !== "ERR_SERVER_BUSY") reply.header("connection", "close");
      throw error;
    } finally {
      ctx.uploads.active -= 1;
      await rm(spool, { recursive: true, force: true });
    }
  });
}

/**
 * One pass from the socket to the durable store: the meter counts (and cuts) the body as the vault's
 * store writes and hashes it; the vault examines the staged copy and commits it or drops it. The vault
 * records a failure that happens before it decides; one refused before a byte moves is recorded here.
 */
async function ingestInOnePass(request: FastifyRequest, ctx: RouteContext, query: IngestQuery) {
  const principal = principalOf(request);
  const declared = Number(request.headers["content-length"] ?? Number.NaN);
  const meter = new UploadMeter(ctx.limits, declared, false);
  try {
    if (declared > ctx.limits.maxUploadBytes) {
      const failure = meter.tooLarge(declared);
      await ctx.vault.recordIngestFailure(principal, query.case, failure, { bytesReceived: 0 });
      throw failure;
    }
    const body = new CompleteBody(request);
    // The client's failures reach the store as coded errors: a socket error or an early close is
    // ERR_ABORTED (unless the meter cut the body first: its own error says why).
    request.raw.once("error", (error) => meter.destroy(asUploadFailure(error, meter.bytes)));
    request.raw.once("close", () => {
      if (!request.raw.complete && !meter.destroyed) {
        meter.destroy(new CustodyError("ERR_ABORTED", "the client closed the upload before its end"));
      }
    });
    // Cut: the rest is discarded while the refusal is answered (the connection then closes).
    meter.once("error", () => {
      request.raw.unpipe(meter);
      request.raw.resume();
    });
    request.raw.pipe(meter);
    pipelineCallback(meter, body, () => {});
    const expected = request.headers[UPLOAD_DIGEST_HEADER];
    if (expected !== undefined && (typeof expected !== "string" || !/^[0-9a-fA-F]{64}$/.test(expected))) {
      body.destroy();
      const failure = new CustodyError(
        "ERR_INVALID_ARGUMENT",
        `${UPLOAD_DIGEST_HEADER} must be 64 hexadecimal digits`,
      );
      await ctx.vault.recordIngestFailure(principal, query.case, failure, { bytesReceived: 0 });
      throw failure;
    }
    return await ctx.vault.ingestStream(principal, body, {
      ...ingestOptions(query),
      name: query.name ?? "upload",
      ...(Number.isSafeInteger(declared) ? { expectedSize: declared } : {}),
      source: `upload from ${clientAddress(request)}`,
      ...(expected === undefined ? {} : { expectedSha256: expected.toLowerCase() }),
    });
  } finally {
    meter.stop();
  }
}

/** Ends only when the request ended complete: a client that closes early fails the body, not ends it. */
class CompleteBody extends Transform {
  readonly #request: FastifyRequest;

  constructor(request: FastifyRequest) {
    super({ highWaterMark: 64 * 1024 });
    this.#request = request;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.#request.raw.complete) done();
    else done(new CustodyError("ERR_ABORTED", "the client closed the upload before its end"));
  }
}

async function receive(
  request: FastifyRequest,
  ctx: RouteContext,
  caseId: string,
  spool: string,
  file: string,
) {
  const abort = new AbortController();
  request.raw.once("close", () => {
    if (!request.raw.complete) abort.abort();
  });
  const declared = Number(request.headers["content-length"] ?? Number.NaN);
  const meter = new UploadMeter(ctx.limits, declared, request.headers[UPLOAD_DIGEST_HEADER] !== undefined);
  try {
    if (declared > ctx.limits.maxUploadBytes) throw meter.tooLarge(declared);
    await mkdir(spool, { recursive: true, mode: 0o700 });
    await pipeline(request.raw, meter, createWriteStream(file, { flags: "wx", mode: 0o600 }));
    if (!request.raw.complete)
      throw new CustodyError("ERR_ABORTED", "the client closed the upload before its end");
    checkDigest(request, meter.sha256());
    return { abort, bytes: meter.bytes };
  } catch (error) {
    const failure = asUploadFailure(error, meter.bytes);
    await ctx.vault.recordIngestFailure(principalOf(request), caseId, failure, {
      bytesReceived: meter.bytes,
    });
    throw failure;
  } finally {
    meter.stop();
  }
}

function checkDigest(request: FastifyRequest, actual: string): void {
  const expected = request.headers[UPLOAD_DIGEST_HEADER];
  if (expected === undefined) return;
  if (typeof expected !== "string" || expected.toLowerCase() !== actual) {
    throw new CustodyError(
      "ERR_INTEGRITY_MISMATCH",
      `the upload's SHA-256 is ${actual}, not the ${String(expected)} the client sent`,
      {
        details: { expected: String(expected), actual },
      },
    );
  }
}

function asUploadFailure(error: unknown, bytes: number): CustodyError {
  if (isCustodyError(error)) return error;
  return new CustodyError("ERR_ABORTED", `the upload stopped after ${bytes} bytes: the client went away`, {
    cause: error,
  });
}

function hashesOf(query: IngestQuery): IngestHash[] | undefined {
  return query.hash === undefined ? undefined : (query.hash.split(",") as IngestHash[]);
}

function ingestOptions(query: IngestQuery): IngestOptions {
  const labels = [query.label ?? []].flat();
  const hashes = hashesOf(query);
  return {
    caseId: query.case,
    ...(hashes === undefined ? {} : { hashes }),
    ...(query.kind === undefined ? {} : { kind: query.kind }),
    ...(query.retainDays === undefined ? {} : { retainDays: Number(query.retainDays) }),
    ...(query.legalHold === undefined ? {} : { legalHold: query.legalHold === "true" }),
    ...(query.allowUnverified === undefined ? {} : { allowUnverified: query.allowUnverified === "true" }),
    ...(labels.length === 0 ? {} : { labels: Object.fromEntries(labels.map(splitLabel)) }),
  };
}

function splitLabel(label: string): [string, string] {
  const at = label.indexOf("=");
  return [label.slice(0, at), label.slice(at + 1)];
}

/** Counts and hashes the body as it passes; cuts it past the size limit or below the minimum rate. */
class UploadMeter extends Transform {
  bytes = 0;
  // only when the client states the digest: the vault hashes the spool itself anyway
  readonly #hash: Hash | undefined;
  readonly #limits: ServerLimits;
  readonly #declared: number;
  #windowBytes = 0;
  readonly #watchdog: NodeJS.Timeout;

  constructor(limits: ServerLimits, declared: number, hashing: boolean) {
    super({ highWaterMark: 64 * 1024 });
    this.#hash = hashing ? createHash("sha256") : undefined;
    this.#limits = limits;
    this.#declared = declared;
    this.#watchdog = setInterval(() => this.#checkRate(), limits.uploadRateWindowMs);
    this.#watchdog.unref();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    this.#windowBytes += chunk.length;
    noteTransientBytes(chunk.length);
    if (this.bytes > this.#limits.maxUploadBytes) done(this.tooLarge(this.bytes));
    else if (this.bytes > this.#declared) {
      done(new CustodyError("ERR_INVALID_ARGUMENT", "the body is longer than its content-length"));
    } else {
      this.#hash?.update(chunk);
      done(null, chunk);
    }
  }

  tooLarge(bytes: number): CustodyError {
    return new CustodyError(
      "ERR_SIZE_LIMIT",
      `the upload (${bytes} bytes or more) is larger than the server takes (${this.#limits.maxUploadBytes})`,
      {
        details: { maxBytes: this.#limits.maxUploadBytes },
      },
    );
  }

  #checkRate(): void {
    if (this.#windowBytes < this.#limits.uploadMinBytesPerWindow) {
      this.destroy(
        new CustodyError(
          "ERR_TIMEOUT",
          `the upload is slower than ${this.#limits.uploadMinBytesPerWindow} bytes per ${this.#limits.uploadRateWindowMs} ms`,
        ),
      );
    }
    this.#windowBytes = 0;
  }

  sha256(): string {
    return this.#hash?.digest("hex") ?? "";
  }

  stop(): void {
    clearInterval(this.#watchdog);
  }
}
