import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  type AuditRecord,
  type AuditVerifyReport,
  type SignedCheckpoint,
  signedCheckpointFromJson,
  signedCheckpointToJson,
  verifyAuditLog,
} from "@custody/audit";
import { CustodyError, isCustodyError, writeFileAtomic } from "@custody/core";
import { readIdentityFile, readVaultConfig, Vault } from "@custody/vault";
import { configuredStore } from "../azure-store.js";
import type { CommandContext } from "../command.js";
import { serverUrl } from "../server-url.js";
import { assertLocalVault, identityFile, vaultDir, withVaultApi } from "../vault-context.js";

/** Without --log, the audit commands work on the vault's own log, authorized and recorded like any other call. */
export type VaultAuditCommand =
  | { kind: "verify"; describe: (report: AuditVerifyReport) => string; checkpoints: string[] }
  | { kind: "show"; since?: number; line: (record: AuditRecord) => string }
  | { kind: "prove"; seq: number }
  | { kind: "checkpoint"; out?: string };

// A vault that refuses to open is exactly when its log must still be checkable.
const FINDINGS_THAT_STOP_OPEN = new Set([
  "ERR_AUDIT_UNSEALED_TAIL",
  "ERR_AUDIT_TRUNCATED",
  "ERR_AUDIT_FORK",
  "ERR_AUDIT_CHAIN_BROKEN",
  "ERR_POLICY_INVALID",
  "ERR_INTEGRITY_MISMATCH",
]);

export async function runVaultAudit(ctx: CommandContext, command: VaultAuditCommand): Promise<number> {
  switch (command.kind) {
    case "verify":
      return verifyVault(ctx, command.describe, await readCheckpoints(ctx, command.checkpoints));
    case "show": {
      const records = await withVaultApi(ctx, (api) => api.showAudit(command.since));
      for (const record of records) ctx.out(ctx.json ? JSON.stringify(record) : command.line(record));
      return 0;
    }
    case "prove": {
      const bundle = await withVaultApi(ctx, (api) => api.proveAudit(command.seq));
      ctx.out(JSON.stringify(bundle, null, ctx.json ? undefined : 2));
      return 0;
    }
    case "checkpoint": {
      const signed = await withVaultApi(ctx, (api) => api.checkpoint());
      if (command.out !== undefined) {
        await writeFileAtomic(
          resolve(ctx.cwd, command.out),
          `${JSON.stringify(signedCheckpointToJson(signed), null, 2)}\n`,
          { exclusive: true },
        );
      }
      if (ctx.json) ctx.printJson(signed.checkpoint);
      else ctx.out(`checkpoint ${signed.checkpoint.treeSize}: ${signed.checkpoint.rootHash}`);
      return 0;
    }
  }
}

async function verifyVault(
  ctx: CommandContext,
  describe: (report: AuditVerifyReport) => string,
  knownCheckpoints: SignedCheckpoint[],
): Promise<number> {
  let report: AuditVerifyReport;
  try {
    report = await withVaultApi(ctx, (api) => api.verifyAudit({ knownCheckpoints }));
  } catch (error) {
    // Through a server, its answer is the verdict: the log's files are on its machine, not here.
    if (!isCustodyError(error) || !FINDINGS_THAT_STOP_OPEN.has(error.code) || serverUrl(ctx) !== undefined)
      throw error;
    ctx.err(`the vault refuses to open: ${error.code}: ${error.message}`);
    ctx.err("verifying its audit log read-only (this read cannot be recorded in it)");
    report = await verifyOffline(ctx, knownCheckpoints);
    if (report.ok)
      report = {
        ...report,
        ok: false,
        problem: {
          code: error.code,
          kind: "rewritten",
          message: error.message,
        } as AuditVerifyReport["problem"],
      };
  }
  if (ctx.json) ctx.printJson(report);
  else (report.ok ? ctx.out : ctx.err)(describe(report));
  return report.ok ? 0 : 1;
}

async function verifyOffline(
  ctx: CommandContext,
  knownCheckpoints: SignedCheckpoint[],
): Promise<AuditVerifyReport> {
  const dir = vaultDir(ctx);
  const ca = await readFile(join(dir, "pki", "ca.pem"), "utf8");
  const crl = await readFile(join(dir, "pki", "crl.pem"), "utf8").catch(() => undefined);
  return verifyAuditLog(
    { dir: join(dir, "audit") },
    { trust: { trustAnchors: [ca], ...(crl === undefined ? {} : { crls: [crl] }) }, knownCheckpoints },
  );
}

/** `--checkpoint FILE`: a signed checkpoint saved earlier, or a custody report (which holds one). */
export async function readCheckpoints(ctx: CommandContext, files: string[]): Promise<SignedCheckpoint[]> {
  const found: SignedCheckpoint[] = [];
  for (const file of files) {
    let json: unknown;
    try {
      json = JSON.parse(await readFile(resolve(ctx.cwd, file), "utf8"));
    } catch (cause) {
      throw new CustodyError(
        "ERR_AUDIT_CHECKPOINT_INVALID",
        `--checkpoint ${file} is not a JSON checkpoint or custody report`,
        { cause },
      );
    }
    const proof = (json as { report?: { proofs?: { checkpoint?: unknown }[] } }).report?.proofs?.[0];
    found.push(signedCheckpointFromJson(proof?.checkpoint ?? json));
  }
  return found;
}

export async function acceptTail(ctx: CommandContext, reason: string) {
  assertLocalVault(ctx, "audit accept-tail", "it repairs the log's files under the vault's own lock");
  const dir = vaultDir(ctx);
  const store = await configuredStore((await readVaultConfig(dir)).store, ctx.env);
  return Vault.acceptAuditTail({
    dir,
    ...(store === undefined ? {} : { store }),
    identityPem: await readIdentityFile(identityFile(ctx, dir)),
    ...(ctx.env.CUSTODY_IDENTITY_PASSPHRASE === undefined
      ? {}
      : { passphrase: ctx.env.CUSTODY_IDENTITY_PASSPHRASE }),
    reason,
  });
}
