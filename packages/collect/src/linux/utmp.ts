/** Parsers for the binary login records (glibc x86_64/aarch64 layouts). */

export const UTMP_RECORD_BYTES = 384;
export const LASTLOG_RECORD_BYTES = 292;

const UT_TYPES: Record<number, string> = {
  0: "EMPTY",
  1: "RUN_LVL",
  2: "BOOT_TIME",
  3: "NEW_TIME",
  4: "OLD_TIME",
  5: "INIT_PROCESS",
  6: "LOGIN_PROCESS",
  7: "USER_PROCESS",
  8: "DEAD_PROCESS",
  9: "ACCOUNTING",
};

export interface UtmpRow {
  type: string;
  pid: number;
  line: string;
  id: string;
  user: string;
  host: string;
  time: string;
  address: string;
}

/** struct utmp: type(2+2) pid(4) line[32] id[4] user[32] host[256] exit(4) session(4) tv(8) addr_v6(16) unused(20). */
export function parseUtmpRecord(buf: Buffer): UtmpRow | undefined {
  if (buf.length < UTMP_RECORD_BYTES) return undefined;
  const type = buf.readInt16LE(0);
  const seconds = buf.readInt32LE(340);
  const micros = buf.readInt32LE(344);
  return {
    type: UT_TYPES[type] ?? String(type),
    pid: buf.readInt32LE(4),
    line: cString(buf, 8, 32),
    id: cString(buf, 40, 4),
    user: cString(buf, 44, 32),
    host: cString(buf, 76, 256),
    time: new Date(seconds * 1000 + Math.floor(micros / 1000)).toISOString(),
    address: utmpAddress(buf.subarray(348, 364)),
  };
}

/** Records of a whole wtmp/btmp/utmp buffer; a torn last record is reported, not guessed. */
export function parseUtmp(buf: Buffer): { rows: UtmpRow[]; trailingBytes: number } {
  const rows: UtmpRow[] = [];
  const whole = Math.floor(buf.length / UTMP_RECORD_BYTES);
  for (let i = 0; i < whole; i++) {
    const row = parseUtmpRecord(buf.subarray(i * UTMP_RECORD_BYTES, (i + 1) * UTMP_RECORD_BYTES));
    if (row !== undefined) rows.push(row);
  }
  return { rows, trailingBytes: buf.length - whole * UTMP_RECORD_BYTES };
}

function utmpAddress(bytes: Buffer): string {
  if (bytes.every((b) => b === 0)) return "";
  if (bytes.subarray(4).every((b) => b === 0)) return [...bytes.subarray(0, 4)].join(".");
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  return groups.join(":");
}

function cString(buf: Buffer, offset: number, length: number): string {
  const slice = buf.subarray(offset, offset + length);
  const end = slice.indexOf(0);
  return slice.subarray(0, end < 0 ? length : end).toString("utf8");
}

export interface LastlogRow {
  uid: number;
  time: string;
  line: string;
  host: string;
}

/** struct lastlog (indexed by uid): time(4) line[32] host[256]; a zero time means never logged in. */
export function parseLastlogRecord(uid: number, buf: Buffer): LastlogRow | undefined {
  if (buf.length < LASTLOG_RECORD_BYTES) return undefined;
  const seconds = buf.readUInt32LE(0);
  if (seconds === 0) return undefined;
  return {
    uid,
    time: new Date(seconds * 1000).toISOString(),
    line: cString(buf, 4, 32),
    host: cString(buf, 36, 256),
  };
}
