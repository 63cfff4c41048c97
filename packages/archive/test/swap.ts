import { crc32 } from "node:zlib";

/**
 * A copy of the package `zip` in which two 4 KiB blocks of the stored entry holding `payload` trade
 * places: the same length, other bytes. With `fixCrc`, every copy of the entry's CRC-32 outside its data
 * (local header, data descriptor, central directory) is rewritten to match, so only the entry's sha256
 * against the BagIt manifest can catch the change.
 */
export function swapInEntry(zip: Buffer, payload: Buffer, options: { fixCrc: boolean }): Buffer {
  const start = zip.indexOf(payload.subarray(0, 64));
  if (start < 0 || !zip.subarray(start, start + payload.length).equals(payload)) {
    throw new Error("the payload is not stored in the archive as it is");
  }
  const block = 4096;
  const [a, b] = [start + (1 << 20), start + (2 << 20)];
  if (b + block > start + payload.length) throw new Error("the payload is too small to swap in");
  const out = Buffer.from(zip);
  zip.copy(out, a, b, b + block);
  zip.copy(out, b, a, a + block);
  if (!options.fixCrc) return out;
  const before = Buffer.alloc(4);
  before.writeUInt32LE(crc32(payload) >>> 0);
  const after = Buffer.alloc(4);
  after.writeUInt32LE(crc32(out.subarray(start, start + payload.length)) >>> 0);
  let found = 0;
  for (let at = out.indexOf(before); at >= 0; at = out.indexOf(before, at + 4)) {
    if (at >= start && at < start + payload.length) continue;
    after.copy(out, at);
    found += 1;
  }
  if (found < 2) throw new Error(`the entry's CRC-32 was found ${found} time(s), not in both directories`);
  return out;
}
