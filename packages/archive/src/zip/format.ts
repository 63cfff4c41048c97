// ZIP records as PKWARE's APPNOTE 6.3.x defines them; only what custody writes and checks.

export const SIG_LOCAL = 0x04034b50;
export const SIG_CENTRAL = 0x02014b50;
export const SIG_EOCD = 0x06054b50;
export const SIG_ZIP64_EOCD = 0x06064b50;
export const SIG_ZIP64_LOCATOR = 0x07064b50;
export const SIG_DATA_DESCRIPTOR = 0x08074b50;

export const METHOD_STORE = 0;
export const METHOD_DEFLATE = 8;
export const FLAG_ENCRYPTED = 0x0001;
export const FLAG_DATA_DESCRIPTOR = 0x0008;
export const FLAG_STRONG_ENCRYPTION = 0x0040;
export const FLAG_UTF8 = 0x0800;
export const EXTRA_ZIP64 = 0x0001;
/** A private extra-field id for the bytes reserved where a ZIP64 field may go; readers skip unknown ids. */
export const EXTRA_PADDING = 0xca75;

export const MAX32 = 0xffffffff;
export const MAX16 = 0xffff;
export const LOCAL_HEADER_SIZE = 30;
export const CENTRAL_HEADER_SIZE = 46;
export const EOCD_SIZE = 22;
export const ZIP64_EOCD_SIZE = 56;
export const ZIP64_LOCATOR_SIZE = 20;
/** Extra bytes reserved in a local header for a ZIP64 field (sizes) or, if unneeded, padding. */
const RESERVED_EXTRA_SIZE = 20;
/** Reserved when the central record will also carry a 64-bit offset, so both extras have one length. */
const RESERVED_EXTRA_SIZE_WITH_OFFSET = 28;

const VERSION_DEFAULT = 20;
const VERSION_ZIP64 = 45;
/** "Made by" Unix (3) so that unzip honours the permission bits in the external attributes. */
const MADE_BY_UNIX = (3 << 8) | VERSION_ZIP64;
const REGULAR_FILE_0644 = 0o100644;

export interface EntrySizes {
  crc32: number;
  compressedSize: number;
  size: number;
}

export interface CentralRecord extends EntrySizes {
  name: Buffer;
  localExtraLength: number;
  method: number;
  dosTime: number;
  dosDate: number;
  localHeaderOffset: number;
  zip64: boolean;
}

/** DOS date and time (2-second resolution, years 1980-2107) from a Date's UTC fields. */
export function dosDateTime(at: Date): { dosTime: number; dosDate: number } {
  const year = Math.min(Math.max(at.getUTCFullYear(), 1980), 2107);
  const dosDate = ((year - 1980) << 9) | ((at.getUTCMonth() + 1) << 5) | at.getUTCDate();
  const dosTime = (at.getUTCHours() << 11) | (at.getUTCMinutes() << 5) | (at.getUTCSeconds() >> 1);
  return { dosTime, dosDate };
}

export function needsZip64(sizes: EntrySizes): boolean {
  return sizes.size >= MAX32 || sizes.compressedSize >= MAX32;
}

interface LocalHeaderInput {
  name: Buffer;
  method: number;
  dosTime: number;
  dosDate: number;
  /** Known sizes, or undefined when they are patched in later (then the extra field is reserved). */
  sizes: EntrySizes | undefined;
  forceZip64: boolean;
  offset: number;
}

export function encodeLocalHeader(input: LocalHeaderInput): Buffer {
  const bigOffset = input.forceZip64 || input.offset >= MAX32;
  const zip64 = input.forceZip64 || (input.sizes !== undefined && needsZip64(input.sizes));
  const reserve = input.sizes === undefined || zip64 || bigOffset;
  const extraSize = !reserve ? 0 : bigOffset ? RESERVED_EXTRA_SIZE_WITH_OFFSET : RESERVED_EXTRA_SIZE;
  const header = Buffer.alloc(LOCAL_HEADER_SIZE + input.name.length + extraSize);
  header.writeUInt32LE(SIG_LOCAL, 0);
  header.writeUInt16LE(FLAG_UTF8, 6);
  header.writeUInt16LE(input.method, 8);
  header.writeUInt16LE(input.dosTime, 10);
  header.writeUInt16LE(input.dosDate, 12);
  header.writeUInt16LE(input.name.length, 26);
  header.writeUInt16LE(extraSize, 28);
  input.name.copy(header, LOCAL_HEADER_SIZE);
  if (extraSize === RESERVED_EXTRA_SIZE_WITH_OFFSET) {
    header.writeUInt16LE(EXTRA_PADDING, LOCAL_HEADER_SIZE + input.name.length + RESERVED_EXTRA_SIZE);
    header.writeUInt16LE(4, LOCAL_HEADER_SIZE + input.name.length + RESERVED_EXTRA_SIZE + 2);
  }
  writeLocalSizes(header, input.name.length, input.sizes ?? { crc32: 0, compressedSize: 0, size: 0 }, {
    zip64,
    reserved: extraSize > 0,
  });
  return header;
}

/** Fills version, CRC and sizes of a local header (also used to patch one after its data is written). */
export function writeLocalSizes(
  header: Buffer,
  nameLength: number,
  sizes: EntrySizes,
  layout: { zip64: boolean; reserved: boolean },
): void {
  header.writeUInt16LE(layout.zip64 ? VERSION_ZIP64 : VERSION_DEFAULT, 4);
  header.writeUInt32LE(sizes.crc32 >>> 0, 14);
  header.writeUInt32LE(layout.zip64 ? MAX32 : sizes.compressedSize, 18);
  header.writeUInt32LE(layout.zip64 ? MAX32 : sizes.size, 22);
  if (!layout.reserved) return;
  const extra = LOCAL_HEADER_SIZE + nameLength;
  header.writeUInt16LE(layout.zip64 ? EXTRA_ZIP64 : EXTRA_PADDING, extra);
  header.writeUInt16LE(16, extra + 2);
  header.writeBigUInt64LE(BigInt(layout.zip64 ? sizes.size : 0), extra + 4);
  header.writeBigUInt64LE(BigInt(layout.zip64 ? sizes.compressedSize : 0), extra + 12);
}

