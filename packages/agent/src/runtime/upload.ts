import type { Readable } from "node:stream";
import type { Uploader } from "../commands/getfile.js";
import type { TransferBody } from "../schemas.js";
import { httpsCall, problemError } from "./http.js";
import type { AgentIdentity } from "./state.js";

/** getfile's bytes go by HTTPS PUT with the device certificate to the server it enrolled with, never on the WebSocket. */
export function transferUploader(identity: AgentIdentity): Uploader {
  return async (transfer: TransferBody, body: Readable, size: number, signal: AbortSignal) => {
    const { status, text } = await httpsCall({
      url: new URL(transfer.path, identity.state.serverUrl),
      method: "PUT",
      tls: {
        cert: identity.certificatePem,
        key: identity.keyPem,
        ca: [identity.caPem],
        rejectUnauthorized: true,
      },
      headers: { "content-type": "application/octet-stream", "content-length": size },
      body,
      signal,
    });
    if (status < 200 || status > 299) throw problemError(status, text);
  };
}
