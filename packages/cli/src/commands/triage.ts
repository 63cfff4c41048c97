import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { hostname, userInfo } from "node:os";
import { join, resolve } from "node:path";
import { verifyPackage } from "@custody/archive";
import type { CollectionSummaryRow } from "@custody/collect";
import { type AuthenticatedPrincipal, renderCustodyReportHtml, Vault } from "@custody/vault";
import type { CommandContext, CommandSpec } from "../command.js";
import { assertOutputAbsent } from "../out-file.js";
import { formatBytes } from "../progress.js";
import { OWNER_IDENTITY, openVaultAs, vaultDir } from "../vault-context.js";
import { collectPackage, packageName, parseOnly, progressView, summaryTable } from "./collect.js";

export const triageCommand: CommandSpec = {
  path: ["triage"],
  summary: "the whole job on this machine: vault, collect, sign, verify, ingest, custody report",
  usage: `[--vault DIR] [--case ID] [--out-dir DIR] [--only A,B]
Creates the local vault if there is none (its first custodian is you, identity in <vault>/${OWNER_IDENTITY}),
collects this machine into a package signed by the vault's collector certificate, verifies it against the
vault CA, ingests it under --case (default: triage), and writes its custody report (JSON and HTML) beside
the package in --out-dir (default: ./collections).`,
  options: {
    vault: { type: "string" },
    identity: { type: "string" },
    case: { type: "string" },
    "out-dir": { type: "string" },
    only: { type: "string" },
  },
  async run(ctx) {
    const created = await ensureVault(ctx, vaultDir(ctx));
    const outDir = resolve(ctx.cwd, ctx.string("out-dir") ?? "collections");
    await mkdir(outDir, { recursive: true });
    return collectIntoVault(ctx, { outDir, vaultCreated: created, writeReport: true });
  },
};

export interface CollectIntoVaultOptions {
  /** Where the package (and the report) go; --out or the current directory otherwise. */
  outDir?: string;
  vaultCreated?: boolean;
  writeReport?: boolean;
  /** Store the package in the vault (default); false only signs it with the vault's collector key. */
  ingest?: boolean;
}

/** Collects this machine with the vault's collector signer, verifies, ingests, and optionally reports. */
export async function collectIntoVault(
  ctx: CommandContext,
  options: CollectIntoVaultOptions = {},
): Promise<number> {
  const name = packageName(hostname(), new Date());
  const out =
    options.outDir === undefined
      ? resolve(ctx.cwd, ctx.string("out") ?? `${name}.zip`)
      : join(options.outDir, `${name}.zip`);
  await assertOutputAbsent(out);
  const { vault, principal } = await openVaultAs(ctx);
  try {
    const caseId = ctx.string("case") ?? "triage";
    const progress = ctx.progress();
    const only = parseOnly(ctx.string("only"));
    // Signing with the vault's collector key is itself recorded, whether or not the package is ingested.
    const use = { caseId, target: `package:${name}`, details: { out } };
    const collected = await vault.withCollector(principal, use, (signer) =>
      collectPackage({
        out,
        signer,
        caseId,
        operator: principal.id,
        logger: ctx.logger,
        ...(only === undefined ? {} : { only }),
        onProgress: progressView(progress.update),
      }).finally(() => progress.done()),
    );
    const file = collected.package.file;
    // Ingest verifies the package against the vault CA itself; verify here only when nothing is ingested.
    const item =
      options.ingest === false
        ? undefined
        : await vault.ingest(principal, file, { caseId, how: "collect", allowUnverified: false });
    const check =
      item?.package !== undefined
        ? { ok: item.package.verified, problems: item.package.problems }
        : await verifyPackage(file, {
            trust: { trustAnchors: vault.trustAnchors, crls: [await vault.crl()] },
          });
    const report =
      item !== undefined && options.writeReport === true
        ? await writeReports(vault, principal, item.id, file)
        : undefined;
    const result = {
      vault: vault.dir,
      vaultCreated: options.vaultCreated === true,
      package: file,
      packageVerified: check.ok,
      problems: check.problems,
      ...(item === undefined ? {} : { itemId: item.id }),
      caseId,
      summary: collected.rows,
      ...(report === undefined ? {} : { custodyReport: report }),
      ca: join(vault.dir, "pki", "ca.pem"),
    };
    if (ctx.json) ctx.printJson(result);
    else printResult(ctx, result, collected.package.items, collected.package.payloadBytes);
    return check.ok ? 0 : 1;
  } finally {
    await vault.close();
  }
}

async function writeReports(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  id: string,
  packageFile: string,
) {
  const signed = await vault.report(principal, id);
  const base = packageFile.replace(/\.zip$/, "");
  const json = `${base}.custody-report.json`;
  const html = `${base}.custody-report.html`;
  await writeFile(json, `${JSON.stringify(signed, null, 2)}\n`, { flag: "wx" });
  await writeFile(html, renderCustodyReportHtml(signed), { flag: "wx" });
  return { json, html, events: signed.report.events.length };
}

export async function ensureVault(ctx: CommandContext, dir: string): Promise<boolean> {
  if (existsSync(join(dir, "vault.json"))) return false;
  const custodian = (ctx.env.USER ?? userInfo().username) || "custodian";
  const { vault, identityPem } = await Vault.init(dir, {
    custodian: custodian.replace(/[^A-Za-z0-9._@-]/g, "_"),
  });
  await vault.close();
  await mkdir(join(dir, "identities"), { recursive: true, mode: 0o700 });
  await writeFile(join(dir, OWNER_IDENTITY), identityPem, { mode: 0o600, flag: "wx" });
  ctx.err(`created vault ${dir} (custodian ${custodian})`);
  return true;
}

interface TriageResult {
  vault: string;
  package: string;
  packageVerified: boolean;
  itemId?: string;
  caseId: string;
  summary: CollectionSummaryRow[];
  custodyReport?: { json: string; html: string; events: number } | undefined;
  ca: string;
}

function printResult(ctx: CommandContext, r: TriageResult, items: number, bytes: number): void {
  ctx.out(summaryTable(r.summary));
  ctx.out("");
  ctx.out(`package         ${r.package} (${items} items, ${formatBytes(bytes)})`);
  ctx.out(
    `verified        ${r.packageVerified ? "yes: signature, chain, every digest, BagIt manifests" : "NO"}`,
  );
  if (r.itemId !== undefined) ctx.out(`vault item      ${r.itemId} (case ${r.caseId}) in ${r.vault}`);
  if (r.custodyReport !== undefined) {
    ctx.out(`custody report  ${r.custodyReport.html}`);
    ctx.out(`                ${r.custodyReport.json} (${r.custodyReport.events} events, proofs signed)`);
  }
  ctx.out(`check it        custody verify ${r.package} --ca ${r.ca}`);
  if (r.custodyReport !== undefined) {
    ctx.out(`                custody report verify ${r.custodyReport.json} --ca ${r.ca}`);
  }
}
