import type { AuditRecord, AuditVerifyReport, InclusionProofBundle, SignedCheckpoint } from "@custody/audit";
import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { CheckResult } from "./check.js";
import type { VaultContext } from "./context.js";
import { PKI_FILES, readPkiFile } from "./pki.js";

const auditRequest = (
  principal: AuthenticatedPrincipal,
  action: "audit.read" | "audit.checkpoint",
  target: string,
) => ({ principal, action, resource: { kind: "audit" }, target }) as const;

export interface AuditVerifyOptions {
  /** Checkpoints kept outside the vault (a custody report's, a witness's): the log must still contain them. */
  knownCheckpoints?: readonly SignedCheckpoint[];
}

/** Verifies the vault's whole audit log against its signed checkpoints and the vault CA. */
export async function verifyVaultAudit(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  options: AuditVerifyOptions = {},
): Promise<AuditVerifyReport> {
  return ctx.guard.run(auditRequest(principal, "audit.read", "audit:verify"), async () => {
    const report = await ctx.guard.verify({
      trust: await auditTrust(ctx),
      ...(options.knownCheckpoints === undefined ? {} : { knownCheckpoints: options.knownCheckpoints }),
    });
    // A failed verification is a finding about the vault: it goes in the log (and to whoever watches
    // the log), not only to the caller.
    const problem = report.problem;
    if (!report.ok && problem !== undefined) {
      await ctx.guard.failed(
        principal,
        "audit.read",
        "audit:verify",
        new CustodyError(problem.code, problem.message),
        {
          kind: problem.kind,
          ...(problem.seq === undefined ? {} : { seq: problem.seq }),
          ...(problem.line === undefined ? {} : { line: problem.line }),
        },
      );
    }
    return report;
  });
}

/**
 * For a vault opened from a ledger snapshot (which skipped the log's records before it): the whole log
 * verified, a finding when it fails (recorded), nothing when it holds. A vault that read its whole log
 * at open checked it then.
 */
export async function checkSkippedRecords(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
): Promise<CheckResult | undefined> {
  if (ctx.ledger.restoredAt === undefined) return undefined;
  const report = await ctx.guard.verify({ trust: await auditTrust(ctx) });
  const problem = report.problem;
  if (report.ok || problem === undefined) return undefined;
  const error = new CustodyError(
    problem.code,
    `the audit log: ${problem.message} (line ${problem.line ?? "?"})`,
  );
  await ctx.guard.failed(principal, "evidence.check", "audit:verify", error);
  return { id: "audit-log", ok: false, code: error.code, message: error.message };
}

async function auditTrust(ctx: VaultContext) {
  return {
    trustAnchors: [ctx.pki.caCertificatePem],
    crls: [await readPkiFile(ctx.dir, PKI_FILES.crl)],
    clock: ctx.clock,
    ...timestampTrust(ctx),
  };
}

// checkpoint tokens are checked against every TSA the log configured; a checkpoint without one still verifies
function timestampTrust(ctx: VaultContext): { timestamp?: { trustAnchors: string[] } } {
  const anchors = ctx.ledger.timestampAuthorities.flatMap((tsa) => tsa.trustAnchorsPem);
  return anchors.length === 0 ? {} : { timestamp: { trustAnchors: anchors } };
}

export async function showAudit(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  since = 0,
): Promise<AuditRecord[]> {
  return ctx.guard.run(auditRequest(principal, "audit.read", "audit:show"), async () => {
    const records: AuditRecord[] = [];
    for await (const record of ctx.guard.records(since)) records.push(record);
    return records;
  });
}

/** An inclusion proof for record `seq` against a fresh signed checkpoint, checkable offline. */
export async function proveAuditRecord(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  seq: number,
): Promise<InclusionProofBundle> {
  return ctx.guard.run(auditRequest(principal, "audit.read", `audit:${seq}`), async () => {
    const checkpoint = await ctx.guard.checkpoint();
    const [proof] = await ctx.guard.proveInclusions([seq], checkpoint);
    if (proof === undefined) throw new Error("no proof returned");
    return proof;
  });
}

export async function checkpointAudit(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
): Promise<SignedCheckpoint> {
  return ctx.guard.run(auditRequest(principal, "audit.checkpoint", "audit:checkpoint"), () =>
    ctx.guard.checkpoint(),
  );
}
