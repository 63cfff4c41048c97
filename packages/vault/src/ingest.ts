import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { pipeline, type Readable } from "node:stream";
import { scopeIdSchema } from "@custody/access";
import {
  type FedVerification,
  hasZipMagic,
  type PackageReport,
  startPackageVerification,
  type VerifyOptions,
  verifyPackage,
} from "@custody/archive";
import type { Acquisition, ItemRecord } from "@custody/audit";
import { CustodyError, isCustodyError, toCustodyError } from "@custody/core";
import {
  type DigestSet,
  HASH_ALGORITHMS,
  type HashAlgorithm,
  hashFile,
  ThreadedDigestStream,
} from "@custody/hash";
import { serializeManifest } from "@custody/manifest";
import type { EvidenceStore, StagedObserver, StoredObject } from "@custody/store";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import { TOOL, type VaultContext } from "./context.js";
import { deviceSignerProblem } from "./device-collector-ops.js";

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
}

/** What `IngestOptions.hashes` may name. */
export type IngestHash = HashAlgorithm;

/** The digests an ingest computes beside sha256. */
export type ExtraHash = Exclude<HashAlgorithm, "sha256">;

/** At most this many names in a `hashes` list (there are only four algorithms; more is hostile). */
const MAX_HASH_NAMES = 16;

/**
 * The digests to compute beside sha256, from `IngestOptions.hashes` (none when absent), checked before a
 * byte is read: an unknown name, a name in another case or a list that is not one is refused with
 * ERR_UNSUPPORTED_ALGORITHM.
 */
export function resolveIngestHashes(requested: unknown): ExtraHash[] {
  if (requested === undefined) return [];
  if (!Array.isArray(requested) || requested.length > MAX_HASH_NAMES) {
    throw new CustodyError(
      "ERR_UNSUPPORTED_ALGORITHM",
      `the digests to compute are a list of at most ${MAX_HASH_NAMES} names among ${HASH_ALGORITHMS.join(", ")}`,
      { details: { supported: [...HASH_ALGORITHMS] } },
    );
  }
  const extra: ExtraHash[] = [];
  for (const name of requested) {
    if (typeof name !== "string" || !(HASH_ALGORITHMS as readonly string[]).includes(name)) {
      const shown = typeof name === "string" ? JSON.stringify(name.slice(0, 32)) : typeof name;
      throw new CustodyError(
        "ERR_UNSUPPORTED_ALGORITHM",
        `unsupported digest ${shown} (supported: ${HASH_ALGORITHMS.join(", ")}; sha256 is always computed)`,
        {
          details: {
            algorithm: typeof name === "string" ? name.slice(0, 32) : typeof name,
            supported: [...HASH_ALGORITHMS],
          },
        },
      );
    }
    if (name !== "sha256" && !extra.includes(name as ExtraHash)) extra.push(name as ExtraHash);
  }
  return extra;
}

