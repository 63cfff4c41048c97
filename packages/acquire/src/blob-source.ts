import type { ImageSource } from "@custody/audit";
import { CustodyError, throwIfAborted } from "@custody/core";

export interface BlobReadOptions {
  /** Attempts after the first for one range (default 5). */
  retries?: number;
  /** Wait before a retry, doubled each time (default 1000 ms). */
  retryDelayMs?: number;
  /** One range request, body included, must finish within this (default 120 s). */
  requestTimeoutMs?: number;
  /** Bytes per range request (default 8 MiB). */
  rangeBytes?: number;
  abortSignal?: AbortSignal;
}

/** A snapshot (or any blob) read through its SAS URL with ranged GETs, pinned to the ETag it had first. */
export interface BlobSource {
  readonly description: ImageSource;
  read(): AsyncIterable<Uint8Array>;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Parses the URL, asks for the blob's properties, and returns its reader; the SAS is never recorded. */
export async function openBlobSource(url: string, options: BlobReadOptions = {}): Promise<BlobSource> {
  const parsed = parseSourceUrl(url);
  const head = await withRetries(options, "HEAD", () => request(parsed, "HEAD", {}, options));
  await head.body?.cancel();
  const size = Number(head.headers.get("content-length"));
  const etag = head.headers.get("etag");
  if (!Number.isSafeInteger(size) || etag === null) {
    throw new CustodyError(
      "ERR_BACKEND_UNAVAILABLE",
      "the blob service gave no size or ETag for the snapshot",
    );
  }
  const description: ImageSource = {
    kind: "azure-snapshot",
    path: `${parsed.origin}${parsed.pathname}`,
    size,
    sectorSize: 512,
    identification: blobIdentification(head.headers),
  };
  return { description, read: () => readRanges(parsed, size, etag, options) };
}

function parseSourceUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CustodyError("ERR_INVALID_ARGUMENT", "the snapshot URL does not parse");
  }
  // A SAS is a bearer secret: plain HTTP only to an emulator on this machine.
  if (parsed.protocol !== "https:" && !(parsed.protocol === "http:" && LOOPBACK.has(parsed.hostname))) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", "a snapshot URL must be https (http only on loopback)");
  }
  return parsed;
}

function blobIdentification(headers: Headers): Record<string, string> {
  const identification: Record<string, string> = {};
  const wanted: [string, string][] = [
    ["blobType", "x-ms-blob-type"],
    ["etag", "etag"],
    ["lastModified", "last-modified"],
    ["contentMd5", "content-md5"],
    ["sequenceNumber", "x-ms-blob-sequence-number"],
    ["creationTime", "x-ms-creation-time"],
    ["requestId", "x-ms-request-id"],
  ];
  for (const [name, header] of wanted) {
    const value = headers.get(header);
    if (value !== null) identification[name] = value.slice(0, 1024);
  }
  return identification;
}

async function* readRanges(url: URL, size: number, etag: string, options: BlobReadOptions) {
  const rangeBytes = options.rangeBytes ?? 8 * 1024 * 1024;
  const fetchRange = (start: number) => {
    const length = Math.min(rangeBytes, size - start);
    const pending = withRetries(options, `bytes ${start}-${start + length - 1}`, () =>
      readRange(url, start, length, etag, options),
    );
    pending.catch(() => undefined); // awaited below; a consumer that stops early must not leave it unhandled
    return pending;
  };
  let position = 0;
  let next = size > 0 ? fetchRange(0) : undefined;
  while (next !== undefined) {
    const chunk = await next;
    position += chunk.byteLength;
    next = position < size ? fetchRange(position) : undefined;
    yield chunk;
  }
}

async function readRange(url: URL, start: number, length: number, etag: string, options: BlobReadOptions) {
  const buffer = Buffer.allocUnsafeSlow(length);
  const headers = { range: `bytes=${start}-${start + length - 1}`, "if-match": etag };
  const response = await request(url, "GET", headers, options);
  if (response.status !== 206 && !(response.status === 200 && start === 0)) {
    await response.body?.cancel();
    throw new TransientError(`the blob service answered ${response.status} to a range request`);
  }
  if (response.body === null) throw new TransientError("a range response had no body");
  const filled = await readBody(response.body, buffer, options);
  if (filled !== length)
    throw new TransientError(`a range response ended after ${filled} of ${length} bytes`);
  return buffer;
}

async function readBody(
  body: ReadableStream<Uint8Array>,
  buffer: Buffer,
  options: BlobReadOptions,
): Promise<number> {
  let filled = 0;
  try {
    for await (const part of body) {
      if (filled + part.byteLength > buffer.length)
        throw new TransientError("a range response was longer than asked");
      buffer.set(part, filled);
      filled += part.byteLength;
    }
  } catch (cause) {
    throwIfAborted(options.abortSignal);
    if (cause instanceof TransientError) throw cause;
    throw new TransientError(
      `a range response broke off after ${filled} bytes (${(cause as Error).message})`,
    );
  }
  return filled;
}

/** One request with its own timeout; answers that mean "never" (changed, refused) are not retried. */
async function request(url: URL, method: string, headers: Record<string, string>, options: BlobReadOptions) {
  const timeout = AbortSignal.timeout(options.requestTimeoutMs ?? 120_000);
  const signal =
    options.abortSignal === undefined ? timeout : AbortSignal.any([timeout, options.abortSignal]);
  let response: Response;
  try {
    response = await fetch(url, { method, headers: { ...headers, "x-ms-version": "2021-08-06" }, signal });
  } catch (cause) {
    throwIfAborted(options.abortSignal);
    throw new TransientError(`the blob service did not answer (${(cause as Error).message})`);
  }
  if (response.status === 412) {
    await response.body?.cancel();
    throw new CustodyError("ERR_SOURCE_CHANGED", "the snapshot changed during acquisition (its ETag moved)");
  }
  if (response.status === 403 || response.status === 404) {
    await response.body?.cancel();
    throw new CustodyError(
      response.status === 404 ? "ERR_NOT_FOUND" : "ERR_ACCESS_DENIED",
      `the blob service answered ${response.status}: the SAS URL is wrong, expired or revoked`,
    );
  }
  if (response.status >= 500 || response.status === 408 || response.status === 429) {
    await response.body?.cancel();
    throw new TransientError(`the blob service answered ${response.status}`);
  }
  return response;
}

class TransientError extends Error {}

async function withRetries<T>(options: BlobReadOptions, what: string, work: () => Promise<T>): Promise<T> {
  const retries = options.retries ?? 5;
  let delay = options.retryDelayMs ?? 1000;
  for (let attempt = 0; ; attempt += 1) {
    throwIfAborted(options.abortSignal);
    try {
      return await work();
    } catch (error) {
      const transient =
        error instanceof TransientError || (error instanceof Error && error.name === "TimeoutError");
      if (!transient || attempt >= retries) throw giveUp(error, what, attempt + 1);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay *= 2;
    }
  }
}

function giveUp(error: unknown, what: string, attempts: number): unknown {
  if (!(error instanceof TransientError) && !(error instanceof Error && error.name === "TimeoutError"))
    return error;
  return new CustodyError(
    "ERR_BACKEND_UNAVAILABLE",
    `reading ${what} of the snapshot failed ${attempts} time(s): ${error.message}; nothing was stored, run the acquisition again`,
    { cause: error },
  );
}
