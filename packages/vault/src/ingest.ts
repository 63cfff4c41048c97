import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename } from "node:path";
import { scopeIdSchema } from "@custody/access";
import { hasZipMagic, verifyPackage } from "@custody/archive";
import type { Acquisition, ItemRecord } from "@custody/audit";
import { CustodyError, isCustodyError, toCustodyError } from "@custody/core";
import { hashFile } from "@custody/hash";
import { serializeManifest } from "@custody/manifest";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import { TOOL, type VaultContext } from "./context.js";
import { PKI_FILES, readPkiFile } from "./pki.js";

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
  abortSignal?: AbortSignal;
}

/** Everything known about a file before it is stored: its digests and, for a package, its verification. */
export async function examineForIngest(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  file: string,
  options: IngestOptions,
): Promise<ItemRecord> {
  if (!scopeIdSchema.safeParse(options.caseId).success) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `'${options.caseId}' is not a case id (letters, digits, '.', '_', '@', '-'; at most 128)`,
    );
  }
  const size = await fileSize(file);
  const kind = options.kind === "file" ? "file" : (await hasZipMagic(file)) ? "package" : "file";
  if (options.kind === "package" && kind !== "package") {
    throw new CustodyError("ERR_PACKAGE_INVALID", `${file} is not a ZIP investigation package`);
  }
  // The whole-file digest and the package verification read the same bytes; run them side by side.
  const [digest, pkg] = await Promise.all([
    hashFile(file, { algorithms: ["sha256", "sha1", "md5"], abortSignal: options.abortSignal }),
    kind === "package" ? examinePackage(ctx, file, options.abortSignal) : Promise.resolve(undefined),
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
    digests: { sha256, sha1: digest.digests.sha1, md5: digest.digests.md5 },
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
  abortSignal: AbortSignal | undefined,
): Promise<ItemRecord["package"]> {
  const crl = await readPkiFile(ctx.dir, PKI_FILES.crl);
  // Only a collector signs packages from the field: not the vault signer, not a person.
  const trust = {
    trustAnchors: [ctx.pki.caCertificatePem],
    crls: [crl],
    clock: ctx.clock,
    requiredRole: "collector" as const,
  };
  const report = await verifyPackage(file, {
    trust,
    ...(abortSignal === undefined ? {} : { abortSignal }),
  }).catch((error: unknown) => {
    // A hostile archive is refused by the reader: that is a verification result, recorded like the others.
    if (!isCustodyError(error)) throw error;
    return {
      ok: false,
      problems: [{ code: error.code, message: error.message }],
      manifest: undefined,
      signature: undefined,
    };
  });
  const problems = report.problems
    .slice(0, 10)
    .map((p: { code: string; message: string; path?: string }) => ({
      code: p.code,
      message: p.message.slice(0, 300),
      ...(p.path === undefined ? {} : { path: p.path }),
    }));
  const manifest = report.manifest;
  return {
    verified: report.ok,
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
  if (pkg === undefined || pkg.verified || options.allowUnverified === true) return;
  const first = pkg.problems[0];
  throw new CustodyError(
    "ERR_PACKAGE_INVALID",
    `${record.name} failed verification (${pkg.problems.length} problem(s), first: ${first?.code} ${first?.path ?? ""} ${first?.message ?? ""}); ` +
      "ingest it with --unverified to keep it anyway, recorded as unverified",
    { details: { problems: pkg.problems } },
  );
}
