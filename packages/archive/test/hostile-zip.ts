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
    const flags = entry.flags ?? (Buffer.isBuffer(entry.name) ? 0 : 0x800);
    const crc = crc32(content);
    const size = entry.size ?? content.length;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(size, 22);
    local.writeUInt16LE(localName.length, 26);
    const localExtra = entry.localExtra ?? Buffer.alloc(0);
    const extra = entry.extra ?? Buffer.alloc(0);
    local.writeUInt16LE(localExtra.length, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(entry.madeBy ?? (3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt16LE(extra.length, 30);
    central.writeUInt32LE((entry.externalAttributes ?? 0o100644 << 16) >>> 0, 38);
    central.writeUInt32LE(entry.offset ?? offset, 42);
    const record = Buffer.concat([local, localName, localExtra, data]);
    locals.push(record);
    centrals.push(Buffer.concat([central, name, extra]));
    offset += record.length;
  }
  const body = Buffer.concat(locals);
  let directory = Buffer.concat(centrals);
  const directoryOffset = (options.offsetShift ?? 0) + body.length;
  const declaredSize = directory.length;
  if (options.doubleCentralDirectory) directory = Buffer.concat([directory, directory]);
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