/**
 * The central record. Its extra field has the local header's length (`localExtraLength`), padded
 * after the ZIP64 field if need be, because listing tools read a difference as hidden bytes.
 */
export function encodeCentralHeader(record: CentralRecord): Buffer {
  const localExtraLength = record.localExtraLength;
  const bigSize = record.zip64 || record.size >= MAX32;
  const bigCompressed = record.zip64 || record.compressedSize >= MAX32;
  const bigOffset = record.zip64 || record.localHeaderOffset >= MAX32;
  const fields = [bigSize && record.size, bigCompressed && record.compressedSize];
  fields.push(bigOffset && record.localHeaderOffset);
  const values = fields.filter((value): value is number => value !== false);
  const zip64Size = values.length === 0 ? 0 : 4 + 8 * values.length;
  const padding = localExtraLength - zip64Size >= 4 ? localExtraLength - zip64Size : 0;
  const extraSize = zip64Size + padding;
  const header = Buffer.alloc(CENTRAL_HEADER_SIZE + record.name.length + extraSize);
  const anyZip64 = values.length > 0;
  header.writeUInt32LE(SIG_CENTRAL, 0);
  header.writeUInt16LE(MADE_BY_UNIX, 4);
  header.writeUInt16LE(anyZip64 ? VERSION_ZIP64 : VERSION_DEFAULT, 6);
  header.writeUInt16LE(FLAG_UTF8, 8);
  header.writeUInt16LE(record.method, 10);
  header.writeUInt16LE(record.dosTime, 12);
  header.writeUInt16LE(record.dosDate, 14);
  header.writeUInt32LE(record.crc32 >>> 0, 16);
  header.writeUInt32LE(bigCompressed ? MAX32 : record.compressedSize, 20);
  header.writeUInt32LE(bigSize ? MAX32 : record.size, 24);
  header.writeUInt16LE(record.name.length, 28);
  header.writeUInt16LE(extraSize, 30);
  header.writeUInt32LE((REGULAR_FILE_0644 << 16) >>> 0, 38);
  header.writeUInt32LE(bigOffset ? MAX32 : record.localHeaderOffset, 42);
  record.name.copy(header, CENTRAL_HEADER_SIZE);
  if (anyZip64) {
    let at = CENTRAL_HEADER_SIZE + record.name.length;
    header.writeUInt16LE(EXTRA_ZIP64, at);
    header.writeUInt16LE(8 * values.length, at + 2);
    at += 4;
    for (const value of values) {
      header.writeBigUInt64LE(BigInt(value), at);
      at += 8;
    }
  }
  if (padding > 0) {
    const at = CENTRAL_HEADER_SIZE + record.name.length + zip64Size;
    header.writeUInt16LE(EXTRA_PADDING, at);
    header.writeUInt16LE(padding - 4, at + 2);
  }
  return header;
}

interface DirectoryEnd {
  entryCount: number;
  centralDirectoryOffset: number;
  centralDirectorySize: number;
  forceZip64: boolean;
}

/** The end records: ZIP64 end record and locator when any field overflows, then the classic EOCD. */
export function encodeDirectoryEnd(end: DirectoryEnd): Buffer {
  const zip64 =
    end.forceZip64 ||
    end.entryCount >= MAX16 ||
    end.centralDirectoryOffset >= MAX32 ||
    end.centralDirectorySize >= MAX32;
  const parts: Buffer[] = [];
  if (zip64) {
    const record = Buffer.alloc(ZIP64_EOCD_SIZE);
    record.writeUInt32LE(SIG_ZIP64_EOCD, 0);
    record.writeBigUInt64LE(BigInt(ZIP64_EOCD_SIZE - 12), 4);
    record.writeUInt16LE(MADE_BY_UNIX, 12);
    record.writeUInt16LE(VERSION_ZIP64, 14);
    record.writeBigUInt64LE(BigInt(end.entryCount), 24);
    record.writeBigUInt64LE(BigInt(end.entryCount), 32);
    record.writeBigUInt64LE(BigInt(end.centralDirectorySize), 40);
    record.writeBigUInt64LE(BigInt(end.centralDirectoryOffset), 48);
    const locator = Buffer.alloc(ZIP64_LOCATOR_SIZE);
    locator.writeUInt32LE(SIG_ZIP64_LOCATOR, 0);
    const recordOffset = end.centralDirectoryOffset + end.centralDirectorySize;
    locator.writeBigUInt64LE(BigInt(recordOffset), 8);
    locator.writeUInt32LE(1, 16);
    parts.push(record, locator);
  }
  const eocd = Buffer.alloc(EOCD_SIZE);
  eocd.writeUInt32LE(SIG_EOCD, 0);
  eocd.writeUInt16LE(zip64 ? MAX16 : end.entryCount, 8);
  eocd.writeUInt16LE(zip64 ? MAX16 : end.entryCount, 10);
  eocd.writeUInt32LE(zip64 ? MAX32 : end.centralDirectorySize, 12);
  eocd.writeUInt32LE(zip64 ? MAX32 : end.centralDirectoryOffset, 16);
  parts.push(eocd);
  return Buffer.concat(parts);
}
