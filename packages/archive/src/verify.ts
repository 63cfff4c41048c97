import { createHash } from "node:crypto";
import { type Clock, CustodyError, type ErrorCode, isCustodyError, throwIfAborted } from "@custody/core";
import {
  type CustodyManifest,
  parseManifest,
  type SignatureInfo,
  type TrustOptions,
  verifyDetached,
} from "@custody/manifest";
import { TAG_FILES } from "./bagit.js";
import { checkListings, isRefusal, readTagFiles, type TagContents } from "./package-checks.js";
import {
  openPackageReader,
  type PackageEntry,
  type PackageReader,
  type PackageReaderLimits,
} from "./package-reader.js";

export interface VerifyOptions {
  trust: TrustOptions;
  /** The verification time for certificates; the trust options' clock, else the system's. */
  clock?: Clock;
  limits?: PackageReaderLimits;
  abortSignal?: AbortSignal;
  onProgress?: (progress: VerifyProgress) => void;
}

export interface VerifyProgress {
  files: number;
  bytes: number;
  totalFiles: number;
  totalBytes: number;
}

export interface PackageProblem {
  code: ErrorCode;
  path?: string;
  message: string;
}

export interface PackageReport {
  ok: boolean;
  file: string;
  name: string;
  problems: PackageProblem[];
  manifest?: CustodyManifest;
  signature?: SignatureInfo;
  /** Files in the package (tag files included) and the payload's size. */
  files: number;
  payloadBytes: number;
}

/** What the package's bytes hash to, per bag-relative path. */
export type ActualDigests = Map<string, { size: number; sha256: string }>;

/**
 * Verifies an investigation package without extracting it: a hostile archive is refused (throws a
 * coded error); otherwise every problem found (signature, listings, digests, tag manifest, Payload-Oxum)
 * is reported with its code and path, and `ok` is true only when there is none.
 */
export async function verifyPackage(file: string, options: VerifyOptions): Promise<PackageReport> {
  const reader = await openPackageReader(
    file,
    options.limits === undefined ? {} : { limits: options.limits },
  );
  try {
    return (await verifyOpened(reader, file, options)).report;
  } finally {
    await reader.close();
  }
}

/**
 * An entry already hashed from bytes read elsewhere (see fed-verify.ts): its sha256, or the problem its
 * bytes had (a CRC-32 that differs), reported as a read of the entry would have.
 */
export type HashedEntry = { sha256: string } | { problem: CustodyError };

/** Verifies an opened package; also returns what every file hashed to, for extraction to re-check. */
export async function verifyOpened(
  reader: PackageReader,
  file: string,
  options: VerifyOptions,
  hashed: ReadonlyMap<string, HashedEntry> = new Map(),
): Promise<{ report: PackageReport; actual: ActualDigests }> {
  const problems: PackageProblem[] = [];
  const tags = await readTagFiles(reader, problems);
  const report: PackageReport = {
    ok: false,
    file,
    name: reader.name,
    problems,
    files: reader.entries.length,
    payloadBytes: 0,
  };
  checkSignedManifest(tags, options, report);
  const actual = await hashEntries(reader, tags, options, problems, hashed);
  report.payloadBytes = [...actual]
    .filter(([path]) => path.startsWith("data/"))
    .reduce((sum, [, item]) => sum + item.size, 0);
  checkListings({ reader, tags, actual, manifest: report.manifest, problems });
  report.ok = problems.length === 0;
  return { report, actual };
}

function checkSignedManifest(tags: TagContents, options: VerifyOptions, report: PackageReport): void {
  const manifestBytes = tags.files.get(TAG_FILES.custodyManifest);
  const signature = tags.files.get(TAG_FILES.signature);
  if (manifestBytes === undefined) return;
  const clock = options.clock ?? options.trust.clock;
  const attempt = <T>(path: string, run: () => T): T | undefined => {
    try {
      return run();
    } catch (error) {
      if (!isCustodyError(error)) throw error;
      report.problems.push({ code: error.code, path, message: error.message });
      return undefined;
    }
  };
  const trust = clock === undefined ? options.trust : { ...options.trust, clock };
  if (signature !== undefined)
    report.signature = attempt(TAG_FILES.signature, () => verifyDetached(manifestBytes, signature, trust));
  report.manifest = attempt(TAG_FILES.custodyManifest, () => parseManifest(manifestBytes));
  if (report.manifest !== undefined && report.manifest.name !== report.name) {
    report.problems.push({
      code: "ERR_PACKAGE_INVALID",
      path: TAG_FILES.custodyManifest,
      message: `the manifest names the package ${report.manifest.name}, its folder is ${report.name}`,
    });
  }
}

const CONCURRENCY = 4;
const SMALL_ENTRY = 1024 * 1024;

/** Streams every file once (several at a time) into sha256; tag files already read are hashed from memory. */
async function hashEntries(
  reader: PackageReader,
  tags: TagContents,
  options: VerifyOptions,
  problems: PackageProblem[],
  hashed: ReadonlyMap<string, HashedEntry>,
): Promise<ActualDigests> {
  const actual: ActualDigests = new Map();
  const totalBytes = reader.entries.reduce((sum, entry) => sum + entry.size, 0);
  const progress = { files: 0, bytes: 0, totalFiles: reader.entries.length, totalBytes };
  const queue = [...reader.entries];
  const worker = async () => {
    for (let entry = queue.shift(); entry !== undefined; entry = queue.shift()) {
      throwIfAborted(options.abortSignal);
      const held = tags.files.get(entry.path);
      const known = hashed.get(entry.path);
      const digest =
        held !== undefined
          ? createHash("sha256").update(held).digest("hex")
          : known !== undefined
            ? hashedDigest(entry, known, problems)
            : await hashEntry(reader, entry, problems);
      if (digest !== undefined) actual.set(entry.path, { size: entry.size, sha256: digest });
      progress.files++;
      progress.bytes += entry.size;
      options.onProgress?.({ ...progress });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return actual;
}

function hashedDigest(
  entry: PackageEntry,
  known: HashedEntry,
  problems: PackageProblem[],
): string | undefined {
  if ("sha256" in known) return known.sha256;
  problems.push({ code: known.problem.code, path: entry.path, message: known.problem.message });
  return undefined;
}

async function hashEntry(
  reader: PackageReader,
  entry: PackageEntry,
  problems: PackageProblem[],
): Promise<string | undefined> {
  const hash = createHash("sha256");
  try {
    // Small entries in one read: thousands of small files would otherwise each build a stream pipeline.
    if (entry.size <= SMALL_ENTRY && entry.compressedSize <= SMALL_ENTRY)
      hash.update(await reader.readSmall(entry));
    // A large stored entry (a memory image, media) through one reused buffer: no garbage to collect.
    else if (!(await reader.scanStored(entry, (chunk) => hash.update(chunk))))
      for await (const chunk of reader.open(entry)) hash.update(chunk as Buffer);
    return hash.digest("hex");
  } catch (error) {
    if (!isCustodyError(error) || isRefusal(error.code)) throw error;
    problems.push({ code: error.code, path: entry.path, message: error.message });
    return undefined;
  }
}

export function problemsError(report: PackageReport): CustodyError {
  const first = report.problems[0];
  return new CustodyError(
    first?.code ?? "ERR_PACKAGE_INVALID",
    `${report.file} failed verification: ${report.problems.length} problem(s); first: ${first?.message}`,
    {
      details: { problems: report.problems },
    },
  );
}
