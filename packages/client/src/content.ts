import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { Transform, type TransformCallback } from "node:stream";
import { CustodyError } from "@custody/core";
import type { EvidenceItem, ItemRead } from "./types.js";

/**
 * The item's bytes as they arrive, hashed by the client: the stream errors with ERR_INTEGRITY_MISMATCH
 * unless they are exactly `item.size` bytes whose SHA-256 is the item's id. The server's own check and
 * its `x-custody-sha256` header are not trusted; only the digest computed here is.
 */
export function verifiedContent(
  response: IncomingMessage,
  item: EvidenceItem,
  abortSignal?: AbortSignal,
): ItemRead {
  const hash = createHash("sha256");
  let received = 0;
  let computed: string | undefined;
  const verifier = new Transform({
    transform(chunk: Buffer, _encoding, done: TransformCallback) {
      received += chunk.length;
      if (received > item.size) return done(mismatch(item, `more than its ${item.size} bytes arrived`));
      hash.update(chunk);
      done(null, chunk);
    },
    flush(done: TransformCallback) {
      const digest = hash.digest("hex");
      if (received !== item.size)
        return done(mismatch(item, `${received} of its ${item.size} bytes arrived`));
      if (digest !== item.id) return done(mismatch(item, `the bytes received hash to ${digest}`));
      computed = digest;
      done();
    },
  });
  const stop = (cause: unknown) =>
    verifier.destroy(
      abortSignal?.aborted
        ? new CustodyError("ERR_ABORTED", `reading item ${item.id} was aborted`, { cause })
        : cutShort(item, received, cause),
    );
  response.on("error", stop);
  response.on("aborted", () => stop(undefined));
  verifier.on("close", () => {
    if (!response.complete) response.destroy();
  });
  response.pipe(verifier);
  return { item, stream: verifier, computedSha256: () => computed };
}

function mismatch(item: EvidenceItem, why: string): CustodyError {
  return new CustodyError(
    "ERR_INTEGRITY_MISMATCH",
    `item ${item.id} as sent by the server does not match its id: ${why}`,
    { details: { id: item.id } },
  );
}

/** The server closed the stream early: it does so when the vault found the stored bytes altered. */
function cutShort(item: EvidenceItem, received: number, cause: unknown): CustodyError {
  return new CustodyError(
    "ERR_INTEGRITY_MISMATCH",
    `the server cut item ${item.id} off after ${received} of its ${item.size} bytes (the vault stops a read whose bytes do not match, or the connection failed); nothing unverified was kept`,
    { cause, details: { id: item.id, received, size: item.size } },
  );
}

/** The item record the server sends with the content (`x-custody-item`, base64url JSON). */
export function itemFromHeader(value: string | undefined): EvidenceItem | undefined {
  if (value === undefined) return undefined;
  try {
    const item = JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as unknown;
    return isItemShape(item) ? item : undefined;
  } catch {
    return undefined;
  }
}

function isItemShape(value: unknown): value is EvidenceItem {
  if (typeof value !== "object" || value === null) return false;
  const { id, size, caseId } = value as Record<string, unknown>;
  return (
    typeof id === "string" &&
    /^[0-9a-f]{64}$/.test(id) &&
    typeof caseId === "string" &&
    typeof size === "number" &&
    Number.isSafeInteger(size) &&
    size >= 0
  );
}
