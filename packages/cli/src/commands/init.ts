import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { Vault } from "@custody/vault";
import type { CommandSpec } from "../command.js";
import { intOption, OWNER_IDENTITY, vaultDir } from "../vault-context.js";

export const initCommand: CommandSpec = {
  path: ["init"],
  summary: "create a vault (CA, signers, audit log, policy) and the first custodian's identity",
  usage: `[--vault DIR] [--name NAME] [--identity-out FILE] [--retain-days N]
The vault goes to --vault, CUSTODY_VAULT or ./.custody; an existing vault is never overwritten.
The custodian's identity (certificate + private key, mode 0600) goes to --identity-out, or to
<vault>/identities/owner.pem, which custody uses when no --identity is given. On a shared vault, move it out.`,
  options: {
    vault: { type: "string" },
    name: { type: "string" },
    "identity-out": { type: "string" },
    "retain-days": { type: "string" },
  },
  async run(ctx) {
    const dir = vaultDir(ctx);
    const name = ctx.string("name") ?? ctx.env.USER ?? "custodian";
    const retainDays = intOption(ctx, "retain-days");
    const { vault, identityPem } = await Vault.init(dir, {
      custodian: name,
      ...(retainDays === undefined ? {} : { defaultRetentionDays: retainDays }),
    });
    await vault.close();
    const identityFile = resolve(ctx.cwd, ctx.string("identity-out") ?? join(dir, OWNER_IDENTITY));
    await mkdir(dirname(identityFile), { recursive: true, mode: 0o700 });
    await writeFile(identityFile, identityPem, { mode: 0o600, flag: "wx" });
    const result = {
      vault: dir,
      vaultId: vault.config.vaultId,
      custodian: name,
      identity: identityFile,
      ca: join(dir, "pki", "ca.pem"),
    };
    if (ctx.json) ctx.printJson(result);
    else ctx.out(`vault ${dir} created; custodian ${name}; identity ${identityFile}; CA ${result.ca}`);
    return 0;
  },
};
