import { readFileSync } from "node:fs";
import { hostname, userInfo } from "node:os";
import { createPackageWriter, type PackageResult } from "@custody/archive";
import {
  type CollectDeviceOptions,
  type CollectionResult,
  type CollectionSummaryRow,
  type CollectLimits,
  type CollectProgress,
  collectDevice,
  deviceIdentity,
  packageWriterSink,
} from "@custody/collect";
import { type Clock, type Logger, systemClock } from "@custody/core";
import type { Signer } from "@custody/manifest";

/** The program recorded in the manifest as the collector's tool. */
export interface CollectorTool {
  name: string;
  version: string;
}

export interface CollectPackageOptions {
  /** The .zip to write; it appears only once complete and signed, and never replaces a file. */
  out: string;
  signer: Signer;
  /** The package's name; `packageName(<this host>, <clock now>)` by default. */
  name?: string;
  only?: readonly string[];
  caseId?: string;
  /** The device id the manifest records; `deviceIdentity()`'s by default (an enrolled agent gives its own). */
  deviceId?: string;
  /** Who collected; the signed-in user by default. */
  operator?: string;
  /** `custody collect` with this package's version by default. */
  tool?: CollectorTool;
  clock?: Clock;
  logger?: Logger;
  limits?: Partial<CollectLimits>;
  abortSignal?: AbortSignal;
  onProgress?: (event: CollectProgress) => void;
  /** Measures the device clock against a reference at the start and the end (CollectorLog/ClockOffset.json). */
  measureClockOffset?: CollectDeviceOptions["measureClockOffset"];
}

export interface CollectPackageResult {
  package: PackageResult;
  rows: CollectionSummaryRow[];
  collection: CollectionResult;
}

/**
 * Collects this device straight into a signed investigation package: every data point streamed into the
 * package writer (hashed while written), the collection summary added, the manifest signed. On failure
 * or abort the partial package is removed.
 */
export async function collectPackage(options: CollectPackageOptions): Promise<CollectPackageResult> {
  const clock = options.clock ?? systemClock;
  const identity = await deviceIdentity();
  const device = options.deviceId === undefined ? identity : { ...identity, id: options.deviceId };
  const tool = options.tool ?? { name: "custody collect", version: triageVersion() };
  const writer = createPackageWriter(options.out, {
    name: options.name ?? packageName(device.hostname, clock.now()),
    ...(options.caseId === undefined ? {} : { caseId: options.caseId }),
    device,
    collector: {
      operator: options.operator ?? userInfo().username,
      tool: tool.name,
      toolVersion: tool.version,
      host: hostname(),
    },
    signer: options.signer,
    clock,
    ...(options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal }),
  });
  try {
    const collection = await collectDevice({
      sink: packageWriterSink(writer),
      clock,
      ...(options.only === undefined ? {} : { only: options.only }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      ...(options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal }),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
      ...(options.measureClockOffset === undefined ? {} : { measureClockOffset: options.measureClockOffset }),
    });
    writer.setCollectionSummary(collection.rows);
    return { package: await writer.finalize(), rows: collection.rows, collection };
  } catch (error) {
    await writer.abort(error);
    throw error;
  }
}

/** "<host>-<UTC time>": one folder name, sortable. */
export function packageName(host: string, at: Date): string {
  const safeHost = host.replace(/[^A-Za-z0-9.-]/g, "_").slice(0, 64) || "host";
  return `${safeHost}-${at.toISOString().replace(/[:.]/g, "").replace(/Z$/, "Z")}`;
}

function triageVersion(): string {
  // Found from this package's entry point, not this file: the CLI's bundle holds this code elsewhere.
  const file = new URL("../package.json", import.meta.resolve("@custody/triage"));
  const pkg = JSON.parse(readFileSync(file, "utf8")) as {
    version: string;
  };
  return pkg.version;
}
