/** A file's type from its first bytes (never its name). */
const SIGNATURES: readonly [string, number[]][] = [
  ["elf", [0x7f, 0x45, 0x4c, 0x46]],
  ["zip", [0x50, 0x4b, 0x03, 0x04]],
  ["gzip", [0x1f, 0x8b]],
  ["bzip2", [0x42, 0x5a, 0x68]],
  ["xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ["zstd", [0x28, 0xb5, 0x2f, 0xfd]],
  ["7z", [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c]],
  ["rar", [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07]],
  ["pdf", [0x25, 0x50, 0x44, 0x46, 0x2d]],
  ["png", [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]],
  ["jpeg", [0xff, 0xd8, 0xff]],
  ["gif", [0x47, 0x49, 0x46, 0x38]],
  ["ole", [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]],
  ["macho", [0xfe, 0xed, 0xfa, 0xce]],
  ["macho", [0xfe, 0xed, 0xfa, 0xcf]],
  ["macho", [0xce, 0xfa, 0xed, 0xfe]],
  ["macho", [0xcf, 0xfa, 0xed, 0xfe]],
  ["macho-fat-or-java-class", [0xca, 0xfe, 0xba, 0xbe]],
  ["pe", [0x4d, 0x5a]],
];

function startsWith(head: Buffer, signature: number[]): boolean {
  return head.length >= signature.length && signature.every((byte, i) => head[i] === byte);
}

/** `elf`, `pe`, `script`, `zip`... or `text`, `empty`, `data`. */
export function magicType(head: Buffer): string {
  if (head.length === 0) return "empty";
  for (const [type, signature] of SIGNATURES) if (startsWith(head, signature)) return type;
  if (head[0] === 0x23 && head[1] === 0x21) return "script";
  const sample = head.subarray(0, 4096);
  const printable = sample.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127) || b >= 128);
  return printable && !sample.includes(0) ? "text" : "data";
}

/** The interpreter a `#!` line names (its first word), cut to 200 characters. */
export function shebang(head: Buffer): string | undefined {
  if (head[0] !== 0x23 || head[1] !== 0x21) return undefined;
  const end = head.indexOf(0x0a);
  const line = head.subarray(2, end < 0 ? Math.min(head.length, 256) : Math.min(end, 256)).toString("latin1");
  return line.trim().slice(0, 200);
}
