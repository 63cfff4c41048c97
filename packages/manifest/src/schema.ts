import {
  byteSizeSchema,
  isoTimestampSchema,
  md5HexSchema,
  safeRelativePathSchema,
  sha1HexSchema,
  sha256HexSchema,
  sha512HexSchema,
} from "@custody/core";
import { z } from "zod";

/** The only format version this reader understands; anything else is ERR_UNSUPPORTED_VERSION. */
export const MANIFEST_VERSION = "custody.manifest/v1";

const text = (max: number) => z.string().min(1).max(max);

/** One file of the package: where it is, what it hashes to, and where and when it came from. */
export const manifestItemSchema = z.strictObject({
  path: safeRelativePathSchema.describe(
    "relative to the package root with '/' separators; no leading '/', drive letter, empty, '.' or '..' segment, backslash, NUL or control character",
  ),
  size: byteSizeSchema,
  sha256: sha256HexSchema,
  sha1: sha1HexSchema.optional(),
  md5: md5HexSchema.optional(),
  sha512: sha512HexSchema.optional(),
  collectedAt: isoTimestampSchema,
  dataPoint: text(256).optional().describe("the investigation-package data point, e.g. Processes"),
  source: text(4096).optional().describe("the command, registry key or file the bytes came from"),
});

/** Who and what collected the evidence. */
export const manifestCollectorSchema = z.strictObject({
  operator: text(256),
  tool: text(256),
  toolVersion: text(128),
  host: text(256),
});

/** The device the evidence came from. */
export const manifestDeviceSchema = z.strictObject({
  id: text(256),
  hostname: text(256).optional(),
  os: text(256).optional(),
  osVersion: text(256).optional(),
  architecture: text(64).optional(),
});

export const manifestCaseSchema = z.strictObject({
  id: text(256),
  title: text(1024).optional(),
});

/** custody.manifest/v1: serialized as RFC 8785 canonical JSON, the exact bytes that are signed. */
export const custodyManifestSchema = z.strictObject({
  version: z.literal(MANIFEST_VERSION),
  name: text(255),
  createdAt: isoTimestampSchema,
  case: manifestCaseSchema.optional(),
  device: manifestDeviceSchema,
  collector: manifestCollectorSchema,
  /** Sorted by path (UTF-16 code units), no two paths equal after NFC and case folding. */
  items: z.array(manifestItemSchema),
  /** RFC 9162 Merkle root over sha256(0x00 || item sha256 bytes), in item order. */
  merkleRoot: sha256HexSchema,
});

export type CustodyManifest = z.infer<typeof custodyManifestSchema>;
export type ManifestItem = z.infer<typeof manifestItemSchema>;
export type ManifestCollector = z.infer<typeof manifestCollectorSchema>;
export type ManifestDevice = z.infer<typeof manifestDeviceSchema>;
export type ManifestCase = z.infer<typeof manifestCaseSchema>;

/** The JSON Schema (draft 2020-12) of custody.manifest/v1, for tools outside TypeScript. */
export function custodyManifestJsonSchema(): Record<string, unknown> {
  return {
    $id: "https://custody.invalid/schemas/custody-manifest-v1.json",
    title: MANIFEST_VERSION,
    description:
      "custody.manifest/v1: serialized as RFC 8785 canonical JSON; items sorted by path (UTF-16 code units), " +
      "no two paths equal after Unicode NFC and case folding, merkleRoot = RFC 9162 root over sha256(0x00 || item sha256).",
    ...z.toJSONSchema(custodyManifestSchema, { target: "draft-2020-12", unrepresentable: "any" }),
  };
}
