import { hash } from "node:crypto";
import { CustodyError } from "@custody/core";
import type { AuditRecord } from "./record.js";

/**
 * The log's own seal key, kept as the two HMAC-SHA256 blocks of RFC 2104 (key XOR ipad, key XOR opad),
 * each followed by room for the 32 bytes hashed after it.
 */
export interface SealKey {
  readonly inner: Buffer;
  readonly outer: Buffer;
}

const BLOCK = 64;

/** Checks the seal key and prepares it; refuses a key too short to be a secret. */
export function toSealKey(sealKey: Uint8Array): SealKey {
  if (!(sealKey instanceof Uint8Array) || sealKey.length < 32) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", "sealKey must be at least 32 random bytes");
  }
  const key = sealKey.length > BLOCK ? hash("sha256", sealKey, "buffer") : sealKey;
  const inner = Buffer.alloc(BLOCK + 32);
  const outer = Buffer.alloc(BLOCK + 32);
  for (let i = 0; i < BLOCK; i += 1) {
    inner[i] = (key[i] ?? 0) ^ 0x36;
    outer[i] = (key[i] ?? 0) ^ 0x5c;
  }
  return { inner, outer };
}

/**
 * HMAC-SHA256(sealKey, hex-decode(record.hash)) in hex, as RFC 2104 defines it from two one-shot
 * hashes: measured cheaper per line than createHmac, whose per-call native object costs more than
 * the hashing (a test pins it to createHmac). Synchronous, so the shared blocks are safe to reuse.
 */
export function recordSeal(key: SealKey, recordHash: string): string {
  key.inner.write(recordHash, BLOCK, 32, "hex");
  hash("sha256", key.inner, "buffer").copy(key.outer, BLOCK);
  return hash("sha256", key.outer, "hex");
}

/** Whether the record carries the seal only a holder of the key could make. */
export function hasValidSeal(key: SealKey, record: AuditRecord): boolean {
  return record.seal !== undefined && record.seal === recordSeal(key, record.hash);
}
