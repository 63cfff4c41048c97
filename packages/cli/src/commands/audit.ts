import { readFile } from "node:fs/promises";
import {
  type AuditRecord,
  type AuditVerifyReport,
  createInclusionBundle,
  FileAuditSource,
  openFileAuditLog,
  readAuditRecords,
  readLatestCheckpoint,
  verifyAuditLog,
  verifyConsistencyBundle,
  verifyInclusionBundle,
} from "@custody/audit";
import { CustodyError, toCustodyError } from "@custody/core";
import { loadSignerFromFiles, type TrustOptions } from "@custody/manifest";
import type { CommandContext, CommandSpec } from "../command.js";
import { VAULT_OPTIONS } from "../vault-context.js";
import { acceptTail, readCheckpoints, runVaultAudit } from "./audit-vault.js";
import { absolute, passphrase, readText, required, withPassphraseHint } from "./key-files.js";

const LOG_HELP =
  "--log DIR is an audit log directory (audit.log, checkpoints/); without it, the vault's own log\n" +
  "(--vault, --identity), read with your grants (auditor or custodian) and the read itself recorded.";

async function trust(ctx: CommandContext): Promise<TrustOptions> {
  const files = ctx.strings("ca");
  if (files.length === 0)
    throw new CustodyError("ERR_USAGE", "--ca is required (the CA certificate to trust)");
  const trustAnchors = await Promise.all(files.map((f) => readText(absolute(ctx, f), "CA file")));
  trustAnchors.forEach((pem, i) => {
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", `--ca ${files[i]} holds no PEM certificate`);
    }
  });
  return { trustAnchors };
}

