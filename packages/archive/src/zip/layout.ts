import type { FileHandle } from "node:fs/promises";
import type { Entry } from "yauzl";
import { type DirectoryEnd, malformed, readAt } from "./directory-end.js";
import { type ArchiveEntry, checkUnicodePaths } from "./entry-checks.js";
import {
  EXTRA_ZIP64,
  FLAG_DATA_DESCRIPTOR,
  LOCAL_HEADER_SIZE,
  MAX32,
  SIG_DATA_DESCRIPTOR,
  SIG_LOCAL,
} from "./format.js";

export interface LocatedEntry {
  entry: ArchiveEntry;
  raw: Entry;
}

/**
 * Checks that the entries tile the archive: the first local header at byte 0 (nothing prepended), each
 * entry's header, data and descriptor followed directly by the next (no overlap: the trick behind
 * non-recursive zip bombs; no gap: hidden data), the last one ending where the central directory starts.
 * Each local header must agree with its central record (name, method, flags, CRC and sizes), so no tool
 * can be shown different files than we check. Returns each entry's data offset.
 */
export async function checkLayout(
  file: FileHandle,
  located: readonly LocatedEntry[],
  end: DirectoryEnd,
): Promise<Map<ArchiveEntry, number>> {
  const sorted = [...located].sort((a, b) => a.entry.localHeaderOffset - b.entry.localHeaderOffset);
  const dataStarts = new Map<ArchiveEntry, number>();
  let expected = 0;
  for (const { entry, raw } of sorted) {
    const offset = entry.localHeaderOffset;
    if (offset !== expected) {
      const what =
        expected === 0
          ? "data before the first entry"
          : offset < expected
            ? "entries overlap"
            : "hidden bytes between entries";
      throw malformed(`${what}: ${entry.name} starts at ${offset}, expected ${expected}`, {
        path: entry.name,
        offset,
        expected,
      });
    }
    const { dataStart, descriptorZip64 } = await checkLocalHeader(
      file,
      entry,
      raw,
      end.centralDirectoryOffset,
    );
    dataStarts.set(entry, dataStart);
    expected = dataStart + entry.compressedSize;
    if (raw.generalPurposeBitFlag & FLAG_DATA_DESCRIPTOR)
      expected += await checkDescriptor(file, expected, descriptorZip64, entry);
    if (expected > end.centralDirectoryOffset) {
      throw malformed(`${entry.name} runs into the central directory`, { path: entry.name });
    }
  }
  if (expected !== end.centralDirectoryOffset) {
    const what =
      sorted.length === 0 ? "data before the central directory" : "hidden bytes before the central directory";
    throw malformed(
      `${what}: entries end at ${expected}, the directory starts at ${end.centralDirectoryOffset}`,
    );
  }
  return dataStarts;
}

async function checkLocalHeader(
  file: FileHandle,
  entry: ArchiveEntry,
  raw: Entry,
  limit: number,
): Promise<{ dataStart: number; descriptorZip64: boolean }> {
  const offset = entry.localHeaderOffset;
  if (offset + LOCAL_HEADER_SIZE > limit)
    throw malformed(`${entry.name}'s local header is out of bounds`, { path: entry.name });
  const header = await readAt(file, offset, LOCAL_HEADER_SIZE);
  if (header.readUInt32LE(0) !== SIG_LOCAL)
    throw malformed(`${entry.name} has no local header at ${offset}`, { path: entry.name });
  const nameLength = header.readUInt16LE(26);
  const extraLength = header.readUInt16LE(28);
  const dataStart = offset + LOCAL_HEADER_SIZE + nameLength + extraLength;
  if (dataStart + entry.compressedSize > limit)
    throw malformed(`${entry.name}'s data is out of bounds`, { path: entry.name });
  const variable = await readAt(file, offset + LOCAL_HEADER_SIZE, nameLength + extraLength);
  const differs = (what: string) =>
    malformed(`${entry.name}: the local header's ${what} differs from the central directory's`, {
      path: entry.name,
    });
  if (!variable.subarray(0, nameLength).equals(raw.fileName as unknown as Buffer)) throw differs("name");
  if (header.readUInt16LE(8) !== raw.compressionMethod) throw differs("compression method");
  const flags = header.readUInt16LE(6);
  if ((flags ^ raw.generalPurposeBitFlag) & 0x0049) throw differs("encryption or descriptor flags");
  const extras = extraFields(variable.subarray(nameLength));
  checkUnicodePaths(extras, variable.subarray(0, nameLength), "local header");
  const zip64 = findZip64(extras);
  if (!(flags & FLAG_DATA_DESCRIPTOR)) {
    const crc = header.readUInt32LE(14);
    const compressed = local64(header.readUInt32LE(18), zip64, 1);
    const size = local64(header.readUInt32LE(22), zip64, 0);
    if (crc !== entry.crc32 || compressed !== entry.compressedSize || size !== entry.size)
      throw differs("CRC or sizes");
  }
  return { dataStart, descriptorZip64: zip64 !== undefined };
}

/** A header's extra fields; one that runs past the end is malformed. */
function extraFields(extra: Buffer): { id: number; data: Buffer }[] {
  const fields: { id: number; data: Buffer }[] = [];
  for (let at = 0; at + 4 <= extra.length; ) {
    const size = extra.readUInt16LE(at + 2);
    if (at + 4 + size > extra.length) throw malformed("an extra field runs past its header");
    fields.push({ id: extra.readUInt16LE(at), data: extra.subarray(at + 4, at + 4 + size) });
    at += 4 + size;
  }
  return fields;
}

/** The ZIP64 extra field's 64-bit values, if the local header has one. */
function findZip64(fields: readonly { id: number; data: Buffer }[]): bigint[] | undefined {
  const data = fields.find((field) => field.id === EXTRA_ZIP64)?.data;
  if (data === undefined) return undefined;
  const values: bigint[] = [];
  for (let v = 0; v + 8 <= data.length; v += 8) values.push(data.readBigUInt64LE(v));
  return values;
}

/** A local size field: its value, or the ZIP64 one when it holds the 0xFFFFFFFF marker. */
function local64(value: number, zip64: bigint[] | undefined, index: number): number {
  if (value !== MAX32 || zip64 === undefined) return value;
  const big = zip64[index];
  return big === undefined ? value : Number(big);
}

/**
 * A data descriptor (optional signature, CRC, then 4- or 8-byte sizes) must state the central record's
 * CRC and sizes: a streaming reader trusts the descriptor, so one that differs shows such a tool another
 * file than the one we check. Returns its length.
 */
async function checkDescriptor(
  file: FileHandle,
  at: number,
  zip64: boolean,
  entry: ArchiveEntry,
): Promise<number> {
  const bytes = await readAt(file, at, 4 + 4 + (zip64 ? 16 : 8));
  const signed = bytes.readUInt32LE(0) === SIG_DATA_DESCRIPTOR;
  const body = bytes.subarray(signed ? 4 : 0);
  const crc = body.readUInt32LE(0);
  const compressed = zip64 ? Number(body.readBigUInt64LE(4)) : body.readUInt32LE(4);
  const size = zip64 ? Number(body.readBigUInt64LE(12)) : body.readUInt32LE(8);
  if (crc !== entry.crc32 || compressed !== entry.compressedSize || size !== entry.size) {
    throw malformed(`${entry.name}: its data descriptor's CRC or sizes differ from the central directory's`, {
      path: entry.name,
    });
  }
  return (signed ? 4 : 0) + 4 + (zip64 ? 16 : 8);
}
