import { X509Certificate } from "node:crypto";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { FACT } from "./facts.js";
import { KEYS_LOCK } from "./locks.js";
import { issueVaultSigner } from "./pki.js";

export interface SignerRotation {
  serialNumber: string;
  fingerprintSha256: string;
  /** The signer it replaces; its signatures keep verifying at their signing time. */
  previousFingerprintSha256: string | undefined;
}

/**
 * Issues a new vault signer. The old signer first signs a checkpoint over everything so far, the new one is
 * installed by a fact in the log (the files on disk alone never choose the signer), and the new signer
 * signs the next checkpoint, which covers the rotation itself.
 */
/** The actor of what the vault does by itself (keeping its own signer valid). */
export const VAULT_ACTOR = "custody.vault";

/** A signer this close to its expiry is replaced at open, so the vault never signs with an expired certificate. */
export const SIGNER_RENEW_BEFORE_MS = 30 * 86_400_000;

/**
 * Replaces a vault signer that expires within SIGNER_RENEW_BEFORE_MS (or has expired): the vault does it
 * itself, recorded like a custodian's rotation, because a vault that cannot sign valid checkpoints
 * cannot prove anything it records from then on.
 */
export async function renewExpiringSigner(ctx: VaultContext): Promise<SignerRotation | undefined> {
  const expiry = notAfter(ctx);
  if (expiry - ctx.clock.now().getTime() > SIGNER_RENEW_BEFORE_MS) return undefined;
  ctx.logger.warn(
    { notAfter: new Date(expiry).toISOString() },
    "the vault signer expires soon: installing a new one",
  );
  return installSigner(ctx, VAULT_ACTOR);
}

export async function rotateVaultSigner(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
): Promise<SignerRotation> {
  const request = {
    principal,
    action: "keys.rotate",
    resource: { kind: "vault" },
    target: `vault:${ctx.config.vaultId}`,
  } as const;
  return ctx.guard.run(request, () => ctx.locks.with([KEYS_LOCK], () => installSigner(ctx, principal.id)));
}

async function installSigner(ctx: VaultContext, actor: string): Promise<SignerRotation> {
  const previous = ctx.ledger.currentSigner;
  // Signed by the old signer first while it is valid, so everything before the rotation is covered by it.
  if (notAfter(ctx) > ctx.clock.now().getTime()) await ctx.guard.checkpoint();
  const issued = await issueVaultSigner(ctx.dir, ctx.pki.ca, ctx.config.vaultId, {
    clock: ctx.clock,
    keyBits: ctx.pki.keyBits,
  });
  ctx.signer.add(issued.serialNumber, issued.files);
  const target = `vault:${ctx.config.vaultId}`;
  await ctx.guard.fact(actor, FACT.signerInstalled, target, `vault signer ${issued.serialNumber} installed`, {
    serialNumber: issued.serialNumber,
    fingerprintSha256: issued.fingerprintSha256,
  });
  await ctx.guard.checkpoint();
  return {
    serialNumber: issued.serialNumber,
    fingerprintSha256: issued.fingerprintSha256,
    previousFingerprintSha256: previous,
  };
}

function notAfter(ctx: VaultContext): number {
  const [pem] = ctx.signer.certificateChain;
  return pem === undefined ? 0 : Date.parse(new X509Certificate(pem).validTo);
}
