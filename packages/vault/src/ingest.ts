import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { scopeIdSchema } from "@custody/access";
import type { Acquisition, ItemRecord } from "@custody/audit";
import { CustodyError, toCustodyError } from "@custody/core";
import { hashFile } from "@custody/hash";
import type { EarlyCopy } from "@custody/store";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import { TOOL, type VaultContext } from "./context.js";
import { type IngestHash, pickDigests, resolveIngestHashes } from "./ingest-hashes.js";
import { examinePackage, itemKind } from "./package-examination.js";
import type { StagedBody } from "./stage-body.js";
import { examineStagedCopy } from "./staged-examination.js";

export interface IngestOptions {
  caseId: string;
  labels?: Record<string, string>;
  /** Days from now during which the item cannot be deleted; the vault default when absent. */
  retainDays?: number;
  legalHold?: boolean;
  /** `auto` (default) treats a ZIP holding a custody manifest as a package. */
  kind?: "auto" | "package" | "file";
  /** Store a package whose verification failed; the failure is recorded in the item and the audit log. */
  allowUnverified?: boolean;
  /** How the bytes were acquired (`collect` when this vault's collector made them). */
  how?: Acquisition["how"];
  /** Where the bytes came from, recorded in the acquisition (the file path by default; a server says the client). */
  source?: string;
  /**
   * The package must be signed by this device's own collector certificate (device-collector role,
   * CN the device id) and name the device, instead of by the vault's collector; never stored unverified.
   */
  signedByDevice?: string;
  /**
   * Digests to compute beside sha256 (the item's id, always computed), e.g. `["sha1", "md5"]`; none by
   * default. `sha256` in the list is accepted and changes nothing; any other name is ERR_UNSUPPORTED_ALGORITHM.
   */
  hashes?: readonly IngestHash[];
  abortSignal?: AbortSignal;
  /**
   * A copy of the file begun before the vault was opened (`startIngestEarlyCopy`): an fs store takes it
   * instead of copying the file again when it may; the ingest discards it in any case once done.
   */
  earlyCopy?: EarlyCopy;
}

/** Everything known about a file before it is stored: its digests and, for a package, its verification. */
export async function examineForIngest(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  file: string,
  options: IngestOptions,
): Promise<ItemRecord> {
  assertCaseId(options.caseId);
  const extra = resolveIngestHashes(options.hashes);
  const size = await fileSize(file);
  const kind = await itemKind(file, options.kind, file);
  // The whole-file digest and the package verification read the same bytes; run them side by side.
  const [digest, pkg] = await Promise.all([
    hashFile(file, { algorithms: ["sha256", ...extra], abortSignal: options.abortSignal }),
    kind === "package" ? examinePackage(ctx, file, options) : Promise.resolve(undefined),
  ]);
  if (digest.size !== size)
    throw new CustodyError("ERR_INTEGRITY_MISMATCH", `${file} changed while it was read`);
  const sha256 = digest.digests.sha256 ?? "";
  return {
    format: "custody.item/v1",
    id: sha256,
    kind,
    caseId: options.caseId,
    name: basename(file),
    labels: options.labels ?? {},
    size,
    digests: { sha256, ...pickDigests(digest.digests, extra) },
    ...(pkg === undefined ? {} : { package: pkg }),
    acquisition: {
      by: principal.id,
      byFingerprintSha256: principal.fingerprintSha256,
      at: ctx.clock.now().toISOString(),
      how: options.how ?? "ingest",
      where: ctx.hostname,
      tool: TOOL,
      source: options.source ?? file,
    },
  };
}

async function fileSize(file: string): Promise<number> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new CustodyError("ERR_INVALID_ARGUMENT", `${file} is not a regular file`);
    return info.size;
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot ingest ${file}`);
  }
}

export function openForStore(file: string) {
  return createReadStream(file, { highWaterMark: 1024 * 1024 });
}

/** A package that failed verification is stored only when the caller asked for it explicitly. */
export function assertIngestable(record: ItemRecord, options: IngestOptions): void {
  const pkg = record.package;
  if (options.signedByDevice !== undefined && pkg === undefined) {
    throw new CustodyError("ERR_PACKAGE_INVALID", `${record.name} is not an investigation package`);
  }
  const unverifiedAllowed = options.allowUnverified === true && options.signedByDevice === undefined;
  if (pkg === undefined || pkg.verified || unverifiedAllowed) return;
  const first = pkg.problems[0];
  const hint =
    options.signedByDevice === undefined
      ? "; ingest it with --unverified to keep it anyway, recorded as unverified"
      : `: a package from ${options.signedByDevice} is stored verified or not at all`;
  throw new CustodyError(
    "ERR_PACKAGE_INVALID",
    `${record.name} failed verification (${pkg.problems.length} problem(s), first: ${first?.code} ${first?.path ?? ""} ${first?.message ?? ""})${hint}`,
    { details: { problems: pkg.problems } },
  );
}

/** What a one-pass ingest needs beside `IngestOptions`: the item's name, and what the body must be. */
export interface BodyIngestOptions extends IngestOptions {
  /** The item's name (a file's base name). */
  name: string;
  /** Lower-case hex: a body that hashes otherwise is refused, nothing stored. */
  expectedSha256?: string;
  /** A body of another size is refused, nothing stored (a file that changed while it was read). */
  expectedSize?: number;
}

/** The item record of a staged body: its digests, and for a package its verification, read from the staged copy. */
export async function examineStaged(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  staged: StagedBody,
  options: BodyIngestOptions,
): Promise<ItemRecord> {
  if (options.expectedSize !== undefined && staged.size !== options.expectedSize) {
    throw new CustodyError(
      "ERR_INTEGRITY_MISMATCH",
      `${options.source ?? options.name} changed while it was read (${staged.size} bytes, not ${options.expectedSize})`,
    );
  }
  if (options.expectedSha256 !== undefined && staged.sha256 !== options.expectedSha256.toLowerCase()) {
    throw new CustodyError(
      "ERR_INTEGRITY_MISMATCH",
      `the body's SHA-256 is ${staged.sha256}, not the expected ${options.expectedSha256}`,
      { details: { expected: options.expectedSha256, actual: staged.sha256 } },
    );
  }
  const { kind, pkg, digests } = await (staged.examining?.finish() ??
    examineStagedCopy(ctx, staged.stagedPath, { size: staged.size, extra: staged.extra }, options));
  if (digests.size !== staged.size) {
    throw new CustodyError("ERR_INTEGRITY_MISMATCH", "the staged copy changed while it was examined");
  }
  return {
    format: "custody.item/v1",
    id: staged.sha256,
    kind,
    caseId: options.caseId,
    name: options.name,
    labels: options.labels ?? {},
    size: staged.size,
    digests: { sha256: staged.sha256, ...digests.extra },
    ...(pkg === undefined ? {} : { package: pkg }),
    acquisition: {
      by: principal.id,
      byFingerprintSha256: principal.fingerprintSha256,
      at: ctx.clock.now().toISOString(),
      how: options.how ?? "ingest",
      where: ctx.hostname,
      tool: TOOL,
      source: options.source ?? options.name,
    },
  };
}

export function assertCaseId(caseId: string): void {
  if (!scopeIdSchema.safeParse(caseId).success) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `'${caseId}' is not a case id (letters, digits, '.', '_', '@', '-'; at most 128)`,
    );
  }
}

/** A regular file's size, before it is read (a file that changes while it is read is refused). */
export { fileSize as ingestFileSize };
