import type { FileHandle } from "node:fs/promises";
import { CustodyError } from "@custody/core";
import {
  EOCD_SIZE,
  MAX16,
  MAX32,
  SIG_EOCD,
  SIG_ZIP64_EOCD,
  SIG_ZIP64_LOCATOR,
  ZIP64_EOCD_SIZE,
  ZIP64_LOCATOR_SIZE,
} from "./format.js";

export interface DirectoryEnd {
  entryCount: number;
  centralDirectoryOffset: number;
  centralDirectorySize: number;
}

const MAX_COMMENT = 0xffff;

/**
 * Finds the end records and checks that they frame the archive exactly: the EOCD's comment reaches the
 * last byte (no data after the archive) and the central directory ends where the end records begin
 * (no second, doubled or padded directory). Anything else is ERR_ARCHIVE_MALFORMED.
 */
export async function readDirectoryEnd(file: FileHandle, fileSize: number): Promise<DirectoryEnd> {
  if (fileSize < EOCD_SIZE) throw malformed("the file is too small to be a ZIP archive");
  const tailSize = Math.min(fileSize, EOCD_SIZE + MAX_COMMENT + ZIP64_LOCATOR_SIZE);
  const tail = await readAt(file, fileSize - tailSize, tailSize);
  const at = findEocd(tail);
  if (at < 0) throw malformed("no end-of-central-directory record: not a ZIP archive, or truncated");
  const commentLength = tail.readUInt16LE(at + 20);
  if (at + EOCD_SIZE + commentLength !== tail.length) {
    throw malformed("bytes follow the end of the ZIP archive (data appended after it)");
  }
  if (tail.readUInt16LE(at + 4) !== 0 || tail.readUInt16LE(at + 6) !== 0)
    throw malformed("multi-disk archives are not supported");
  const eocdOffset = fileSize - tailSize + at;
  const classic = {
    entryCount: tail.readUInt16LE(at + 10),
    centralDirectorySize: tail.readUInt32LE(at + 12),
    centralDirectoryOffset: tail.readUInt32LE(at + 16),
  };
  if (tail.readUInt16LE(at + 8) !== classic.entryCount)
    throw malformed("the end record's two entry counts differ");
  const locatorAt = at - ZIP64_LOCATOR_SIZE;
  const hasLocator = locatorAt >= 0 && tail.readUInt32LE(locatorAt) === SIG_ZIP64_LOCATOR;
  if (!hasLocator) {
    checkFrame(classic, eocdOffset);
    return classic;
  }
  const recordOffset = Number(tail.readBigUInt64LE(locatorAt + 8));
  const zip64 = await readZip64Record(file, recordOffset, eocdOffset - ZIP64_LOCATOR_SIZE);
  if (
    !agrees(classic.entryCount, zip64.entryCount, MAX16) ||
    !agrees(classic.centralDirectorySize, zip64.centralDirectorySize, MAX32) ||
    !agrees(classic.centralDirectoryOffset, zip64.centralDirectoryOffset, MAX32)
  ) {
    throw malformed("the ZIP64 end record disagrees with the classic end record");
  }
  checkFrame(zip64, recordOffset);
  return zip64;
}

function findEocd(tail: Buffer): number {
  for (let at = tail.length - EOCD_SIZE; at >= 0; at--) {
    if (tail.readUInt32LE(at) === SIG_EOCD) return at;
  }
  return -1;
}

async function readZip64Record(
  file: FileHandle,
  offset: number,
  locatorOffset: number,
): Promise<DirectoryEnd> {
  if (offset < 0 || offset + ZIP64_EOCD_SIZE > locatorOffset)
    throw malformed("the ZIP64 end record is out of bounds");
  const record = await readAt(file, offset, ZIP64_EOCD_SIZE);
  if (record.readUInt32LE(0) !== SIG_ZIP64_EOCD) throw malformed("bad ZIP64 end record signature");
  const recordSize = Number(record.readBigUInt64LE(4)) + 12;
  if (offset + recordSize !== locatorOffset)
    throw malformed("bytes between the ZIP64 end record and its locator");
  if (record.readUInt32LE(16) !== 0 || record.readUInt32LE(20) !== 0)
    throw malformed("multi-disk archives are not supported");
  const entryCount = Number(record.readBigUInt64LE(32));
  if (Number(record.readBigUInt64LE(24)) !== entryCount)
    throw malformed("the ZIP64 end record's two entry counts differ");
  return {
    entryCount,
    centralDirectorySize: Number(record.readBigUInt64LE(40)),
    centralDirectoryOffset: Number(record.readBigUInt64LE(48)),
  };
}

/** A classic field either equals the ZIP64 one or is the "see ZIP64" marker. */
function agrees(classic: number, zip64: number, marker: number): boolean {
  return classic === marker || classic === zip64;
}

function checkFrame(end: DirectoryEnd, endRecordsOffset: number): void {
  if (end.centralDirectoryOffset + end.centralDirectorySize !== endRecordsOffset) {
    throw malformed(
      `the central directory (${end.centralDirectoryOffset} + ${end.centralDirectorySize}) does not end where the end records start (${endRecordsOffset}): truncated, doubled or padded`,
    );
  }
}

export async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) throw malformed(`unexpected end of file at ${position + done}`);
    done += bytesRead;
  }
  return buffer;
}

export function malformed(message: string, details: Record<string, unknown> = {}): CustodyError {
  return new CustodyError("ERR_ARCHIVE_MALFORMED", message, { details });
}
