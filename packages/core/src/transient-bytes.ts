import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * Counts bytes that came in buffers of their own and were dropped at once (a TLS record, a zlib output
 * chunk), so that those buffers are freed young. Call it where such a chunk is consumed.
 *
 * TLS hands each record it decrypts (up to 16 KiB) to JavaScript in a new buffer outside the JavaScript
 * heap; zlib does the same with each output chunk. V8 frees such a buffer in a scavenge when it is
 * already dead, or else in a full collection, which it starts once some 64 MiB of them are outstanding.
 * A process's young generation grows while it loads its modules, so a transfer allocates too little on
 * the heap itself to fill it: no scavenge came in a whole GiB uploaded, and every 64 MiB cost a full
 * mark-compact of the server's heap (about 30 per GiB, 0.5-1 s of the main thread, where a bare Node
 * server with a small heap has none) and as much resident memory held by dead buffers. A scavenge every
 * 16 MiB counted finds them dead and frees them for about a millisecond each. Work bound by memory
 * rather than time may ask for one more often (`everyBytes`): the package writer and verifier use 8 MiB,
 * which keeps them under 150 MiB of resident memory on a 1 GiB package (152-155 MiB at 16).
 *
 * The scavenge is V8's own `gc({ type: "minor" })`, reached through a context of its own (the flag
 * exposes it to new contexts only, never to the server's global scope). Where the runtime refuses it,
 * counting does nothing and the collections stay as they were.
 */
export function noteTransientBytes(bytes: number, everyBytes = SCAVENGE_EVERY_BYTES): void {
  received += bytes;
  if (received < everyBytes) return;
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
