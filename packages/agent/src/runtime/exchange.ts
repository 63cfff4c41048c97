import { request } from "node:https";
import type { Readable } from "node:stream";
import { CustodyError, toCustodyError } from "@custody/core";
import type { QuarantineFile, ServerExchange } from "../commands/index.js";
import { type DownloadBody, type QuarantineBody, type TransferBody, transferSchema } from "../schemas.js";
import { httpsCall, problemError, readLimited } from "./http.js";
import type { AgentIdentity } from "./state.js";

/**
 * The device's side of remediate, undo and putfile, over mTLS with its certificate to the server it
 * enrolled with: announcing a file to quarantine (the server answers with a transfer bound to its digest,
 * which the getfile uploader then fills) and downloading bytes the server sends back.
 */
export function serverExchange(identity: AgentIdentity): ServerExchange {
  const tls = {
    cert: identity.certificatePem,
    key: identity.keyPem,
    ca: [identity.caPem],
    rejectUnauthorized: true,
    minVersion: "TLSv1.3" as const,
  };
  return {
    async announce(
      quarantine: QuarantineBody,
      file: QuarantineFile,
      signal: AbortSignal,
    ): Promise<TransferBody> {
      const url = new URL(quarantine.path, identity.state.serverUrl);
      const body = JSON.stringify(file);
      const { status, text } = await httpsCall({
        url,
        method: "POST",
        tls,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        body,
        signal,
      });
      if (status !== 201) throw problemError(status, text);
      const parsed = transferSchema.safeParse(JSON.parse(text));
      if (!parsed.success)
        throw new CustodyError("ERR_PROTOCOL", "the server's quarantine transfer is malformed");
      return parsed.data;
    },
    download(download: DownloadBody, signal: AbortSignal): Promise<Readable> {
      const url = new URL(download.path, identity.state.serverUrl);
      return new Promise((resolve, reject) => {
        const req = request(url, { ...tls, method: "GET", agent: false, signal });
        req.on("error", (error) =>
          reject(toCustodyError(error, "ERR_BACKEND_UNAVAILABLE", `GET ${url.pathname} failed`)),
        );
        req.on("response", (response) => {
          if (response.statusCode === 200) return resolve(response);
          readLimited(response).then((text) => reject(problemError(response.statusCode ?? 0, text)), reject);
        });
        req.end();
      });
    },
  };
}
