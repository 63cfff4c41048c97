import { mkdtemp, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { CustodyError, throwIfAborted } from "@custody/core";
import type { Signer } from "@custody/manifest";
import type { PackageUploadBody } from "../schemas.js";
import { AGENT_VERSION } from "../version.js";

/** PUTs the package file to the server over mTLS; resolves with the sha256 and size of what was sent. */
export type PackageUploader = (
  upload: PackageUploadBody,
  file: string,
  signal: AbortSignal,
) => Promise<{ sha256: string; size: number }>;

/** This device's own collector signer (device-collector certificate from the vault CA), obtained on first use. */
export type CollectorSignerSource = (signal: AbortSignal) => Promise<Signer>;

export interface CollectOnDeviceOptions {
  signal: AbortSignal;
  deviceId: string;
  /** The analyst who asked: the manifest's operator. */
  operator: string;
  upload: PackageUploadBody | undefined;
  uploader: PackageUploader | undefined;
  signer: CollectorSignerSource | undefined;
}

/** `-only A,B`: data point names, as @custody/collect knows them (it refuses an unknown one). */
export function onlyList(value: string | true | undefined): string[] | undefined {
  if (typeof value !== "string") return undefined;
  const names = value
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  if (names.length === 0) throw new CustodyError("ERR_USAGE", "-only names no data point");
  return names;
}

/**
 * `collect`: the investigation package made here, the same data points as `custody collect`, signed
 * with this device's own collector certificate (never the vault's), written to a private temporary
 * folder, PUT to the server (which verifies it against the vault CA and this device before storing it),
 * and removed. The result is the package's facts; the server adds the item id.
 */
export async function collectOnDevice(
  args: Record<string, string | true>,
  options: CollectOnDeviceOptions,
): Promise<Record<string, unknown>> {
  const { upload, uploader, signer } = options;
  if (upload === undefined || uploader === undefined || signer === undefined)
    throw new CustodyError("ERR_PROTOCOL", "collect came without a package upload");
  const reason = typeof args.reason === "string" ? args.reason : "";
  const only = onlyList(args.only);
  const collectorSigner = await signer(options.signal);
  throwIfAborted(options.signal);
  // Loaded on first use: an idle agent does not carry the collectors (docs/benchmarks.md § agent).
  const { collectPackage, packageName } = await import("@custody/triage");
  const dir = await mkdtemp(join(tmpdir(), "custody-collect-"));
  try {
    const name = packageName(hostname(), new Date());
    const made = await collectPackage({
      out: join(dir, `${name}.zip`),
      signer: collectorSigner,
      name,
      caseId: upload.caseId,
      deviceId: options.deviceId,
      operator: options.operator,
      tool: { name: "custody-agent collect", version: AGENT_VERSION },
      abortSignal: options.signal,
      ...(only === undefined ? {} : { only }),
    });
    if (made.package.size > upload.maxBytes)
      throw new CustodyError(
        "ERR_SIZE_LIMIT",
        `the package is ${made.package.size} bytes, over the server's ${upload.maxBytes}-byte limit`,
      );
    const sent = await uploader(upload, made.package.file, options.signal);
    const ok = made.rows.filter((row) => row.status === "ok" || row.status === "partial").length;
    const selected = made.rows.filter((row) => row.status !== "skipped").length;
    return {
      package: made.package.name,
      size: sent.size,
      sha256: sent.sha256,
      manifestSha256: made.package.manifestSha256,
      items: made.package.items,
      dataPoints: `${ok}/${selected}`,
      reason,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
