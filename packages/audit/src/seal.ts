import { hash } from "node:crypto";
import { CustodyError } from "@custody/core";
import { BLOCK, type SealKey } from "./seal-mac.js";

export { hasValidSeal, recordSeal, type SealKey } from "./seal-mac.js";

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
