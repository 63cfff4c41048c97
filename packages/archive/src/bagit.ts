import { CustodyError } from "@custody/core";

// BagIt 1.0 (RFC 8493) tag files: what custody writes, and strict parsers for what it reads back.

export const BAGIT_TXT = "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n";
export const TAG_FILES = {
  bagit: "bagit.txt",
  bagInfo: "bag-info.txt",
  manifest: "manifest-sha256.txt",
  tagManifest: "tagmanifest-sha256.txt",
  custodyManifest: "custody-manifest.json",
  signature: "custody-manifest.json.p7s",
  summary: "CollectionSummary.csv",
} as const;

/** RFC 8493 §2.1.3: CR, LF and '%' (and only those) are percent-encoded in manifest paths. */
export function encodeManifestPath(path: string): string {
  return path.replace(/[%\r\n]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`);
}

export function decodeManifestPath(path: string): string {
  return path.replace(/%(25|0D|0A)/gi, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

export interface ManifestLine {
  path: string;
  sha256: string;
}

/** Lines "<sha256>  <path>" (two spaces, as sha256sum writes them), sorted by path. */
export function formatManifest(lines: readonly ManifestLine[]): string {
  const sorted = [...lines].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return sorted.map((line) => `${line.sha256}  ${encodeManifestPath(line.path)}\n`).join("");
}

const MANIFEST_LINE = /^([0-9a-fA-F]{64})[ \t]+\*?(.+)$/;

/** Parses a payload or tag manifest; a malformed line or a path listed twice is ERR_BAGIT_INVALID. */
export function parseManifest(text: string, file: string): Map<string, string> {
  const entries = new Map<string, string>();
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  for (const [index, raw] of lines.entries()) {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    const match = MANIFEST_LINE.exec(line);
    if (match === null) throw bagError(`${file} line ${index + 1} is not "<sha256> <path>"`, file);
    const path = decodeManifestPath(match[2] as string);
    if (entries.has(path)) throw bagError(`${file} lists ${JSON.stringify(path)} twice`, file);
    entries.set(path, (match[1] as string).toLowerCase());
  }
  return entries;
}

export type BagInfoField = readonly [label: string, value: string];

export function formatBagInfo(fields: readonly BagInfoField[]): string {
  return fields
    .map(([label, value]) => {
      if (!/^[A-Za-z][A-Za-z0-9-]*$/.test(label))
        throw new CustodyError("ERR_INVALID_ARGUMENT", `bad bag-info label ${label}`);
      // A line break in a value would start a new (forged) field, so it becomes a space.
      return `${label}: ${value.replace(/[\r\n]+/g, " ")}\n`;
    })
    .join("");
}

/** Parses bag-info.txt (labels may repeat; indented lines continue the previous value). */
export function parseBagInfo(text: string): BagInfoField[] {
  const fields: [string, string][] = [];
  for (const raw of text.split(/\r?\n/)) {
    if (raw === "") continue;
    const last = fields.at(-1);
    if (/^[ \t]/.test(raw) && last !== undefined) {
      last[1] = `${last[1]} ${raw.trim()}`;
      continue;
    }
    const colon = raw.indexOf(":");
    if (colon <= 0)
      throw bagError(`bag-info.txt line is not "Label: value": ${JSON.stringify(raw)}`, TAG_FILES.bagInfo);
    fields.push([raw.slice(0, colon).trim(), raw.slice(colon + 1).trim()]);
  }
  return fields;
}

export function bagInfoValue(fields: readonly BagInfoField[], label: string): string | undefined {
  const wanted = label.toLowerCase();
  return fields.find(([name]) => name.toLowerCase() === wanted)?.[1];
}

/** Payload-Oxum: "<octet count>.<stream count>" of the payload (everything under data/). */
export function payloadOxum(bytes: number, files: number): string {
  return `${bytes}.${files}`;
}

/** bagit.txt must declare version 1.0 (or 0.97, which has the same layout) in UTF-8. */
export function checkBagitTxt(text: string): void {
  const fields = parseBagInfo(text);
  const version = bagInfoValue(fields, "BagIt-Version");
  const encoding = bagInfoValue(fields, "Tag-File-Character-Encoding");
  if (version !== "1.0" && version !== "0.97") {
    throw bagError(`bagit.txt declares BagIt-Version ${String(version)}; 1.0 is supported`, TAG_FILES.bagit);
  }
  if (encoding?.toUpperCase() !== "UTF-8") {
    throw bagError(`bagit.txt declares encoding ${String(encoding)}; UTF-8 is supported`, TAG_FILES.bagit);
  }
}

function bagError(message: string, path: string): CustodyError {
  return new CustodyError("ERR_BAGIT_INVALID", message, { details: { path } });
}
