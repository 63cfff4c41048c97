import type { Stats } from "node:fs";
import { csvCell } from "../csv.js";
import type { SafeDir } from "../safe-fs.js";
import type { Chunks } from "./csv-chunks.js";

// Date's own range for the fast path: years 1970-9999 (toISOString widens the year outside 0-9999).
const FAST_UNTIL = Date.UTC(10_000, 0, 1);
// Seconds whose text is kept, indexed by the second's low bits: a file's four times, and the entries
// of a folder made together, mostly fall in a few seconds.
const SECOND_SLOTS = 256;
// The file-type bits of st_mode (POSIX's values, Linux's too), as Stats.isDirectory() and the rest test them.
const S_IFMT = 0o170000;
const SYMLINK = 0o12;
const TYPES = Array.from({ length: 16 }, () => "other");
TYPES[0o04] = "dir";
TYPES[0o10] = "file";
TYPES[SYMLINK] = "symlink";
TYPES[0o01] = "fifo";
TYPES[0o14] = "socket";
const TYPE_CELLS = TYPES.map((type) => Buffer.from(`${type},`, "latin1"));
// What a row holds besides its path, owner cell and link target: type, three numbers, a mode, four
// times and the separators (an ISO time is at most 27 bytes, a number 16), with room to spare.
const FIXED_BYTES = 256;
const COMMA = 0x2c;
const ZERO = 0x30;
// A cell that starts like a formula, or holds what needs quotes (csvCell's own tests).
const NOT_PLAIN = /^[=+\-@\t\r]|[",\r\n]/;
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * Formats listing rows exactly as `csvLine` would format a `ListingRow` (the Stats dates are
 * `new Date(Math.round(ms))`), without building the row: `write` encodes the common row straight into
 * the chunk, owner cells and the text of each second made once, a path's prefix once per folder.
 */
export class RowFormat {
  private readonly owners = new Map<number, string>();
  private readonly ownerBytes = new Map<number, Buffer>();
  private readonly modes: string[] = [];
  private readonly seconds = new Float64Array(SECOND_SLOTS).fill(Number.NaN);
  private readonly secondBytes: Buffer[] = [];

  constructor(private readonly owner: (uid: number) => string) {}

  /** `prefix` (which ends with "/") as `write` takes it, or undefined when it needs quoting. */
  prefixBytes(prefix: string): Buffer | undefined {
    return NOT_PLAIN.test(prefix) ? undefined : Buffer.from(prefix, "utf8");
  }

  /** The row as a string: the reference for `write`, and what formats the rows it declines. */
  line(path: string, info: Stats, dir: SafeDir, name: string): string {
    const type = TYPES[(info.mode & S_IFMT) >>> 12] ?? "other";
    let linkTarget = "";
    if (type === "symlink") {
      try {
        linkTarget = csvCell(dir.readlinkNow(name));
      } catch {
        linkTarget = "?";
      }
    }
    const birthtime = info.birthtimeMs > 0 ? this.iso(info.birthtimeMs) : "";
    return `${csvCell(path)},${type},${info.size},${this.ownerCells(info.uid)},${info.gid},${this.mode(info.mode)},${this.iso(info.mtimeMs)},${this.iso(info.atimeMs)},${this.iso(info.ctimeMs)},${birthtime},${linkTarget}\r\n`;
  }

  /** The uid and owner cells together. */
  private ownerCells(uid: number): string {
    let cells = this.owners.get(uid);
    if (cells === undefined) {
      cells = `${uid},${csvCell(this.owner(uid))}`;
      this.owners.set(uid, cells);
    }
    return cells;
  }

  private mode(mode: number): string {
    const bits = mode & 0o7777;
    let text = this.modes[bits];
    if (text === undefined) {
      text = bits.toString(8).padStart(4, "0");
      this.modes[bits] = text;
    }
    return text;
  }

  private iso(ms: number): string {
    return new Date(Math.round(ms)).toISOString();
  }

  /**
   * `line`'s bytes written straight into `chunks` (no string per row or per cell), for the common row:
   * a path under a plain prefix whose name needs no quotes. Returns a full chunk or undefined, or false
   * when the row is not such a row (then `line` formats it).
   */
  write(chunks: Chunks, prefix: Buffer, name: string, info: Stats, dir: SafeDir): Buffer | undefined | false {
    if (NEEDS_QUOTES.test(name)) return false;
    const kind = (info.mode & S_IFMT) >>> 12;
    let link = "";
    if (kind === SYMLINK) {
      try {
        link = csvCell(dir.readlinkNow(name));
      } catch {
        link = "?";
      }
    }
    const owner = this.ownerCellBytes(info.uid);
    const b = chunks.room(prefix.length + 3 * (name.length + link.length) + owner.length + FIXED_BYTES);
    if (b === undefined) return false;
    let o = copy(b, chunks.end(), prefix);
    o = text(b, o, name);
    b[o++] = COMMA;
    o = copy(b, o, TYPE_CELLS[kind] as Buffer);
    o = number(b, o, info.size);
    b[o++] = COMMA;
    o = copy(b, o, owner);
    o = number(b, o, info.gid);
    b[o++] = COMMA;
    const bits = info.mode;
    b[o++] = ZERO + ((bits >> 9) & 7);
    b[o++] = ZERO + ((bits >> 6) & 7);
    b[o++] = ZERO + ((bits >> 3) & 7);
    b[o++] = ZERO + (bits & 7);
    b[o++] = COMMA;
    o = this.time(b, o, info.mtimeMs);
    b[o++] = COMMA;
    o = this.time(b, o, info.atimeMs);
    b[o++] = COMMA;
    o = this.time(b, o, info.ctimeMs);
    b[o++] = COMMA;
    if (info.birthtimeMs > 0) o = this.time(b, o, info.birthtimeMs);
    b[o++] = COMMA;
    if (link !== "") o = text(b, o, link);
    b[o++] = 0x0d;
    b[o++] = 0x0a;
    return chunks.advance(o);
  }

  /** The uid and owner cells and the comma after them. */
  private ownerCellBytes(uid: number): Buffer {
    let cells = this.ownerBytes.get(uid);
    if (cells === undefined) {
      cells = Buffer.from(`${this.ownerCells(uid)},`, "utf8");
      this.ownerBytes.set(uid, cells);
    }
    return cells;
  }

  /** Date's toISOString of the rounded time; the text of each second is made once. */
  private time(b: Buffer, o: number, ms: number): number {
    const t = Math.round(ms);
    if (!(t >= 0 && t < FAST_UNTIL)) return o + b.write(new Date(t).toISOString(), o, "latin1");
    // Math.floor and a mask, not %: on times past 2^31 ms the remainder is a floating-point fmod call.
    const second = Math.floor(t / 1000);
    const millis = t - second * 1000;
    const slot = second & (SECOND_SLOTS - 1);
    let head = this.secondBytes[slot];
    if (head === undefined || this.seconds[slot] !== second) {
      this.seconds[slot] = second;
      // "YYYY-MM-DDTHH:MM:SS." of that second.
      head = Buffer.from(new Date(second * 1000).toISOString().slice(0, 20), "latin1");
      this.secondBytes[slot] = head;
    }
    o = copy(b, o, head);
    const tens = Math.floor(millis / 10);
    b[o++] = ZERO + Math.floor(tens / 10);
    b[o++] = ZERO + tens - Math.floor(tens / 10) * 10;
    b[o++] = ZERO + millis - tens * 10;
    b[o++] = 0x5a; // Z
    return o;
  }
}

function copy(b: Buffer, o: number, bytes: Buffer): number {
  if (bytes.length > 64) return o + bytes.copy(b, o);
  for (let i = 0; i < bytes.length; i++) b[o + i] = bytes[i] as number;
  return o + bytes.length;
}

/** A string as UTF-8: ASCII byte by byte, anything else through Buffer's encoder. */
function text(b: Buffer, o: number, value: string): number {
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit >= 0x80) return o + b.write(value, o, "utf8");
    b[o + i] = unit;
  }
  return o + value.length;
}

/** A number as `${n}` gives it: digit by digit for the integers stat gives, else the string itself. */
function number(b: Buffer, o: number, n: number): number {
  if (!(Number.isSafeInteger(n) && n >= 0)) return o + b.write(String(n), o, "latin1");
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  let x = n;
  for (let i = o + digits - 1; i >= o; i--) {
    const rest = Math.floor(x / 10);
    b[i] = ZERO + (x - rest * 10);
    x = rest;
  }
  return o + digits;
}
