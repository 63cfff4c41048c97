import {
  assertSafeRelativePath,
  type Clock,
  CustodyError,
  canonicalJsonBytes,
  systemClock,
} from "@custody/core";
import type { z } from "zod";
import { comparePaths, computeMerkleRoot, PathRegistry } from "./paths.js";
import {
  type CustodyManifest,
  custodyManifestSchema,
  MANIFEST_VERSION,
  type ManifestCase,
  type ManifestCollector,
  type ManifestDevice,
  type ManifestItem,
  manifestItemSchema,
} from "./schema.js";

export interface ManifestBuilderOptions {
  name: string;
  device: ManifestDevice;
  collector: ManifestCollector;
  case?: ManifestCase;
  /** When the manifest is created; the clock's time at build() by default. */
  createdAt?: Date;
  clock?: Clock;
}

/** An item as callers hand it in: timestamps may be Dates, digests come straight from @custody/hash. */
export type ManifestItemInput = Omit<ManifestItem, "collectedAt"> & { collectedAt?: Date | string };

/**
 * Collects item records as files stream past (it never sees their contents) and refuses a bad item the
 * moment it is added, so a writer can stop before writing more. build() sorts and computes the Merkle root.
 */
export class ManifestBuilder {
  private readonly items: ManifestItem[] = [];
  private readonly paths = new PathRegistry();
  private readonly clock: Clock;

  constructor(private readonly options: ManifestBuilderOptions) {
    this.clock = options.clock ?? systemClock;
  }

  get count(): number {
    return this.items.length;
  }

  /** Validates and records one item; ERR_UNSAFE_PATH, ERR_DUPLICATE_PATH or ERR_MANIFEST_INVALID. */
  addItem(input: ManifestItemInput): ManifestItem {
    const candidate = {
      ...input,
      collectedAt: toIso(input.collectedAt ?? this.clock.now()),
    };
    // the path is judged first so an unsafe one gets ERR_UNSAFE_PATH, and registered last so a refused item changes nothing
    if (typeof candidate.path !== "string")
      throw new CustodyError("ERR_MANIFEST_INVALID", "item path must be a string");
    assertSafeRelativePath(candidate.path, "item path");
    const item = checkSchema(manifestItemSchema, candidate, `item ${JSON.stringify(candidate.path)}`);
    this.paths.add(item.path);
    this.items.push(item);
    return item;
  }

  /** The finished manifest; the builder can go on taking items and build again. */
  build(): CustodyManifest {
    const items = [...this.items].sort((a, b) => comparePaths(a.path, b.path));
    const manifest = {
      version: MANIFEST_VERSION,
      name: this.options.name,
      createdAt: toIso(this.options.createdAt ?? this.clock.now()),
      ...(this.options.case === undefined ? {} : { case: this.options.case }),
      device: this.options.device,
      collector: this.options.collector,
      items,
      merkleRoot: computeMerkleRoot(items),
    };
    return checkSchema(custodyManifestSchema, manifest, "manifest");
  }
}

/** RFC 8785 canonical JSON: the exact bytes to sign, hash and store. */
export function serializeManifest(manifest: CustodyManifest): Buffer {
  return canonicalJsonBytes(manifest);
}

function toIso(value: Date | string): string {
  const date = typeof value === "string" ? new Date(value) : value;
  if (Number.isNaN(date.getTime())) {
    throw new CustodyError("ERR_MANIFEST_INVALID", `invalid timestamp ${JSON.stringify(String(value))}`);
  }
  return date.toISOString();
}

export function checkSchema<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue?.path.join(".") ?? "";
  throw new CustodyError("ERR_MANIFEST_INVALID", `${what}: ${where ? `${where}: ` : ""}${issue?.message}`, {
    cause: result.error,
    details: { path: where, issues: result.error.issues.length },
  });
}
