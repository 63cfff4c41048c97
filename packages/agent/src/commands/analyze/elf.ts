import { type ByteSource, bufferEntropy } from "./source.js";

/** Section headers read at most; a file that claims more is described as anomalous. */
export const MAX_SECTIONS = 4096;
/** Sections listed in the result (the count says how many there are). */
const LISTED_SECTIONS = 64;
/** Bytes of one section read for its entropy. */
const ENTROPY_BYTES = 1024 * 1024;

const MACHINES: Record<number, string> = {
  3: "x86",
  8: "mips",
  20: "powerpc",
  21: "powerpc64",
  40: "arm",
  62: "x86-64",
  183: "aarch64",
  243: "riscv",
};
const TYPES: Record<number, string> = { 1: "relocatable", 2: "executable", 3: "shared", 4: "core" };

export interface SectionFacts {
  name: string;
  offset: number;
  size: number;
  /** r/w/x as the header states them. */
  flags: string;
  entropy?: number;
}

export interface HeaderFacts {
  format: "elf" | "pe";
  bits?: number;
  machine?: string;
  kind?: string;
  entry?: string;
  sectionCount?: number;
  sections: SectionFacts[];
  /** What looks wrong or packed, each a short reason. */
  anomalies: string[];
  [key: string]: unknown;
}

class Reader {
  constructor(
    private readonly bytes: Buffer,
    private readonly little: boolean,
  ) {}
  has(offset: number, length: number): boolean {
    return offset >= 0 && offset + length <= this.bytes.length;
  }
  u16(o: number): number {
    return this.little ? this.bytes.readUInt16LE(o) : this.bytes.readUInt16BE(o);
  }
  u32(o: number): number {
    return this.little ? this.bytes.readUInt32LE(o) : this.bytes.readUInt32BE(o);
  }
  /** 64-bit fields as numbers: beyond 2^53 they are implausible anyway, and say so. */
  u64(o: number): number {
    const v = this.little ? this.bytes.readBigUInt64LE(o) : this.bytes.readBigUInt64BE(o);
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
  }
}

function cString(bytes: Buffer, offset: number): string {
  if (offset < 0 || offset >= bytes.length) return "";
  const end = bytes.indexOf(0, offset);
  return bytes
    .subarray(offset, end < 0 ? Math.min(bytes.length, offset + 64) : Math.min(end, offset + 64))
    .toString("latin1")
    .replace(/[^ -~]/g, "?");
}

/** ELF header facts from a file that starts with \x7fELF; every offset is checked against the file. */
export async function parseElf(source: ByteSource): Promise<HeaderFacts> {
  const facts: HeaderFacts = { format: "elf", sections: [], anomalies: [] };
  const head = await source.read(0, 64);
  const cls = head[4];
  const data = head[5];
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2)) {
    facts.anomalies.push("invalid ELF class or byte order");
    return facts;
  }
  const is64 = cls === 2;
  facts.bits = is64 ? 64 : 32;
  facts.endian = data === 1 ? "little" : "big";
  const r = new Reader(head, data === 1);
  const headerSize = is64 ? 64 : 52;
  if (!r.has(0, headerSize)) {
    facts.anomalies.push(`truncated ELF header (${head.length} of ${headerSize} bytes)`);
    return facts;
  }
  const type = r.u16(16);
  facts.kind = TYPES[type] ?? `type ${type}`;
  const machine = r.u16(18);
  facts.machine = MACHINES[machine] ?? `machine ${machine}`;
  const entry = is64 ? r.u64(24) : r.u32(24);
  facts.entry = `0x${entry.toString(16)}`;
  const shoff = is64 ? r.u64(40) : r.u32(32);
  const shentsize = r.u16(is64 ? 58 : 46);
  const shnum = r.u16(is64 ? 60 : 48);
  const shstrndx = r.u16(is64 ? 62 : 50);
  facts.programHeaders = r.u16(is64 ? 56 : 44);
  facts.sectionCount = shnum;
  if (shnum === 0) {
    if (type === 2 || type === 3) facts.anomalies.push("no section headers (stripped hard or packed)");
  } else
    await readSections(source, facts, { is64, little: data === 1, shoff, shentsize, shnum, shstrndx, entry });
  await upxMarks(source, facts);
  return facts;
}

