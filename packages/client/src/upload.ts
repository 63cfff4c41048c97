import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { Readable, Transform } from "node:stream";
import { evidenceItemSchema, ROUTES, uploadNameSchema } from "@custody/api";
import { CustodyError, toCustodyError } from "@custody/core";
import { readLimited } from "./problem.js";
import type { Transport } from "./transport.js";
import type { EvidenceItem, IngestOptions } from "./types.js";

/** Large reads keep the per-chunk cost (hash, TLS record, syscalls) small next to the bytes moved. */
const UPLOAD_CHUNK_BYTES = 1024 * 1024;

/**
 * Streams the file to `POST /v1/items` with its length, hashing it on the way out (one read of the
 * file), and checks that the item the server stored is named by that digest and size.
 */
export async function uploadFile(
  transport: Transport,
  file: string,
  options: IngestOptions,
): Promise<EvidenceItem> {
  const size = await fileSize(file);
  let hash: Hash = createHash("sha256");
  const response = await transport.send({
    method: "POST",
    path: ROUTES.ingest.path,
    query: ingestQuery(file, options),
    headers: { "content-type": "application/octet-stream", "content-length": String(size) },
    body: () => {
      hash = createHash("sha256"); // a retry re-reads the file from its start
      const hashing = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          done(null, chunk);
        },
      });
      // Never more than the announced length, even when the file grows meanwhile.
      const bytes =
        size === 0
          ? Readable.from([])
          : createReadStream(file, { end: size - 1, highWaterMark: UPLOAD_CHUNK_BYTES });
      return bytes.pipe(hashing);
    },
    abortSignal: options.abortSignal,
  });
  const item = storedItem(await readLimited(response, 16 * 1024 * 1024));
  const sent = hash.digest("hex");
  if (item.id !== sent || item.size !== size) {
    throw new CustodyError(
      "ERR_INTEGRITY_MISMATCH",
      `the server recorded item ${item.id} (${item.size} bytes) for ${file}, whose ${size} bytes sent hash to ${sent}`,
      { details: { file, sent, stored: item.id } },
    );
  }
  return item;
}

async function fileSize(file: string): Promise<number> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new CustodyError("ERR_INVALID_ARGUMENT", `${file} is not a regular file`);
    return info.size;
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot read ${file}`);
  }
}

export function ingestQuery(file: string, options: IngestOptions): URLSearchParams {
  const query = new URLSearchParams({ case: options.caseId });
  // The item is named after the file, as a local ingest names it (a name the API refuses is left out).
  if (uploadNameSchema.safeParse(basename(file)).success) query.set("name", basename(file));
  if (options.kind !== undefined) query.set("kind", options.kind);
  if (options.retainDays !== undefined) query.set("retainDays", String(options.retainDays));
  if (options.legalHold === true) query.set("legalHold", "true");
  if (options.allowUnverified === true) query.set("allowUnverified", "true");
  for (const [key, value] of Object.entries(options.labels ?? {})) query.append("label", `${key}=${value}`);
  // digests beside sha256; the server checks the names before it reads the body
  if (options.hashes !== undefined) query.set("hash", options.hashes.join(","));
  return query;
}

function storedItem(text: string): EvidenceItem {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (!evidenceItemSchema.safeParse(value).success)
    throw new CustodyError(
      "ERR_BACKEND_UNAVAILABLE",
      "the server's answer to ingest is not an evidence item",
    );
  return value as EvidenceItem;
}
