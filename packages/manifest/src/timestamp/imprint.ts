import { createHash } from "node:crypto";
import { CustodyError } from "@custody/core";
import { OID } from "../der.js";

/** The hashes a message imprint may use: SHA-1 and MD5 are refused (a collision would move a timestamp). */
export type TimestampHash = "sha256" | "sha384" | "sha512";

export const TIMESTAMP_HASH_OIDS: Readonly<Record<TimestampHash, string>> = {
  sha256: OID.sha256,
  sha384: OID.sha384,
  sha512: OID.sha512,
};

/** What a token attests: the digest of some bytes, with the hash that made it. */
export interface MessageImprint {
  hash: TimestampHash;
  digest: Buffer;
}

export function imprintOf(data: Uint8Array, hash: TimestampHash = "sha256"): MessageImprint {
  return { hash, digest: createHash(hash).update(data).digest() };
}

export function hashOfOid(oid: string): TimestampHash {
  const found = (Object.keys(TIMESTAMP_HASH_OIDS) as TimestampHash[]).find(
    (hash) => TIMESTAMP_HASH_OIDS[hash] === oid,
  );
  if (found === undefined) {
    throw new CustodyError("ERR_ALGORITHM_NOT_ALLOWED", `message imprint hash ${oid} is not allowed`, {
      details: { oid },
    });
  }
  return found;
}

export function assertImprint(imprint: MessageImprint): void {
  const expected = createHash(imprint.hash).digest().length;
  if (!(imprint.hash in TIMESTAMP_HASH_OIDS) || imprint.digest.length !== expected) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `a ${imprint.hash} imprint is ${expected} bytes`);
  }
}
