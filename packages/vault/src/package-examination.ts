import { createHash } from "node:crypto";
import { hasZipMagic, type PackageReport, type VerifyOptions, verifyPackage } from "@custody/archive";
import type { ItemRecord } from "@custody/audit";
import { CustodyError, isCustodyError } from "@custody/core";
import { serializeManifest } from "@custody/manifest";
import type { VaultContext } from "./context.js";
import { deviceSignerProblem } from "./device-collector-ops.js";
import type { IngestOptions } from "./ingest.js";

// A package's verification as an item records it: who may have signed it, and what was found.

/**
 * File or package: a ZIP is examined as a package unless `kind` says file; `kind: "package"` refuses
 * anything else (`label` names it in the error).
 */
export async function itemKind(
  path: string,
  kind: IngestOptions["kind"],
  label: string,
): Promise<"file" | "package"> {
  const found = kind === "file" ? "file" : (await hasZipMagic(path)) ? "package" : "file";
  if (kind === "package" && found !== "package") {
    throw new CustodyError("ERR_PACKAGE_INVALID", `${label} is not a ZIP investigation package`);
  }
  return found;
}

export async function examinePackage(
  ctx: VaultContext,
  file: string,
  options: Pick<IngestOptions, "abortSignal" | "signedByDevice">,
): Promise<ItemRecord["package"]> {
  const report = await verifyPackage(file, await packageVerifyOptions(ctx, options)).catch(refusedReport);
  return packageRecord(report, options.signedByDevice);
}

/** Who may have signed a package (see `examinePackage`), and the abort signal. */
export async function packageVerifyOptions(
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
export type RefusedReport = Pick<PackageReport, "ok" | "problems" | "manifest" | "signature">;

// A hostile archive is refused by the reader: that is a verification result, recorded like the others.
export function refusedReport(error: unknown): RefusedReport {
  if (!isCustodyError(error)) throw error;
  return {
    ok: false,
    problems: [{ code: error.code, message: error.message }],
    manifest: undefined,
    signature: undefined,
  };
}

/** A verification report as the item records it, with the device binding a device's package needs. */
export function packageRecord(
  report: RefusedReport,
  signedByDevice: string | undefined,
): ItemRecord["package"] {
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

// The manifest is canonical JSON, so re-serializing gives the exact signed bytes.
function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
