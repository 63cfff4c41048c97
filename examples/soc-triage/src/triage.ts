import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CollectionSummaryRow } from "@custody/collect";
import { collectIntoVault } from "@custody/triage";
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
 * package signed by the vault's collector certificate, have the vault check it as a third party would and
 * ingest it, and keep no copy outside the vault.
 */
export async function triageIntoVault(
  vault: Vault,
  analyst: AuthenticatedPrincipal,
  options: TriageOptions,
): Promise<TriageOutcome> {
  const emit = options.onEvent ?? (() => {});
  const scratch = await mkdtemp(join(tmpdir(), "soc-triage-"));
  try {
    const result = await collectIntoVault(vault, analyst, {
      out: join(scratch, "package.zip"),
      caseId: options.caseId,
      tool: { name: "soc-triage", version: "0.1.0" },
      ...(options.only === undefined ? {} : { only: options.only }),
      onProgress: (event) => emit({ event: "collect", ...event }),
    });
    emit({
      event: "packaged",
      items: result.package.items,
      bytes: result.package.payloadBytes,
      manifestSha256: result.package.manifestSha256,
    });
    // The vault verified the package against its CA before storing it; it refuses one that fails.
    if (result.item === undefined) throw new Error("the package was not ingested");
    emit({ event: "ingested", id: result.item.id });
    return { item: result.item, summary: result.rows };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
