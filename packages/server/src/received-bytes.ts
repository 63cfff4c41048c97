import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Bytes a request body brought in, counted so that the buffers they came in are freed young.
 *
 * TLS hands each record it decrypts (up to 16 KiB) to JavaScript in a buffer of its own, outside the
 * JavaScript heap. V8 frees such a buffer in a scavenge when it is already dead, or else in a full
 * collection, which it starts once some 64 MiB of them are outstanding. A server's young generation grows
 * while it loads its modules, so an upload allocates too little on the heap itself to fill it: no
 * scavenge came in a whole GiB, and every 64 MiB cost a full mark-compact of the server's heap (about 30
 * per GiB, 0.5-1 s of the main thread, where a bare Node server with a small heap has none). A scavenge
 * every 16 MiB received finds those buffers dead and frees them for about a millisecond each.
 *
 * The scavenge is V8's own `gc({ type: "minor" })`, reached through a context of its own (the flag
 * exposes it to new contexts only, never to the server's global scope). Where the runtime refuses it,
 * counting does nothing and the collections stay as they were.
 */
export function noteReceivedBytes(bytes: number): void {
  received += bytes;
  if (received < SCAVENGE_EVERY_BYTES) return;
  received = 0;
  scavenger()?.();
}

const SCAVENGE_EVERY_BYTES = 16 * 1024 * 1024;
let received = 0;
let scavenge: (() => void) | null | undefined;

function scavenger(): (() => void) | null {
  if (scavenge !== undefined) return scavenge;
  scavenge = null;
  try {
    setFlagsFromString("--expose-gc");
    const gc: unknown = runInNewContext("typeof gc === 'function' ? gc : undefined");
    if (typeof gc === "function") scavenge = () => gc({ type: "minor" });
  } catch {
    // a runtime without the flag: nothing to do
  }
  return scavenge;
}
