import { mkdtemp, rm } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { createPackageWriter } from "@custody/archive";
import {
  type CollectionSummaryRow,
  collectDevice,
  deviceIdentity,
  packageWriterSink,
} from "@custody/collect";
import type { AuthenticatedPrincipal, EvidenceItem, Vault } from "@custody/vault";

export interface TriageOptions {
  caseId: string;
  /** Data points to collect; all of this platform's when absent. */
  only?: readonly string[];
  /** One line per event, for the SOC's own log pipeline. */
  onEvent?: (event: Record<string, unknown>) => void;
}

export interface TriageOutcome {
  item: EvidenceItem;
  summary: CollectionSummaryRow[];
}

/**
 * What a SOC tool embedding custody does on a suspect machine: collect every data point straight into a
 * package signed by the vault's collector certificate, check it as a third party would, ingest it, and
 * keep no copy outside the vault.
 */
export async function triageIntoVault(
  vault: Vault,
  analyst: AuthenticatedPrincipal,
  options: TriageOptions,
): Promise<TriageOutcome> {
  const emit = options.onEvent ?? (() => {});
  const scratch = await mkdtemp(join(tmpdir(), "soc-triage-"));
  try {
    const file = join(scratch, "package.zip");
    const device = await deviceIdentity();
    const use = { caseId: options.caseId, target: `package:${device.hostname ?? device.id}-triage` };
    const { writer, collection } = await vault.withCollector(analyst, use, async (signer) => {
      const writer = createPackageWriter(file, {
        name: `${device.hostname ?? device.id}-triage`,
        caseId: options.caseId,
        device,
        collector: { operator: analyst.id, tool: "soc-triage", toolVersion: "0.1.0", host: hostname() },
        signer,
      });
      const collection = await collectDevice({
        sink: packageWriterSink(writer),
        ...(options.only === undefined ? {} : { only: options.only }),
        onProgress: (event) => emit({ event: "collect", ...event }),
      }).catch(async (error: unknown) => {
        await writer.abort(error);
        throw error;
      });
      return { writer, collection };
    });
    writer.setCollectionSummary(collection.rows);
    const written = await writer.finalize();
    emit({
      event: "packaged",
      items: written.items,
      bytes: written.payloadBytes,
      manifestSha256: written.manifestSha256,
    });
    // The vault verifies the package against its CA before storing it, and refuses it if it fails.
    const item = await vault.ingest(analyst, file, { caseId: options.caseId, how: "collect" });
    emit({ event: "ingested", id: item.id });
    return { item, summary: collection.rows };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
