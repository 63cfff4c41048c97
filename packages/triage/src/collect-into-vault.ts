import { hostname } from "node:os";
import { type PackageVerification, packageVerification, verifyPackage } from "@custody/archive";
import { systemClock, writeFileAtomic } from "@custody/core";
import type { AuthenticatedPrincipal, EvidenceItem, Vault } from "@custody/vault";
import {
  type CollectPackageOptions,
  type CollectPackageResult,
  collectPackage,
  packageName,
} from "./collect-package.js";

/** What the main job needs of a vault: only these methods, so that no vault code is loaded to type it. */
export type TriageVault = Pick<Vault, "withCollector" | "ingest" | "report" | "trustAnchors" | "crl">;

export interface CollectIntoVaultOptions extends Omit<CollectPackageOptions, "signer" | "caseId"> {
  caseId: string;
  /** Store the package in the vault (default); false only signs it with the vault's collector key. */
  ingest?: boolean;
  /** Write the item's signed custody report beside the package (`<package>.custody-report.json|html`). */
  report?: boolean;
}

export interface CustodyReportFiles {
  json: string;
  html: string;
  events: number;
}

export interface CollectIntoVaultResult extends CollectPackageResult {
  /** The signed package on disk. */
  file: string;
  /** The vault item, when ingested. */
  item?: EvidenceItem;
  /** The vault's own verification at ingest, else a verification against the vault's CA. */
  verification: PackageVerification;
  report?: CustodyReportFiles;
}

/**
 * The main job against a vault: collects this device into a package signed by the vault's collector
 * certificate (the signing is authorized and recorded before the key signs), ingests it (the vault
 * verifies it against its CA and refuses it if it fails), and optionally writes its signed custody report.
 */
export async function collectIntoVault(
  vault: TriageVault,
  principal: AuthenticatedPrincipal,
  options: CollectIntoVaultOptions,
): Promise<CollectIntoVaultResult> {
  const { caseId, ingest, report, ...collect } = options;
  const name = collect.name ?? packageName(hostname(), (collect.clock ?? systemClock).now());
  const use = { caseId, target: `package:${name}`, details: { out: collect.out } };
  const collected = await vault.withCollector(principal, use, (signer) =>
    collectPackage({ operator: principal.id, ...collect, name, caseId, signer }),
  );
  const file = collected.package.file;
  if (ingest === false) {
    const trust = { trustAnchors: vault.trustAnchors, crls: [await vault.crl()] };
    const verification = packageVerification(await verifyPackage(file, { trust }));
    return { ...collected, file, verification };
  }
  const item = await vault.ingest(principal, file, { caseId, how: "collect", allowUnverified: false });
  // The vault refuses a package that fails verification, so a stored item's record says it passed.
  const verification = packageVerification(item.package ?? { verified: false, problems: [] });
  const files = report === true ? await writeCustodyReport(vault, principal, item.id, file) : undefined;
  return { ...collected, file, item, verification, ...(files === undefined ? {} : { report: files }) };
}

/** The item's signed custody report as JSON and HTML beside the package; neither replaces a file. */
async function writeCustodyReport(
  vault: TriageVault,
  principal: AuthenticatedPrincipal,
  id: string,
  packageFile: string,
): Promise<CustodyReportFiles> {
  const signed = await vault.report(principal, id);
  // Loaded only here: the rest of this package never loads the vault.
  const { renderCustodyReportHtml } = await import("@custody/vault");
  const base = packageFile.replace(/\.zip$/, "");
  const json = `${base}.custody-report.json`;
  const html = `${base}.custody-report.html`;
  await writeFileAtomic(json, `${JSON.stringify(signed, null, 2)}\n`, { exclusive: true });
  await writeFileAtomic(html, renderCustodyReportHtml(signed), { exclusive: true });
  return { json, html, events: signed.report.events.length };
}
