import type { WebSocket } from "ws";

/** The policy-violation close code (RFC 6455 §7.4.1). */
const POLICY = 1008;

/**
 * A frame larger than the agreed maximum is a breach of the protocol, not a transport accident: the
 * socket closes with 1008 (policy), like every other protocol error. The `ws` receiver stops reading at
 * `maxPayload` (so an oversized frame is never buffered) and would close with 1009; its error carries the
 * close code it is about to send, so a listener placed before the library's own rewrites that code.
 * The test `live-hub.test.ts` ("a frame over 1 MiB") fails if a `ws` upgrade changes this behaviour.
 */
export function closeOversizeAsPolicy(ws: WebSocket): void {
  const receiver = (ws as unknown as { _receiver?: NodeJS.EventEmitter })._receiver;
  if (receiver === undefined) return;
  receiver.prependListener("error", (error: Error & { code?: string }) => {
    if (error.code !== "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH") return;
    for (const key of Object.getOwnPropertySymbols(error)) {
      if (key.description === "status-code") (error as unknown as Record<symbol, number>)[key] = POLICY;
    }
  });
}
