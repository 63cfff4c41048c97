import type { AuditRecord, AuditVerifyReport, InclusionProofBundle, SignedCheckpoint } from "@custody/audit";
import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "./authenticate.js";
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
      trust: {
        trustAnchors: [ctx.pki.caCertificatePem],
        crls: [await readPkiFile(ctx.dir, PKI_FILES.crl)],
        clock: ctx.clock,
      },
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