interface Table {
  is64: boolean;
  little: boolean;
  shoff: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
  entry: number;
}

async function readSections(source: ByteSource, facts: HeaderFacts, t: Table): Promise<void> {
  const want = t.is64 ? 64 : 40;
  if (t.shentsize < want) {
    facts.anomalies.push(`section header size ${t.shentsize} is below ${want}`);
    return;
  }
  if (t.shnum > MAX_SECTIONS)
    facts.anomalies.push(`claims ${t.shnum} sections; the first ${MAX_SECTIONS} read`);
  const count = Math.min(t.shnum, MAX_SECTIONS);
  if (t.shoff >= source.size || t.shoff + count * t.shentsize > source.size) {
    facts.anomalies.push("section table runs past the end of the file (truncated or forged)");
    return;
  }
  const table = await source.read(t.shoff, count * t.shentsize);
  if (table.length < count * t.shentsize) {
    facts.anomalies.push("section table too large to read");
    return;
  }
  const r = new Reader(table, t.little);
  const raw = [];
  for (let i = 0; i < count; i++) {
    const at = i * t.shentsize;
    const flags = t.is64 ? r.u64(at + 8) : r.u32(at + 8);
    raw.push({
      nameOffset: r.u32(at),
      type: r.u32(at + 4),
      flags,
      addr: t.is64 ? r.u64(at + 16) : r.u32(at + 12),
      offset: t.is64 ? r.u64(at + 24) : r.u32(at + 16),
      size: t.is64 ? r.u64(at + 32) : r.u32(at + 20),
    });
  }
  const strtab = raw[t.shstrndx];
  const names =
    strtab !== undefined && strtab.offset < source.size
      ? await source.read(strtab.offset, Math.min(strtab.size, 65536))
      : Buffer.alloc(0);
  let entryFound = false;
  for (const [i, s] of raw.entries()) {
    const name = cString(names, s.nameOffset) || `#${i}`;
    const write = (s.flags & 1) !== 0;
    const exec = (s.flags & 4) !== 0;
    if (exec && t.entry >= s.addr && t.entry < s.addr + s.size) entryFound = true;
    if (write && exec) facts.anomalies.push(`section ${name} is writable and executable`);
    const nobits = s.type === 8;
    const section: SectionFacts = {
      name,
      offset: s.offset,
      size: s.size,
      flags: `${(s.flags & 2) !== 0 ? "r" : "-"}${write ? "w" : "-"}${exec ? "x" : "-"}`,
    };
    if (!nobits && s.size > 0 && s.offset + s.size > source.size)
      facts.anomalies.push(`section ${name} runs past the end of the file`);
    else if (!nobits && s.size >= 512 && (exec || write) && i < LISTED_SECTIONS) {
      section.entropy = bufferEntropy(await source.read(s.offset, Math.min(s.size, ENTROPY_BYTES)));
      if (section.entropy > 7.2)
        facts.anomalies.push(`section ${name} has entropy ${section.entropy} (packed or encrypted)`);
    }
    if (i < LISTED_SECTIONS) facts.sections.push(section);
  }
  if (facts.kind === "executable" || facts.kind === "shared") {
    if (!entryFound && t.entry !== 0) facts.anomalies.push("entry point outside every executable section");
  }
}

async function upxMarks(source: ByteSource, facts: HeaderFacts): Promise<void> {
  const head = await source.read(0, 4096);
  const names = facts.sections.map((s) => s.name);
  if (head.includes("UPX!") || names.some((n) => /^UPX[0-9]$/.test(n) || n === ".upx"))
    facts.anomalies.push("UPX packer marks");
}
