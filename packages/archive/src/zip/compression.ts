import { extname } from "node:path";
import { promisify } from "node:util";
import { constants, deflateRaw, type ZlibOptions } from "node:zlib";

const deflateRawAsync = promisify<Buffer, ZlibOptions, Buffer>(deflateRaw);

/** Deflate's window: each chunk is compressed with the previous 32 KiB as its dictionary, as pigz does. */
const WINDOW = 32 * 1024;
/** A sample that saves less than this fraction is stored: compressing it again costs time and wins nothing. */
const INCOMPRESSIBLE_RATIO = 0.97;

/**
 * Compresses one chunk of an entry on libuv's thread pool, so several chunks (or several small files)
 * compress on all cores while the main thread hashes and writes. A chunk that is not the last ends
 * with a sync flush (byte aligned, not final), so compressed chunks concatenate into one deflate stream.
 */
export function deflateChunk(
  chunk: Buffer,
  level: number,
  previous: Buffer | undefined,
  last: boolean,
): Promise<Buffer> {
  const options: ZlibOptions = { level, finishFlush: last ? constants.Z_FINISH : constants.Z_SYNC_FLUSH };
  if (previous !== undefined && previous.length > 0) {
    options.dictionary = previous.subarray(Math.max(0, previous.length - WINDOW));
  }
  return deflateRawAsync(chunk, options);
}

export function isWorthCompressing(input: Buffer, output: Buffer): boolean {
  return output.length < input.length * INCOMPRESSIBLE_RATIO;
}

const COMPRESSED_EXTENSIONS = new Set(
  [
    "zip",
    "gz",
    "tgz",
    "bz2",
    "xz",
    "zst",
    "7z",
    "rar",
    "cab",
    "lz4",
    "lzma",
    "br",
    "jar",
    "apk",
    "docx",
    "xlsx",
    "pptx",
    "odt",
    "ods",
    "jpg",
    "jpeg",
    "png",
    "gif",
    "webp",
    "heic",
    "mp3",
    "mp4",
    "m4a",
    "mov",
    "mkv",
    "avi",
    "webm",
    "ogg",
    "flac",
    "pdf",
    "e01",
    "aff4",
    "vhdx",
    "vmdk",
    "dmg",
  ].map((ext) => `.${ext}`),
);

const MAGIC: readonly Buffer[] = [
  Buffer.from("504b0304", "hex"), // zip and its office formats
  Buffer.from("1f8b", "hex"), // gzip
  Buffer.from("89504e47", "hex"), // png
  Buffer.from("ffd8ff", "hex"), // jpeg
  Buffer.from("377abcaf271c", "hex"), // 7z
  Buffer.from("fd377a585a00", "hex"), // xz
  Buffer.from("425a68", "hex"), // bzip2
  Buffer.from("28b52ffd", "hex"), // zstd
  Buffer.from("52617221", "hex"), // rar
];

/** Already-compressed data, known by its name or its first bytes: stored without trying. */
export function looksCompressed(path: string, firstChunk: Buffer | undefined): boolean {
  if (COMPRESSED_EXTENSIONS.has(extname(path).toLowerCase())) return true;
  if (firstChunk === undefined) return false;
  if (firstChunk.subarray(4, 8).toString("latin1") === "ftyp") return true; // mp4, mov, heic
  return MAGIC.some((magic) => firstChunk.subarray(0, magic.length).equals(magic));
}
