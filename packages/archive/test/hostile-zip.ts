import { crc32, deflateRawSync } from "node:zlib";

/**
 * A deliberately naive ZIP builder for the hostile-archive corpus: it writes whatever it is told (bad
 * names, lying sizes, links, overlapping offsets), which the library's own writer never would.
 */
export interface RawEntry {
  name: string | Buffer;
  /** Uncompressed content; compressed with deflate when method is 8 unless `stored` bytes are given. */
  content?: Buffer;
  method?: number;
  /** The bytes placed after the local header as they are (overrides compressing `content`). */
  stored?: Buffer;
  /** Declared uncompressed size (default: the content's). */
  size?: number;
  flags?: number;
  madeBy?: number;
  externalAttributes?: number;
  /** A different name in the local header than in the central directory. */
  localName?: string;
  /** Points the central record at another offset (overlap and out-of-bounds tests). */
  offset?: number;
  /** Extra fields of the central record and of the local header, as they are. */
  extra?: Buffer;
  localExtra?: Buffer;
  /** Sets the data-descriptor flag, zeroes the local CRC and sizes and writes a descriptor after the data. */
  descriptor?: { crc?: number; compressedSize?: number; size?: number; signature?: boolean };
  /**
   * ZIP64 extra fields: the 32-bit sizes become 0xFFFFFFFF and the real (or lying) 64-bit sizes go in a
   * 0x0001 field, in the local header, the central record, or both.
   */
  zip64?: { local?: Zip64Sizes; central?: Zip64Sizes };
}

export interface Zip64Sizes {
  size: number;
  compressedSize: number;
}

/** A ZIP64 extended information field (0x0001) with the uncompressed and compressed sizes. */
export function zip64Field({ size, compressedSize }: Zip64Sizes): Buffer {
  const field = Buffer.alloc(4 + 16);
  field.writeUInt16LE(0x0001, 0);
  field.writeUInt16LE(16, 2);
  field.writeBigUInt64LE(BigInt(size), 4);
  field.writeBigUInt64LE(BigInt(compressedSize), 12);
  return field;
}

/** An NTFS extra field (0x000a) with its three file times (harmless: readers may ignore it). */
export function ntfsTimesField(): Buffer {
  const field = Buffer.alloc(4 + 32);
  field.writeUInt16LE(0x000a, 0);
  field.writeUInt16LE(32, 2);
  field.writeUInt16LE(0x0001, 8);
  field.writeUInt16LE(24, 10);
  const time = 133_000_000_000_000_000n;
  for (let i = 0; i < 3; i += 1) field.writeBigUInt64LE(time, 12 + 8 * i);
  return field;
}

function descriptorBytes(entry: RawEntry, crc: number, compressed: number, size: number): Buffer {
  const d = entry.descriptor;
  if (d === undefined) return Buffer.alloc(0);
  const body = Buffer.alloc(12);
  body.writeUInt32LE((d.crc ?? crc) >>> 0, 0);
  body.writeUInt32LE(d.compressedSize ?? compressed, 4);
  body.writeUInt32LE(d.size ?? size, 8);
  if (d.signature === false) return body;
  const signature = Buffer.alloc(4);
  signature.writeUInt32LE(0x08074b50, 0);
  return Buffer.concat([signature, body]);
}

/** An Info-ZIP Unicode Path extra field (0x7075): version 1, the CRC-32 of `rawName`, then `name` in UTF-8. */
export function unicodePathField(rawName: string, name: string, crcOf: string = rawName): Buffer {
  const utf8 = Buffer.from(name);
  const field = Buffer.alloc(4 + 5 + utf8.length);
  field.writeUInt16LE(0x7075, 0);
  field.writeUInt16LE(5 + utf8.length, 2);
  field.writeUInt8(1, 4);
  field.writeUInt32LE(crc32(Buffer.from(crcOf)) >>> 0, 5);
  utf8.copy(field, 9);
  return field;
}

export interface BuildOptions {
  prefix?: Buffer;
  suffix?: Buffer;
  /** Shift every recorded offset by this much (a prefix with adjusted offsets, like a self-extractor). */
  offsetShift?: number;
  doubleCentralDirectory?: boolean;
  /** Bytes cut from the end of the central directory while the end record still claims them. */
  truncateCentralDirectory?: number;
  /** Entry count written in the end record (default: the real count). */
  declaredCount?: number;
  /** Bytes placed between the central directory and the end record, which still claims the real size. */
  padCentralDirectory?: number;
}

export function buildZip(entries: RawEntry[], options: BuildOptions = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = options.offsetShift ?? 0;
  for (const entry of entries) {
    const content = entry.content ?? Buffer.alloc(0);
    const method = entry.method ?? 0;
    const data = entry.stored ?? (method === 8 ? deflateRawSync(content) : content);
    const name = Buffer.isBuffer(entry.name) ? entry.name : Buffer.from(entry.name);
    const localName = entry.localName === undefined ? name : Buffer.from(entry.localName);
    const flags = (entry.flags ?? (Buffer.isBuffer(entry.name) ? 0 : 0x800)) | (entry.descriptor ? 0x08 : 0);
    const crc = crc32(content);
    const size = entry.size ?? content.length;
    const inLocal = (value: number) => (entry.descriptor ? 0 : entry.zip64?.local ? 0xffffffff : value);
    const inCentral = (value: number) => (entry.zip64?.central ? 0xffffffff : value);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(entry.descriptor ? 0 : crc, 14);
    local.writeUInt32LE(inLocal(data.length), 18);
    local.writeUInt32LE(inLocal(size), 22);
    local.writeUInt16LE(localName.length, 26);
    const z64 = entry.zip64;
    const localExtra = Buffer.concat([
      entry.localExtra ?? Buffer.alloc(0),
      z64?.local ? zip64Field(z64.local) : Buffer.alloc(0),
    ]);
    const extra = Buffer.concat([
      entry.extra ?? Buffer.alloc(0),
      z64?.central ? zip64Field(z64.central) : Buffer.alloc(0),
    ]);
    local.writeUInt16LE(localExtra.length, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(entry.madeBy ?? (3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(inCentral(data.length), 20);
    central.writeUInt32LE(inCentral(size), 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(extra.length, 30);
    central.writeUInt32LE((entry.externalAttributes ?? 0o100644 << 16) >>> 0, 38);
    central.writeUInt32LE(entry.offset ?? offset, 42);
    const descriptor = descriptorBytes(entry, crc, data.length, size);
    const record = Buffer.concat([local, localName, localExtra, data, descriptor]);
    locals.push(record);
    centrals.push(Buffer.concat([central, name, extra]));
    offset += record.length;
  }
  const body = Buffer.concat(locals);
  let directory = Buffer.concat(centrals);
  const directoryOffset = (options.offsetShift ?? 0) + body.length;
  const declaredSize = directory.length;
  if (options.doubleCentralDirectory) directory = Buffer.concat([directory, directory]);
  if (options.padCentralDirectory)
    directory = Buffer.concat([directory, Buffer.alloc(options.padCentralDirectory)]);
  if (options.truncateCentralDirectory)
    directory = directory.subarray(0, directory.length - options.truncateCentralDirectory);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(options.declaredCount ?? entries.length, 8);
  end.writeUInt16LE(options.declaredCount ?? entries.length, 10);
  end.writeUInt32LE(declaredSize, 12);
  end.writeUInt32LE(directoryOffset, 16);
  return Buffer.concat([
    options.prefix ?? Buffer.alloc(0),
    body,
    directory,
    end,
    options.suffix ?? Buffer.alloc(0),
  ]);
}
