import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { hostname, userInfo } from "node:os";
import { join, resolve } from "node:path";
import type { CollectionSummaryRow } from "@custody/collect";
import { writeFileAtomic } from "@custody/core";
import { collectIntoVault, packageName } from "@custody/triage";
import { Vault } from "@custody/vault";
import type { CommandContext, CommandSpec } from "../command.js";
import { assertOutputAbsent } from "../out-file.js";
import { formatBytes } from "../progress.js";
import { assertLocalVault, OWNER_IDENTITY, openVaultAs, vaultDir } from "../vault-context.js";
import { collectorTool, parseOnly, progressView, summaryTable } from "./collect.js";

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
    return collectIntoLocalVault(ctx, { outDir, vaultCreated: created, writeReport: true });
  },
};

export interface CollectIntoLocalVaultOptions {
  /** Where the package (and the report) go; --out or the current directory otherwise. */
  outDir?: string;
  vaultCreated?: boolean;
  writeReport?: boolean;
  /** Store the package in the vault (default); false only signs it with the vault's collector key. */
  ingest?: boolean;
}

/** The main job against the vault of the command line (`collect --ingest`, `collect` without a key, `triage`). */
const COLLECTOR_KEY_IS_LOCAL =
  "the package is signed with the vault's collector key; with a server, collect --key K --cert C --out F, then custody ingest F";

export async function collectIntoLocalVault(
  ctx: CommandContext,
  options: CollectIntoLocalVaultOptions = {},
): Promise<number> {
  const name = packageName(hostname(), new Date());
  const out =
    options.outDir === undefined
      ? resolve(ctx.cwd, ctx.string("out") ?? `${name}.zip`)
      : join(options.outDir, `${name}.zip`);
  assertLocalVault(ctx, "collecting into the vault", COLLECTOR_KEY_IS_LOCAL);
  await assertOutputAbsent(out);
  const { vault, principal } = await openVaultAs(ctx);
  try {
    const caseId = ctx.string("case") ?? "triage";
    const progress = ctx.progress();
    const only = parseOnly(ctx.string("only"));
    const done = await collectIntoVault(vault, principal, {
      out,
      name,
      caseId,
      tool: collectorTool(),
      logger: ctx.logger,
      ...(only === undefined ? {} : { only }),
      onProgress: progressView(progress.update),
      ...(options.ingest === false ? { ingest: false } : {}),
      report: options.writeReport === true,
    }).finally(() => progress.done());
    const result = {
      vault: vault.dir,
      vaultCreated: options.vaultCreated === true,
      package: done.file,
      packageVerified: done.verification.ok,
      problems: done.verification.problems,
      ...(done.item === undefined ? {} : { itemId: done.item.id }),
      caseId,
      summary: done.rows,
      ...(done.report === undefined ? {} : { custodyReport: done.report }),
      ca: join(vault.dir, "pki", "ca.pem"),
    };
    if (ctx.json) ctx.printJson(result);
    else printResult(ctx, result, done.package.items, done.package.payloadBytes);
    return done.verification.ok ? 0 : 1;
  } finally {
    await vault.close();
  }
}

export async function ensureVault(ctx: CommandContext, dir: string): Promise<boolean> {
  assertLocalVault(ctx, "collecting into the vault", COLLECTOR_KEY_IS_LOCAL);
  if (existsSync(join(dir, "vault.json"))) return false;
  const custodian = (ctx.env.USER ?? userInfo().username) || "custodian";
  const { vault, identityPem } = await Vault.init(dir, {
    custodian: custodian.replace(/[^A-Za-z0-9._@-]/g, "_"),
  });
  await vault.close();
  await mkdir(join(dir, "identities"), { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(dir, OWNER_IDENTITY), identityPem, { mode: 0o600, exclusive: true });
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