function seqArgument(text: string | undefined, what: string): number {
  const value = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new CustodyError(
      "ERR_USAGE",
      `${what} must be a record sequence number, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

function describeReport(report: AuditVerifyReport): string {
  const latest = report.latestCheckpoint;
  const signed =
    latest === undefined ? "no signed checkpoint" : `signed up to ${latest.treeSize} (${latest.rootHash})`;
  const unsigned =
    report.unsignedRecords > 0 ? `; ${report.unsignedRecords} records after it not signed yet` : "";
  if (report.ok)
    return `ok: ${report.records} records, ${report.checkpoints} checkpoints verified, ${signed}${unsigned}`;
  const p = report.problem;
  const where = [p?.line === undefined ? "" : `line ${p.line}`, p?.seq === undefined ? "" : `seq ${p.seq}`]
    .filter(Boolean)
    .join(", ");
  return `FAILED: ${p?.code} (${p?.kind}) at ${where || `checkpoint ${p?.treeSize}`}: ${p?.message}`;
}

export const auditVerifyCommand: CommandSpec = {
  path: ["audit", "verify"],
  summary:
    "verify an audit log: every record, the hash chain, signed checkpoints (exit 1 on the first problem)",
  usage: [
    "[--log DIR --ca ca.pem | --vault DIR --identity FILE] [--checkpoint FILE]... [--json]",
    "",
    LOG_HELP,
    "--checkpoint FILE is a signed checkpoint kept outside the vault (`custody audit checkpoint --out`,",
    "or a custody report, which holds one): the log must still contain it, so a log cut back together",
    "with its newest checkpoints is caught. A vault that refuses to open is verified read-only.",
    "Checks every record, the chain, every checkpoint's signature under --ca, that each checkpoint's",
    "Merkle root matches the records, that checkpoints link, and that no signed record is missing.",
    "Prints the first problem with its code, its line and sequence number.",
  ].join("\n"),
  options: {
    ...VAULT_OPTIONS,
    log: { type: "string" },
    ca: { type: "string", multiple: true },
    checkpoint: { type: "string", multiple: true },
  },
  positionals: { min: 0, max: 0 },
  async run(ctx) {
    const checkpoints = ctx.strings("checkpoint");
    if (ctx.string("log") === undefined)
      return runVaultAudit(ctx, { kind: "verify", describe: describeReport, checkpoints });
    const report = await verifyAuditLog(
      { dir: absolute(ctx, required(ctx, "log")) },
      { trust: await trust(ctx), knownCheckpoints: await readCheckpoints(ctx, checkpoints) },
    );
    if (ctx.json) ctx.printJson(report);
    else if (report.ok) ctx.out(describeReport(report));
    else ctx.err(describeReport(report));
    return report.ok ? 0 : 1;
  },
};

function showLine(r: AuditRecord): string {
  return `${r.seq}\t${r.time}\t${r.outcome}\t${r.actor}\t${r.action}\t${r.target}\t${r.reason}`;
}

export const auditShowCommand: CommandSpec = {
  path: ["audit", "show"],
  summary: "print audit records (checked as they are read)",
  usage: [
    "[--log DIR | --vault DIR --identity FILE] [--since SEQ] [--json]",
    "",
    LOG_HELP,
    "One tab-separated line per record: seq, time, outcome, actor, action, target, reason.",
    "--json prints one record per line (JSON Lines) so a large log streams.",
  ].join("\n"),
  options: { ...VAULT_OPTIONS, log: { type: "string" }, since: { type: "string" } },
  positionals: { min: 0, max: 0 },
  async run(ctx) {
    const since = ctx.string("since");
    const options = since === undefined ? {} : { since: seqArgument(since, "--since") };
    if (ctx.string("log") === undefined)
      return runVaultAudit(ctx, { kind: "show", ...options, line: showLine });
    for await (const record of readAuditRecords({ dir: absolute(ctx, required(ctx, "log")) }, options)) {
      ctx.out(ctx.json ? JSON.stringify(record) : showLine(record));
    }
    return 0;
  },
};

export const auditProveCommand: CommandSpec = {
  path: ["audit", "prove"],
  summary: "print an inclusion proof bundle for record SEQ against the latest signed checkpoint",
  usage: [
    "SEQ [--log DIR | --vault DIR --identity FILE]",
    "",
    LOG_HELP,
    "Prints JSON a third party checks offline with only the CA: `custody audit verify-proof FILE --ca ca.pem`.",
    "Fails with ERR_NOT_FOUND when no signed checkpoint covers SEQ yet (run `custody audit checkpoint`).",
  ].join("\n"),
  options: { ...VAULT_OPTIONS, log: { type: "string" } },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const seq = seqArgument(ctx.positionals[0], "SEQ");
    if (ctx.string("log") === undefined) return runVaultAudit(ctx, { kind: "prove", seq });
    const source = new FileAuditSource(absolute(ctx, required(ctx, "log")));
    await source.assertExists();
    const latest = await readLatestCheckpoint(source);
    if (latest === undefined || latest.checkpoint.treeSize <= seq) {
      throw new CustodyError("ERR_NOT_FOUND", `no signed checkpoint covers record ${seq} yet`, {
        details: { seq },
      });
    }
    const bundle = await createInclusionBundle(source, seq, latest);
    ctx.out(JSON.stringify(bundle, null, ctx.json ? undefined : 2));
    return 0;
  },
};

export const auditCheckpointCommand: CommandSpec = {
  path: ["audit", "checkpoint"],
  summary: "sign and store a checkpoint over every record of an audit log",
  usage: [
    "[--log DIR --key signer.key --cert signer.pem [--passphrase-file FILE] | --vault DIR --identity FILE [--out FILE]] [--json]",
    "",
    LOG_HELP,
    "--out FILE saves the vault's signed checkpoint: keep it outside the vault and give it to",
    "`custody audit verify --checkpoint FILE` later.",
    "Takes the log's writer lock (ERR_AUDIT_LOCKED while another process writes it).",
  ].join("\n"),
  options: {
    ...VAULT_OPTIONS,
    log: { type: "string" },
    key: { type: "string" },
    cert: { type: "string" },
    "passphrase-file": { type: "string" },
    out: { type: "string" },
  },
  positionals: { min: 0, max: 0 },
  async run(ctx) {
    const out = ctx.string("out");
    if (ctx.string("log") === undefined)
      return runVaultAudit(ctx, { kind: "checkpoint", ...(out === undefined ? {} : { out }) });
    const secret = await passphrase(ctx);
    const files = {
      keyFile: absolute(ctx, required(ctx, "key")),
      certFile: absolute(ctx, required(ctx, "cert")),
    };
    const signer = await withPassphraseHint(() =>
      loadSignerFromFiles({ ...files, ...(secret === undefined ? {} : { passphrase: secret }) }),
    );
    const dir = absolute(ctx, required(ctx, "log"));
    await new FileAuditSource(dir).assertExists();
    const log = await openFileAuditLog({ dir, signer, checkpointIntervalMs: 0 });
    try {
      const signed = await log.checkpoint();
      if (ctx.json) ctx.printJson(signed.checkpoint);
      else ctx.out(`checkpoint ${signed.checkpoint.treeSize}: ${signed.checkpoint.rootHash}`);
    } finally {
      await log.close();
    }
    return 0;
  },
};

export const auditVerifyProofCommand: CommandSpec = {
  path: ["audit", "verify-proof"],
  summary: "check an audit inclusion or consistency proof bundle offline, given only the CA",
  usage: [
    "FILE --ca ca.pem [--json]",
    "",
    "FILE is a bundle printed by `custody audit prove` (or the library).",
  ].join("\n"),
  options: { ca: { type: "string", multiple: true } },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const file = absolute(ctx, ctx.positionals[0] as string);
    const text = await readFile(file, "utf8").catch((cause: unknown) => {
      throw toCustodyError(cause, "ERR_IO", `cannot read ${file}`);
    });
    let bundle: unknown;
    try {
      bundle = JSON.parse(text);
    } catch (cause) {
      throw new CustodyError("ERR_PROOF_INVALID", `${file} is not JSON`, { cause });
    }
    const options = { trust: await trust(ctx) };
    const format = (bundle as { format?: unknown } | null)?.format;
    if (format === "custody.audit.consistency/v1") {
      const { from, to } = verifyConsistencyBundle(bundle, options);
      const result = { ok: true, from: from.checkpoint, to: to.checkpoint };
      if (ctx.json) ctx.printJson(result);
      else ctx.out(`ok: the log at ${to.checkpoint.treeSize} extends the log at ${from.checkpoint.treeSize}`);
      return 0;
    }
    const { record, checkpoint } = verifyInclusionBundle(bundle, options);
    if (ctx.json) ctx.printJson({ ok: true, record, checkpoint: checkpoint.checkpoint });
    else ctx.out(`ok: record ${record.seq} is in the log signed at ${checkpoint.checkpoint.treeSize}`);
    return 0;
  },
};

export const auditAcceptTailCommand: CommandSpec = {
  path: ["audit", "accept-tail"],
  summary: "a custodian accepts audit records found after the last checkpoint without a valid seal",
  usage: [
    "--reason TEXT [--vault DIR --identity FILE]",
    "",
    "A vault whose log ends in records it did not seal (appended by hand, or by a writer whose seal key",
    "was lost) refuses to open (ERR_AUDIT_UNSEALED_TAIL). Look at them first (`custody audit verify`,",
    "and the log itself); accepting records your decision, names the records, and signs them in.",
  ].join("\n"),
  options: { ...VAULT_OPTIONS, reason: { type: "string" } },
  positionals: { min: 0, max: 0 },
  async run(ctx) {
    const reason = ctx.string("reason");
    if (reason === undefined || reason.trim() === "") {
      throw new CustodyError("ERR_USAGE", "accept-tail needs --reason TEXT (it is recorded)");
    }
    const accepted = await acceptTail(ctx, reason);
    if (ctx.json) ctx.printJson({ ok: true, ...accepted });
    else
      ctx.out(
        `accepted ${accepted.count} record(s) from seq ${accepted.fromSeq}; a checkpoint now signs them`,
      );
    return 0;
  },
};
