import { randomUUID } from "node:crypto";
import type { ContainerClient } from "@azure/storage-blob";
import type { Clock, Logger } from "@custody/core";
import type { Enforcement, StoreCapabilities } from "@custody/store";
import { INTERNAL_PREFIX } from "./blob-record.js";
import { statusOf } from "./errors.js";

const PROBE_RETENTION_MS = 60_000;
// What a service answers when it does not implement, or the account does not enable, version-level WORM.
const NOT_ENFORCED = new Set([400, 403, 405, 409, 501]);

/**
 * Finds out whether the service really enforces legal holds and retention: it sets both on a probe
 * blob and reads them back. Azurite answers 501 (and would silently ignore the same options on
 * upload), so it is reported as "library". The probe blob is removed; an unlocked one-minute policy
 * that cannot be removed simply expires.
 */
export async function probeEnforcement(
  container: ContainerClient,
  clock: Clock,
  logger: Logger,
): Promise<Enforcement> {
  const blob = container.getBlockBlobClient(`${INTERNAL_PREFIX}probe/${randomUUID()}`);
  await blob.upload("", 0, { conditions: { ifNoneMatch: "*" } });
  try {
    await blob.setLegalHold(true);
    await blob.setImmutabilityPolicy({
      expiriesOn: new Date(clock.now().getTime() + PROBE_RETENTION_MS),
      policyMode: "Unlocked",
    });
    const props = await blob.getProperties();
    const enforced = props.legalHold === true && props.immutabilityPolicyExpiresOn !== undefined;
    logger.info({ enforced }, "azure blob protection probe");
    return enforced ? "service" : "library";
  } catch (error) {
    const status = statusOf(error);
    if (status !== undefined && NOT_ENFORCED.has(status)) {
      logger.info({ status }, "azure blob service does not enforce legal hold or retention");
      return "library";
    }
    throw error;
  } finally {
    await blob.setLegalHold(false).catch(() => undefined);
    await blob.deleteImmutabilityPolicy().catch(() => undefined);
    await blob.delete().catch(() => undefined);
  }
}

/** One answer for all three protections: the probe confirms hold and retention together or not at all. */
export function capabilitiesFor(enforcement: Enforcement): StoreCapabilities {
  return Object.freeze({
    backend: "azure-blob",
    immutability: enforcement,
    retention: enforcement,
    legalHold: enforcement,
    resumableUploads: true,
  });
}
