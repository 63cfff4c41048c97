import type { HeaderFacts, SectionFacts } from "./elf.js";
import { type ByteSource, bufferEntropy } from "./source.js";

/** The Windows loader refuses more sections than this; a file that claims more is described as anomalous. */
export const MAX_PE_SECTIONS = 96;
const ENTROPY_BYTES = 1024 * 1024;
const MACHINES: Record<number, string> = {
  332: "x86",
  34404: "x86-64",
  448: "arm",
  452: "armnt",
  43620: "arm64",
};
const SUBSYSTEMS: Record<number, string> = { 1: "native", 2: "windows-gui", 3: "windows-console", 10: "efi" };
const PACKER_SECTIONS = /^(UPX[0-9]|\.aspack|\.adata|\.packed|\.MPRESS[0-9]|\.petite|\.themida|\.vmp[0-9])$/i;

function sectionName(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes
    .subarray(0, end < 0 ? 8 : end)
    .toString("latin1")
    .replace(/[^ -~]/g, "?");
}

/** PE header facts from a file that starts with MZ; every offset is checked against the file. */
export async function parsePe(source: ByteSource): Promise<HeaderFacts> {
  const facts: HeaderFacts = { format: "pe", sections: [], anomalies: [] };
  const dos = await source.read(0, 64);
  if (dos.length < 64) {
    facts.anomalies.push(`truncated DOS header (${dos.length} of 64 bytes)`);
    return facts;
  }
  const lfanew = dos.readUInt32LE(0x3c);
  if (lfanew < 64 || lfanew + 24 > source.size) {
    facts.format = "pe";
    facts.anomalies.push(`PE header offset ${lfanew} outside the file (an MZ file with no PE part?)`);
    return facts;
  }
  const nt = await source.read(lfanew, 24 + 240);
  if (nt.length < 24 || nt.readUInt32LE(0) !== 0x00004550) {
    facts.anomalies.push("no PE signature at the header offset");
    return facts;
  }
  const machine = nt.readUInt16LE(4);
  facts.machine = MACHINES[machine] ?? `machine 0x${machine.toString(16)}`;
  const count = nt.readUInt16LE(6);
  facts.sectionCount = count;
  facts.timestamp = new Date(nt.readUInt32LE(8) * 1000).toISOString();
  const optSize = nt.readUInt16LE(20);
  const characteristics = nt.readUInt16LE(22);
  facts.kind =
    (characteristics & 0x2000) !== 0 ? "dll" : (characteristics & 0x0002) !== 0 ? "executable" : "object";
  let entry = -1;
  if (optSize >= 2 && nt.length >= 24 + 2) {
    const magic = nt.readUInt16LE(24);
    facts.bits = magic === 0x20b ? 64 : magic === 0x10b ? 32 : undefined;
    if (facts.bits === undefined)
      facts.anomalies.push(`unknown optional header magic 0x${magic.toString(16)}`);
    if (nt.length >= 24 + 20 && optSize >= 20) {
      entry = nt.readUInt32LE(24 + 16);
      facts.entry = `0x${entry.toString(16)}`;
    }
    if (nt.length >= 24 + 70 && optSize >= 70) {
      const subsystem = nt.readUInt16LE(24 + 68);
      facts.subsystem = SUBSYSTEMS[subsystem] ?? `subsystem ${subsystem}`;
    }
  } else facts.anomalies.push("no optional header");
  if (count > MAX_PE_SECTIONS) {
    facts.anomalies.push(`claims ${count} sections, over the loader's ${MAX_PE_SECTIONS}; none read`);
    return facts;
  }
  const tableAt = lfanew + 24 + optSize;
  if (tableAt + count * 40 > source.size) {
    facts.anomalies.push("section table runs past the end of the file (truncated or forged)");
    return facts;
  }
  const table = await source.read(tableAt, count * 40);
  let entrySection: { name: string; index: number; write: boolean; exec: boolean } | undefined;
  for (let i = 0; i < count; i++) {
    const at = i * 40;
    const name = sectionName(table.subarray(at, at + 8));
    const virtualSize = table.readUInt32LE(at + 8);
    const rva = table.readUInt32LE(at + 12);
    const rawSize = table.readUInt32LE(at + 16);
    const rawOffset = table.readUInt32LE(at + 20);
    const flags = table.readUInt32LE(at + 36);
    const exec = (flags & 0x20000000) !== 0;
    const write = (flags & 0x80000000) !== 0;
    const section: SectionFacts = {
      name,
      offset: rawOffset,
      size: rawSize,
      flags: `${(flags & 0x40000000) !== 0 ? "r" : "-"}${write ? "w" : "-"}${exec ? "x" : "-"}`,
    };
    if (entry >= 0 && entry >= rva && entry < rva + Math.max(virtualSize, rawSize))
      entrySection = { name, index: i, write, exec };
    if (write && exec) facts.anomalies.push(`section ${name} is writable and executable`);
    if (PACKER_SECTIONS.test(name)) facts.anomalies.push(`section name ${name} of a known packer`);
    if (rawSize > 0 && rawOffset + rawSize > source.size)
      facts.anomalies.push(`section ${name} runs past the end of the file`);
    else if (rawSize >= 512) {
      section.entropy = bufferEntropy(await source.read(rawOffset, Math.min(rawSize, ENTROPY_BYTES)));
      if (section.entropy > 7.2)
        facts.anomalies.push(`section ${name} has entropy ${section.entropy} (packed or encrypted)`);
    }
    if (rawSize === 0 && virtualSize > 0 && exec)
      facts.anomalies.push(`executable section ${name} has no bytes in the file (unpacked at run time)`);
    facts.sections.push(section);
  }
  if (entry > 0) {
    if (entrySection === undefined) facts.anomalies.push("entry point outside every section");
    else if (entrySection.write) facts.anomalies.push(`entry point in writable section ${entrySection.name}`);
    else if (!entrySection.exec)
      facts.anomalies.push(`entry point in non-executable section ${entrySection.name}`);
  }
  return facts;
}
