// RFC 9162 Merkle inclusion checks with WebCrypto, as @custody/hash does them in Node: a leaf is
// sha256(0x00 || record hash), an inner node sha256(0x01 || left || right).

export async function sha256(bytes: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
}

export function hexOf(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Bytes of a lowercase or uppercase hex string; a malformed one throws. */
export function bytesOfHex(hex: string): Uint8Array {
  if (typeof hex !== "string" || hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex))
    throw new TypeError("not a hex string");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function joined(prefix: number, ...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(1 + parts.reduce((n, p) => n + p.length, 0));
  out[0] = prefix;
  let at = 1;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export const leafHash = (recordHash: Uint8Array) => sha256(joined(0, recordHash));
export const nodeHash = (left: Uint8Array, right: Uint8Array) => sha256(joined(1, left, right));

export interface InclusionInput {
  leafIndex: number;
  treeSize: number;
  /** The record's own hash (32 bytes): its leaf is computed here. */
  recordHash: Uint8Array;
  proof: Uint8Array[];
  root: Uint8Array;
}

/** RFC 9162 §2.1.3.2: whether the audit path leads from the record's leaf to the root. */
export async function verifyInclusionPath(input: InclusionInput): Promise<boolean> {
  const { leafIndex, treeSize, proof } = input;
  if (!Number.isSafeInteger(leafIndex) || !Number.isSafeInteger(treeSize)) return false;
  if (leafIndex < 0 || leafIndex >= treeSize) return false;
  if ([input.recordHash, input.root, ...proof].some((h) => h.length !== 32)) return false;
  let fn = leafIndex;
  let sn = treeSize - 1;
  let r = await leafHash(input.recordHash);
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else r = await nodeHash(r, p);
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && hexOf(r) === hexOf(input.root);
}
