/** The seal MAC alone (node:crypto only), so the verifier's worker threads can check seals. */
import { hash } from "node:crypto";
import type { AuditRecord } from "./record.js";

/**
 * The log's own seal key, kept as the two HMAC-SHA256 blocks of RFC 2104 (key XOR ipad, key XOR opad),
 * each followed by room for the 32 bytes hashed after it.
 */
export interface SealKey {
  readonly inner: Buffer;
  readonly outer: Buffer;
}

export const BLOCK = 64;

/**
 * HMAC-SHA256(sealKey, hex-decode(record.hash)) in hex, as RFC 2104 defines it from two one-shot
 * hashes: measured cheaper per line than createHmac, whose per-call native object costs more than
 * the hashing (a test pins it to createHmac). Synchronous, so the shared blocks are safe to reuse.
 */
export function recordSeal(key: SealKey, recordHash: string): string {
  key.inner.write(recordHash, BLOCK, 32, "hex");
  // A latin1 digest written into place: a Buffer digest's allocation costs more than the hash.
  key.outer.write(hash("sha256", key.inner, "binary"), BLOCK, 32, "latin1");
  return hash("sha256", key.outer, "hex");
}

/** Whether the record carries the seal only a holder of the key could make. */
export function hasValidSeal(key: SealKey, record: AuditRecord): boolean {
  return record.seal !== undefined && record.seal === recordSeal(key, record.hash);
}
