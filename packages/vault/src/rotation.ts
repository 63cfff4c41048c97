import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { FACT } from "./facts.js";
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
  return ctx.guard.run(request, async () => {
    const previous = ctx.ledger.currentSigner;
    await ctx.guard.checkpoint();
    const issued = await issueVaultSigner(ctx.dir, ctx.pki.ca, ctx.config.vaultId, {
      clock: ctx.clock,
      keyBits: ctx.pki.keyBits,
    });
    ctx.signer.add(issued.serialNumber, issued.files);
    await ctx.guard.fact(
      principal.id,
      FACT.signerInstalled,
      `vault:${ctx.config.vaultId}`,
      `vault signer ${issued.serialNumber} installed`,
      {
        serialNumber: issued.serialNumber,
        fingerprintSha256: issued.fingerprintSha256,
      },
    );
    await ctx.guard.checkpoint();
    return {
      serialNumber: issued.serialNumber,
      fingerprintSha256: issued.fingerprintSha256,
      previousFingerprintSha256: previous,
    };
  });
}