/** Only the requested digests of a result, as the item records them. */
function pickDigests(
  digests: DigestSet,
  algorithms: readonly ExtraHash[],
): Partial<Record<ExtraHash, string>> {
  const picked: Partial<Record<ExtraHash, string>> = {};
  for (const algorithm of algorithms) {
    const value = digests[algorithm];
    if (value === undefined) throw new CustodyError("ERR_INTERNAL", `no ${algorithm} digest was computed`);
    picked[algorithm] = value;
  }
  return picked;
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
  const kind = options.kind === "file" ? "file" : (await hasZipMagic(file)) ? "package" : "file";
  if (options.kind === "package" && kind !== "package") {
    throw new CustodyError("ERR_PACKAGE_INVALID", `${file} is not a ZIP investigation package`);
  }
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

async function examinePackage(
  ctx: VaultContext,
  file: string,
  options: Pick<IngestOptions, "abortSignal" | "signedByDevice">,
): Promise<ItemRecord["package"]> {
  const report = await verifyPackage(file, await packageVerifyOptions(ctx, options)).catch(refusedReport);
  return packageRecord(report, options.signedByDevice);
}

/** Who may have signed a package (see `examinePackage`), and the abort signal. */
async function packageVerifyOptions(
  ctx: VaultContext,
  options: Pick<IngestOptions, "abortSignal" | "signedByDevice">,
): Promise<VerifyOptions> {
  const { abortSignal, signedByDevice } = options;
  const crl = await ctx.revocations.read();
  // Only a collector signs packages from the field: not the vault signer, not a person; a device's
  // package only that device's own collector certificate.
  const trust = {
    trustAnchors: [ctx.pki.caCertificatePem],
    crls: [crl],
    clock: ctx.clock,
    requiredRole: signedByDevice === undefined ? ("collector" as const) : ("device-collector" as const),
  };
  return { trust, ...(abortSignal === undefined ? {} : { abortSignal }) };
}

/** The outcome of a verification that refused the archive outright. */
type RefusedReport = Pick<PackageReport, "ok" | "problems" | "manifest" | "signature">;

// A hostile archive is refused by the reader: that is a verification result, recorded like the others.
function refusedReport(error: unknown): RefusedReport {
  if (!isCustodyError(error)) throw error;
  return {
    ok: false,
    problems: [{ code: error.code, message: error.message }],
    manifest: undefined,
    signature: undefined,
  };
}

/** A verification report as the item records it, with the device binding a device's package needs. */
function packageRecord(report: RefusedReport, signedByDevice: string | undefined): ItemRecord["package"] {
  const bound =
    !report.ok || signedByDevice === undefined
      ? undefined
      : (deviceSignerProblem(report.signature?.certificateChain[0], signedByDevice) ??
        (report.manifest?.device?.id === signedByDevice
          ? undefined
          : `the package names device ${report.manifest?.device?.id ?? "none"}, not ${signedByDevice}`));
  const found: { code: string; message: string; path?: string }[] = [
    ...report.problems,
    ...(bound === undefined ? [] : [{ code: "ERR_CERT_USAGE", message: bound }]),
  ];
  const problems = found.slice(0, 10).map((p: { code: string; message: string; path?: string }) => ({
    code: p.code,
    message: p.message.slice(0, 300),
    ...(p.path === undefined ? {} : { path: p.path }),
  }));
  const manifest = report.manifest;
  return {
    verified: report.ok && bound === undefined,
    problems,
    ...(manifest === undefined ? {} : { manifestSha256: sha256Hex(serializeManifest(manifest)) }),
    ...(manifest?.name === undefined ? {} : { packageName: manifest.name }),
    ...(manifest?.device?.id === undefined ? {} : { deviceId: manifest.device.id }),
    ...(report.signature?.signer.subject === undefined ? {} : { signer: report.signature.signer.subject }),
    ...(manifest === undefined
      ? {}
      : {
          collectedAt: manifest.createdAt,
          collectedBy: `${manifest.collector.operator} on ${manifest.collector.host} with ${manifest.collector.tool} ${manifest.collector.toolVersion}`,
        }),
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

// The manifest is canonical JSON, so re-serializing gives the exact signed bytes.
function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
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

/** The body, written durably but not yet visible: examined, then committed under its address or dropped. */
export interface StagedBody {
  readonly sha256: string;
  readonly size: number;
  /**
   * The digests asked for beside sha256 (`IngestOptions.hashes`), computed on the way in for a stream;
   * for a whole file, from the staged copy by `examineStaged` (undefined here).
   */
  readonly extra: Partial<Record<ExtraHash, string>> | undefined;
  /** The staged copy, readable until `commit` or `discard`. */
  readonly stagedPath: string;
  /** The examination of the staged copy, when it started before the store had hashed it. */
  readonly examining: StagedExaminer | undefined;
  commit(placed: { key: string; metadata: Record<string, string> }): Promise<StoredObject>;
  /** Drops the staged copy (a no-op after `commit`); never throws. */
  discard(reason: unknown): Promise<void>;
}

/** A store that can stage a body in a local file before its key is known (the fs store). */
export function stagesLocally(store: EvidenceStore): boolean {
  return typeof store.createAddressed === "function" && store.capabilities.backend === "fs";
}

/**
 * Reads `body` once: the store hashes it (sha256) and writes it durably into its staging area while
 * worker threads compute the digests asked for beside it (`extraHashes`, none by default) of the same bytes. Resolves when the bytes are durable and
 * before anything is visible; the caller decides (`commit`) or drops them (`discard`).
 */
export async function stageBody(
  ctx: VaultContext,
  body: Readable,
  options: {
    retainUntil: Date | undefined;
    legalHold: boolean;
    abortSignal: AbortSignal | undefined;
    onProgress?: (bytes: number) => void;
    /** A file's size or a content-length: a large body's sha256 runs on a worker. */
    sizeHint?: number;
    /**
     * The body is a whole file (`openForStore`): the store copies it in the kernel, and any extra
     * digests are computed from the staged copy instead of on the way in.
     */
    wholeFile?: boolean;
    /** Digests beside sha256, from `resolveIngestHashes`; none when absent. */
    extraHashes?: readonly ExtraHash[];
    /**
     * Started on the staged copy as soon as its bytes are there, before the store reads it to hash it:
     * its observer is fed that read (a whole file's), so both checks take one read.
     */
    examine?: (stagedPath: string) => Promise<StagedExaminer>;
  },
): Promise<StagedBody> {
  let examining: StagedExaminer | undefined;
  const examine = options.examine;
  const createAddressed = ctx.store.createAddressed?.bind(ctx.store);
  if (createAddressed === undefined) throw new CustodyError("ERR_INTERNAL", "the store cannot stage a body");
  const extraHashes = options.extraHashes ?? [];
  const digests =
    options.wholeFile === true || extraHashes.length === 0
      ? undefined
      : new ThreadedDigestStream({ algorithms: extraHashes });
  const hashed = digests === undefined ? body : pipeline(body, digests, () => {});
  let reached: (written: { sha256: string; size: number; stagedPath?: string }) => void = () => {};
  const written = new Promise<{ sha256: string; size: number; stagedPath?: string }>((resolve) => {
    reached = resolve;
  });
  let decide:
    | {
        resolve: (placed: { key: string; metadata: Record<string, string> }) => void;
        reject: (reason: unknown) => void;
      }
    | undefined;
  const decision = new Promise<{ key: string; metadata: Record<string, string> }>((resolve, reject) => {
    decide = { resolve, reject };
  });
  // A decision nobody waits for any more (the store failed first) must not be an unhandled rejection.
  decision.catch(() => {});
  const storing = createAddressed(hashed, {
    place: (done) => {
      reached(done);
      return decision;
    },
    legalHold: options.legalHold,
    ...(options.retainUntil === undefined ? {} : { retainUntil: options.retainUntil }),
    ...(options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    ...(options.sizeHint === undefined ? {} : { sizeHint: options.sizeHint }),
    ...(examine === undefined
      ? {}
      : {
          observeStaged: async (path: string) => {
            examining = await examine(path);
            return examining.observer;
          },
        }),
  });
  const failedEarly = storing.then(() => {
    throw new CustodyError("ERR_INTERNAL", "the store committed a body nobody placed");
  });
  failedEarly.catch(() => {});
  let done: { sha256: string; size: number; stagedPath?: string };
  try {
    done = await Promise.race([written, failedEarly]);
  } catch (error) {
    // A store that failed before reading it all must not leave the reader and hashing workers running.
    hashed.destroy();
    body.destroy();
    await examining?.close();
    throw error;
  }
  let settled = false;
  const settle = (): boolean => {
    const first = !settled;
    settled = true;
    return first;
  };
  const stagedPath = done.stagedPath;
  if (stagedPath === undefined) {
    decide?.reject(new CustodyError("ERR_INTERNAL", "the store gave no staged copy"));
    await storing.catch(() => {});
    await examining?.close();
    throw new CustodyError("ERR_INTERNAL", "the store gave no staged copy");
  }
  const raw = digests?.result();
  return {
    sha256: done.sha256,
    size: done.size,
    extra: raw === undefined ? undefined : pickDigests(raw.digests, extraHashes),
    stagedPath,
    examining,
    commit: (placed) => {
      if (!settle()) throw new CustodyError("ERR_INTERNAL", "a staged body is committed or dropped once");
      decide?.resolve(placed);
      return storing;
    },
    discard: async (reason) => {
      await examining?.close();
      if (!settle()) return;
      decide?.reject(reason);
      await storing.catch(() => {});
    },
  };
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

/** Digests beside sha256 and the size they were computed over. */
export interface ExtraDigests {
  size: number;
  extra: Partial<Record<ExtraHash, string>> | undefined;
}

/** What the staged copy says: file or package, the package's verification, the extra digests. */
export interface StagedExamination {
  kind: "file" | "package";
  pkg: ItemRecord["package"] | undefined;
  digests: ExtraDigests;
}

/**
 * Examines the staged copy (page-cached, never the source again): the package check beside the extra
 * digests a stream already computed on its way in (`known`) or that are computed here. With no extra
 * digest asked for (the default), the package check is the only read.
 */
export async function examineStagedCopy(
  ctx: VaultContext,
  path: string,
  known: ExtraDigests | undefined,
  options: IngestOptions & { name: string },
): Promise<StagedExamination> {
  const kind = options.kind === "file" ? "file" : (await hasZipMagic(path)) ? "package" : "file";
  if (options.kind === "package" && kind !== "package") {
    throw new CustodyError("ERR_PACKAGE_INVALID", `${options.name} is not a ZIP investigation package`);
  }
  const [pkg, digests] = await Promise.all([
    kind === "package" ? examinePackage(ctx, path, options) : Promise.resolve(undefined),
    stagedDigests(path, known, resolveIngestHashes(options.hashes), options.abortSignal),
  ]);
  return { kind, pkg, digests };
}

/**
 * An examination of a staged copy that the store's own read of it feeds (`observer`): the package's
 * large entries are hashed from the bytes the store hashes, so the copy is read once. `finish`, once
 * that read is over, gives what `examineStagedCopy` would (it reads what was not fed); `close` drops it.
 */
export interface StagedExaminer {
  readonly observer: StagedObserver | undefined;
  finish(): Promise<StagedExamination>;
  close(): Promise<void>;
}

/**
 * Starts examining a staged copy before the store reads it: the package is opened and its structure
 * checked now, its entries hashed as the store's read passes them. Whatever fails here (not a package
 * though one was asked for, a hostile archive) is the examination's result, given by `finish`, as
 * `examineStagedCopy` gives it.
 */
export async function startStagedExamination(
  ctx: VaultContext,
  path: string,
  options: IngestOptions & { name: string },
): Promise<StagedExaminer> {
  let fed: FedVerification | undefined;
  let refused: RefusedReport | undefined;
  let failure: { error: unknown } | undefined;
  let kind: "file" | "package" = "file";
  try {
    kind = options.kind === "file" ? "file" : (await hasZipMagic(path)) ? "package" : "file";
    if (options.kind === "package" && kind !== "package") {
      throw new CustodyError("ERR_PACKAGE_INVALID", `${options.name} is not a ZIP investigation package`);
    }
    if (kind === "package") {
      // A refused archive is the verification's result, recorded as verifyPackage's refusal is.
      fed = await startPackageVerification(path, await packageVerifyOptions(ctx, options)).catch(
        (error: unknown) => {
          refused = refusedReport(error);
          return undefined;
        },
      );
    }
  } catch (error) {
    failure = { error };
  }
  // The extra digests asked for (none by default) read the copy beside the store's read.
  const digests =
    failure === undefined
      ? stagedDigests(path, undefined, resolveIngestHashes(options.hashes), options.abortSignal)
      : undefined;
  digests?.catch(() => {});
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await fed?.close();
    await digests?.catch(() => {});
  };
  return {
    observer: fed === undefined ? undefined : (chunk, position) => fed?.observe(chunk, position),
    close,
    finish: async () => {
      if (failure !== undefined || digests === undefined) throw failure?.error;
      const report = fed === undefined ? refused : await fed.finish();
      const pkg = report === undefined ? undefined : packageRecord(report, options.signedByDevice);
      return { kind, pkg, digests: await digests };
    },
  };
}

async function stagedDigests(
  path: string,
  known: ExtraDigests | undefined,
  extraHashes: readonly ExtraHash[],
  abortSignal: AbortSignal | undefined,
): Promise<ExtraDigests> {
  if (extraHashes.length === 0) {
    // Nothing to hash: the size of the staged copy is what the store wrote.
    return { size: known?.size ?? (await stagedSize(path)), extra: {} };
  }
  if (known?.extra !== undefined) return known;
  const result = await hashFile(path, {
    algorithms: extraHashes,
    ...(abortSignal === undefined ? {} : { abortSignal }),
  });
  return { size: result.size, extra: pickDigests(result.digests, extraHashes) };
}

async function stagedSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", "cannot read the staged copy");
  }
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
