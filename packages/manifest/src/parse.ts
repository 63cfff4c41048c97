import { assertSafeRelativePath, CustodyError, canonicalJson } from "@custody/core";
import { checkSchema } from "./builder.js";
import { comparePaths, computeMerkleRoot, PathRegistry } from "./paths.js";
import { type CustodyManifest, custodyManifestSchema, MANIFEST_VERSION } from "./schema.js";

export interface ParseManifestOptions {
  /** Refuse larger input with ERR_SIZE_LIMIT before parsing; 256 MiB by default. */
  maxBytes?: number;
  /** Refuse bytes that are not exactly the RFC 8785 form (ERR_CANONICAL_JSON); true by default. */
  requireCanonical?: boolean;
}

const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

/**
 * Reads a custody.manifest/v1 and refuses, each with its own code, anything a hostile producer could use:
 * an unknown version, unsafe or colliding paths, malformed sizes or digests, unsorted items, a Merkle root
 * that does not match, duplicate JSON keys or other non-canonical bytes.
 */
export function parseManifest(bytes: Uint8Array, options: ParseManifestOptions = {}): CustodyManifest {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  if (bytes.byteLength > maxBytes) {
    throw new CustodyError(
      "ERR_SIZE_LIMIT",
      `the manifest is ${bytes.byteLength} bytes; the limit is ${maxBytes}`,
      {
        details: { size: bytes.byteLength, limit: maxBytes },
      },
    );
  }
  const text = decodeUtf8(bytes);
  const value = parseJson(text);
  checkVersion(value);
  checkPaths(value);
  const manifest = checkSchema(custodyManifestSchema, value, "manifest");
  checkOrderAndCollisions(manifest);
  checkMerkleRoot(manifest);
  // duplicate keys, whitespace or escapes would make the signed bytes differ from what others re-derive
  if ((options.requireCanonical ?? true) && canonicalJson(value) !== text) {
    throw new CustodyError("ERR_CANONICAL_JSON", "the manifest is not in RFC 8785 canonical form");
  }
  return manifest;
}

function invalid(message: string, details: Record<string, unknown> = {}): CustodyError {
  return new CustodyError("ERR_MANIFEST_INVALID", message, { details });
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (cause) {
    throw new CustodyError("ERR_MANIFEST_INVALID", "the manifest is not valid UTF-8", { cause });
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new CustodyError("ERR_MANIFEST_INVALID", "the manifest is not JSON", { cause });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// the version is judged before the shape: a v2 manifest must say "unsupported version", not "invalid"
function checkVersion(value: unknown): void {
  if (!isRecord(value)) throw invalid("the manifest is not a JSON object");
  const version = value.version;
  if (typeof version !== "string") throw invalid("the manifest has no version string");
  if (version !== MANIFEST_VERSION) {
    throw new CustodyError(
      "ERR_UNSUPPORTED_VERSION",
      `manifest version ${JSON.stringify(version)} is not supported (this reader knows ${MANIFEST_VERSION})`,
      { details: { version } },
    );
  }
}

// unsafe paths get ERR_UNSAFE_PATH rather than a generic schema error
function checkPaths(value: unknown): void {
  const items = isRecord(value) ? value.items : undefined;
  if (!Array.isArray(items)) return;
  items.forEach((item: unknown, index) => {
    const path = isRecord(item) ? item.path : undefined;
    if (typeof path !== "string") throw invalid(`items.${index}.path is not a string`, { index });
    assertSafeRelativePath(path, `items.${index}.path`);
  });
}

// collisions first: a look-alike duplicate is reported as such wherever it sits in the order
function checkOrderAndCollisions(manifest: CustodyManifest): void {
  const registry = new PathRegistry();
  for (const item of manifest.items) registry.add(item.path);
  manifest.items.forEach((item, index) => {
    const previous = manifest.items[index - 1];
    if (previous !== undefined && comparePaths(previous.path, item.path) >= 0) {
      throw invalid(`items are not sorted by path at index ${index}`, { index, path: item.path });
    }
  });
}

function checkMerkleRoot(manifest: CustodyManifest): void {
  const actual = computeMerkleRoot(manifest.items);
  if (actual !== manifest.merkleRoot) {
    throw new CustodyError(
      "ERR_MERKLE_ROOT_MISMATCH",
      "the manifest's Merkle root does not match its items",
      {
        details: { expected: manifest.merkleRoot, actual },
      },
    );
  }
}
