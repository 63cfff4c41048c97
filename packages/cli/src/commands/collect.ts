import { hostname } from "node:os";
import { resolve } from "node:path";
import type { CollectionSummaryRow, CollectProgress } from "@custody/collect";
import { CustodyError } from "@custody/core";
import { loadSignerFromFiles, type Signer } from "@custody/manifest";
import { type CollectPackageResult, collectPackage, packageName } from "@custody/triage";
import { cliVersion } from "../cli.js";
import type { CommandContext, CommandSpec } from "../command.js";
import { assertOutputAbsent } from "../out-file.js";
import { formatBytes } from "../progress.js";
import { formatTable } from "../table.js";
import { VAULT_OPTIONS, vaultDir } from "../vault-context.js";
import { collectIntoLocalVault, ensureVault } from "./triage.js";
import {
  clockOffsetMeter,
  reportOutcomes,
  timestampedSigner,
  tsaAuthoritiesFrom,
  tsaOptions,
} from "./tsa-options.js";

export const collectCommand: CommandSpec = {
  path: ["collect"],
  summary: "collect this machine into a signed investigation package",
  usage: `[--out P.zip] [--only A,B] [--case ID] [--key K --cert C] [--ingest] [--vault DIR] [--identity FILE] [--json]
Collects every data point of this machine (most volatile first), streaming each item into a signed
BagIt package. --only limits the data points (others are recorded as skipped). The key's passphrase,
if any, is read from CUSTODY_KEY_PASSPHRASE. Without --key and --cert the local vault's collector
certificate signs (the vault is created if absent; its CA verifies the package). --ingest also stores the
package in the vault under --case (default: triage).
--tsa URL --tsa-ca FILE (with --key and --cert): the device clock is measured against that TSA at the start
and the end (CollectorLog/ClockOffset.json: offset, bound, and the TSA's token as evidence) and the package
signature carries a token; a TSA that does not answer is recorded there and warned about, never skipped.`,
  options: {
    out: { type: "string", short: "o" },
    only: { type: "string" },
    case: { type: "string" },
    key: { type: "string" },
    cert: { type: "string" },
    ingest: { type: "boolean" },
    ...VAULT_OPTIONS,
    ...tsaOptions,
  },
  positionals: { min: 0, max: 0 },
  async run(ctx) {
    const authorities = await tsaAuthoritiesFrom(ctx);
    if (authorities !== undefined && (ctx.flag("ingest") || ctx.string("key") === undefined)) {
      throw new CustodyError("ERR_USAGE", "--tsa goes with --key and --cert (a vault uses its own TSAs)");
    }
    if (ctx.flag("ingest")) return collectIntoLocalVault(ctx);
    const givenOut = ctx.string("out");
    // Before the vault is made or anything collected: an existing package is never replaced.
    if (givenOut !== undefined) await assertOutputAbsent(resolve(ctx.cwd, givenOut));
    if (ctx.string("key") === undefined && ctx.string("cert") === undefined) {
      // No key of one's own: the local vault's collector certificate signs (the vault is made if absent).
      const created = await ensureVault(ctx, vaultDir(ctx));
      return collectIntoLocalVault(ctx, { ingest: false, vaultCreated: created });
    }
    const { signer, outcomes } = timestampedSigner(await signerFromOptions(ctx), authorities);
    const only = parseOnly(ctx.string("only"));
    const caseId = ctx.string("case");
    const out = resolve(ctx.cwd, givenOut ?? `${packageName(hostname(), new Date())}.zip`);
    const progress = ctx.progress();
    // Ctrl-C stops between reads and removes the unfinished package instead of leaving a temp file.
    const interrupt = new AbortController();
    const onSigint = (): void => interrupt.abort(new CustodyError("ERR_ABORTED", "interrupted"));
    process.once("SIGINT", onSigint);
    const result = await collectPackage({
      out,
      signer,
      tool: collectorTool(),
      ...(only === undefined ? {} : { only }),
      ...(caseId === undefined ? {} : { caseId }),
      logger: ctx.logger,
      abortSignal: interrupt.signal,
      onProgress: progressView(progress.update),
      ...(authorities === undefined ? {} : { measureClockOffset: clockOffsetMeter(ctx, authorities) }),
    }).finally(() => {
      process.off("SIGINT", onSigint);
      progress.done();
    });
    const clock = { start: result.collection.clockAtStart, end: result.collection.clockAtEnd };
    const [timestamp] = reportOutcomes(ctx, outcomes);
    const offsets = result.collection.clockOffsets;
    if (ctx.json) ctx.printJson({ package: result.package, summary: result.rows, clock, offsets, timestamp });
    else printSummary(ctx, result);
    return 0;
  },
};

/** The collector tool recorded in every package the CLI writes. */
export function collectorTool(): { name: string; version: string } {
  return { name: "custody collect", version: cliVersion() };
}

async function signerFromOptions(ctx: CommandContext): Promise<Signer> {
  const keyFile = ctx.string("key");
  const certFile = ctx.string("cert");
  if (keyFile === undefined || certFile === undefined) {
    throw new CustodyError(
      "ERR_USAGE",
      "collect needs both --key and --cert (or neither, to sign with the local vault's collector certificate)",
    );
  }
  const passphrase = ctx.env.CUSTODY_KEY_PASSPHRASE;
  return loadSignerFromFiles({
    keyFile: resolve(ctx.cwd, keyFile),
    certFile: resolve(ctx.cwd, certFile),
    ...(passphrase ? { passphrase } : {}),
  });
}

export function parseOnly(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const names = value
    .split(",")
    .map((n) => n.trim())
    .filter((n) => n !== "");
  if (names.length === 0) throw new CustodyError("ERR_USAGE", "--only needs at least one data point name");
  return names;
}

export function progressView(update: (text: string) => void): (event: CollectProgress) => void {
  return (event) => {
    if (event.kind === "start") update(`[${event.index + 1}/${event.total}] ${event.dataPoint}`);
    else if (event.kind === "file")
      update(`${event.dataPoint}  ${event.files} files  ${formatBytes(event.bytes)}`);
  };
}

/** The collection summary as a table for people: one row per data point. */
export function summaryTable(rows: readonly CollectionSummaryRow[]): string {
  const cells = rows.map((r) => [
    r.dataPoint,
    r.status,
    r.errorCode ?? "",
    String(r.files),
    formatBytes(r.bytes),
    `${r.durationMs} ms`,
  ]);
  return formatTable(["Data point", "Status", "Error", "Files", "Bytes", "Time"], cells);
}

function printSummary(ctx: CommandContext, result: CollectPackageResult): void {
  ctx.out(summaryTable(result.rows));
  ctx.out("");
  ctx.out(`package  ${result.package.file}`);
  ctx.out(`items    ${result.package.items} (${formatBytes(result.package.payloadBytes)})`);
  ctx.out(`manifest sha256 ${result.package.manifestSha256}`);
  const { clockAtStart: start, clockAtEnd: end } = result.collection;
  ctx.out(
    `clock    ${start.systemTime} .. ${end.systemTime} ${start.timeZone}, synchronized: ${end.synchronized}`,
  );
  const offsets = result.collection.clockOffsets;
  if (offsets !== undefined)
    ctx.out(`offset   start ${offsetText(offsets.start)}, end ${offsetText(offsets.end)}`);
}

function offsetText(record: Record<string, unknown>): string {
  const { offsetMs, uncertaintyMs, tsa } = record;
  return typeof offsetMs === "number"
    ? `${offsetMs} ms ±${String(uncertaintyMs)} ms (${String(tsa)})`
    : "not measured";
}
