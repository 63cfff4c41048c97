import type { CommandSpec } from "../command.js";
import { VAULT_OPTIONS, withVaultApi } from "../vault-context.js";

export const keysRotateCommand: CommandSpec = {
  path: ["keys", "rotate"],
  summary: "issue a new vault signer (custodians only); older checkpoints and reports still verify",
  usage: `[--vault DIR --identity FILE]
The current signer first signs a checkpoint over everything so far; the new signer's installation is
recorded in the audit log and signs from then on. Signatures are checked at their signing time, so those
of the old signer keep verifying after its certificate expires.`,
  options: { ...VAULT_OPTIONS },
  positionals: { min: 0, max: 0 },
  async run(ctx) {
    const rotation = await withVaultApi(ctx, (api) => api.rotateSigner());
    if (ctx.json) ctx.printJson({ ok: true, ...rotation });
    else ctx.out(`vault signer ${rotation.serialNumber} installed (sha256 ${rotation.fingerprintSha256})`);
    return 0;
  },
};
