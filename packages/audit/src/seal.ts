import { createHmac, createSecretKey, type KeyObject } from "node:crypto";
import { CustodyError } from "@custody/core";
import type { AuditRecord } from "./record.js";

/** The seal key as the HMAC wants it; refuses a key too short to be a secret. */
export function sealKeyObject(sealKey: Uint8Array): KeyObject {
  if (!(sealKey instanceof Uint8Array) || sealKey.length < 32) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", "sealKey must be at least 32 random bytes");
  }
  return createSecretKey(sealKey);
}

/** HMAC-SHA256(sealKey, hex-decode(record.hash)) in hex. */
export function recordSeal(key: KeyObject, recordHash: string): string {
  return createHmac("sha256", key).update(Buffer.from(recordHash, "hex")).digest("hex");
}

/** Whether the record carries the seal only a holder of the key could make. */
export function hasValidSeal(key: KeyObject, record: AuditRecord): boolean {
  return record.seal !== undefined && record.seal === recordSeal(key, record.hash);
}
