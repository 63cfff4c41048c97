import { pipeline, type Readable } from "node:stream";
import * as zlib from "node:zlib";
import type { ItemRecord } from "@custody/audit";
import { CustodyError } from "@custody/core";
import { ContentAddressCheck } from "./item-view.js";

/**
 * The bytes an item stands for, checked as they stream: for an image stored compressed, the stored
 * bytes are checked against the digest its record states (`image.storedAs`), decompressed, and the raw
 * bytes against the item's id and size. `check.sha256` is what the raw bytes hashed to.
 */
export function verifiedItemBytes(stored: Readable, record: ItemRecord): ContentAddressCheck {
  const check = new ContentAddressCheck(record.id, record.size);
  const storedAs = record.image?.storedAs;
  if (storedAs === undefined) {
    stored.once("error", (error) => check.destroy(error));
    stored.pipe(check);
    return check;
  }
  // One error, wherever it happens, ends the last stream with it (pipeline destroys them all).
  pipeline(
    stored,
    new ContentAddressCheck(storedAs.sha256, storedAs.size),
    createDecompressor(storedAs.encoding),
    check,
    () => {},
  );
  return check;
}

export function createCompressor(encoding: "zstd"): zlib.ZstdCompress {
  assertZstd(encoding);
  return zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_compressionLevel]: 3 } });
}

function createDecompressor(encoding: "zstd"): zlib.ZstdDecompress {
  assertZstd(encoding);
  return zlib.createZstdDecompress();
}

function assertZstd(encoding: "zstd"): void {
  if (typeof zlib.createZstdCompress !== "function" || typeof zlib.createZstdDecompress !== "function") {
    throw new CustodyError(
      "ERR_COMPRESSION_UNAVAILABLE",
      `this Node.js (${process.version}) has no ${encoding} in node:zlib; run custody on Node 22.15 or later`,
    );
  }
}
