import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Transform } from "node:stream";
import { CustodyError, isCustodyError } from "@custody/core";
import type { PackageUploader } from "../commands/collect.js";
import type { FileBody, Uploader } from "../commands/getfile.js";
import type { TransferBody } from "../schemas.js";
import { httpsCall, problemError } from "./http.js";
import type { AgentIdentity } from "./state.js";

/** PUTs cut by the network (not refused by the server) are resumed this many times. */
const ATTEMPTS = 6;

/** A failure of the connection itself, not an answer: worth resuming. */
function cut(error: unknown): boolean {
  return (
    isCustodyError(error) && error.code === "ERR_BACKEND_UNAVAILABLE" && error.details.status === undefined
  );
}

/**
 * getfile's bytes go by HTTPS PUT with the device certificate to the server it enrolled with, never on
 * the WebSocket. A PUT cut on the way is resumed: HEAD says how many bytes the server holds staged, and
 * the next PUT sends the rest (`content-range`), the whole file hashed again on the device all the same.
 */
export function transferUploader(identity: AgentIdentity): Uploader {
  const tls = {
    cert: identity.certificatePem,
    key: identity.keyPem,
    ca: [identity.caPem],
    rejectUnauthorized: true,
  };
  return async (transfer: TransferBody, body: FileBody, size, signal) => {
    const url = new URL(transfer.path, identity.state.serverUrl);
    let offset = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        if (attempt > 1) {
          const head = await httpsCall({ url, method: "HEAD", tls, headers: {}, body: "", signal });
          if (head.status !== 204) throw problemError(head.status, head.text);
          const staged = Number(head.headers["upload-offset"]);
          if (!Number.isSafeInteger(staged) || staged < 0 || staged > size)
            throw new CustodyError("ERR_PROTOCOL", `the server holds ${String(staged)} of ${size} bytes`);
          // the whole body reached the server before the cut: its outcome is the command's
          if (head.headers["upload-complete"] === "?1") return;
          offset = staged;
        }
        const headers: Record<string, string | number> = {
          "content-type": "application/octet-stream",
          "content-length": size - offset,
        };
        if (offset > 0) headers["content-range"] = `bytes ${offset}-${size - 1}/${size}`;
        const { status, text } = await httpsCall({
          url,
          method: "PUT",
          tls,
          headers,
          body: (request) => body(offset, request),
          signal,
        });
        if (status < 200 || status > 299) throw problemError(status, text);
        return;
      } catch (error) {
        if (!cut(error) || attempt >= ATTEMPTS || signal.aborted) throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
  };
}

/**
 * collect's package goes by one HTTPS PUT with the device certificate, hashed on the way. It is not
 * resumed: the server verifies and stores a whole package or nothing, and a new collect starts over.
 */
export function packageUploader(identity: AgentIdentity): PackageUploader {
  const tls = {
    cert: identity.certificatePem,
    key: identity.keyPem,
    ca: [identity.caPem],
    rejectUnauthorized: true,
  };
  return async (upload, file, signal) => {
    const { size } = await stat(file);
    const hash = createHash("sha256");
    const source = createReadStream(file, { highWaterMark: 1024 * 1024 });
    const body = source.pipe(
      new Transform({
        transform(chunk: Buffer, _encoding, done) {
          hash.update(chunk);
          done(null, chunk);
        },
      }),
    );
    source.on("error", (error) => body.destroy(error));
    const { status, text } = await httpsCall({
      url: new URL(upload.path, identity.state.serverUrl),
      method: "PUT",
      tls,
      headers: { "content-type": "application/octet-stream", "content-length": size },
      body,
      signal,
    });
    if (status < 200 || status > 299) throw problemError(status, text);
    return { sha256: hash.digest("hex"), size };
  };
}
