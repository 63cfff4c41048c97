import { mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { CustodyError, writeFileAtomic } from "@custody/core";
import { type StoreConfig, Vault } from "@custody/vault";
import { configuredStore } from "../azure-store.js";
import type { CommandContext, CommandSpec } from "../command.js";
import { assertOutputAbsent } from "../out-file.js";
import { assertLocalVault, intOption, OWNER_IDENTITY, vaultDir } from "../vault-context.js";

export const initCommand: CommandSpec = {
  path: ["init"],
  summary: "create a vault (CA, signers, audit log, policy) and the first custodian's identity",
  usage: `[--vault DIR] [--name NAME] [--identity-out FILE] [--retain-days N] [--witness DIR] [--store fs|azure --container NAME (--account-url URL | --connection-string-env VAR) [--create-container]]
The vault goes to --vault, CUSTODY_VAULT or ./.custody; an existing vault is never overwritten.
The custodian's identity (certificate + private key, mode 0600) goes to --identity-out, or to
<vault>/identities/owner.pem, which custody uses when no --identity is given. On a shared vault, move it out.
--witness DIR (outside the vault, e.g. another disk or mount) receives a copy of every signed checkpoint;
the vault refuses to open when its log no longer contains the witness's newest one.
--store azure keeps the evidence, the audit log, checkpoints, policy, CA certificate and CRLs in an Azure
Blob container (only the keys stay in the vault directory: copies of it are replicas, see docs/replicas.md):
--account-url uses DefaultAzureCredential; --connection-string-env names the environment variable
holding a connection string (Azurite, development), which is never written to disk.`,
  options: {
    vault: { type: "string" },
    name: { type: "string" },
    "identity-out": { type: "string" },
    "retain-days": { type: "string" },
    store: { type: "string" },
    container: { type: "string" },
    "account-url": { type: "string" },
    "connection-string-env": { type: "string" },
    "create-container": { type: "boolean" },
    witness: { type: "string" },
  },
  async run(ctx) {
    assertLocalVault(ctx, "init", "it creates the vault's folder and keys on this machine");
    const dir = vaultDir(ctx);
    const name = ctx.string("name") ?? ctx.env.USER ?? "custodian";
    const retainDays = intOption(ctx, "retain-days");
    const store = storeOption(ctx);
    const witness = ctx.string("witness");
    const identityOut = ctx.string("identity-out");
    // Refused before the vault exists: a vault whose first custodian's key cannot be written is locked.
    if (identityOut !== undefined) await assertOutputAbsent(resolve(ctx.cwd, identityOut), "--identity-out");
    const openStore =
      store === undefined
        ? undefined
        : await configuredStore(store, ctx.env, {
            createContainer: ctx.flag("create-container"),
            logger: ctx.logger,
          });
    const { vault, identityPem } = await Vault.init(dir, {
      custodian: name,
      ...(retainDays === undefined ? {} : { defaultRetentionDays: retainDays }),
      ...(store === undefined ? {} : { store }),
      ...(openStore === undefined ? {} : { openStore }),
      ...(witness === undefined ? {} : { witness: { kind: "dir" as const, dir: resolve(ctx.cwd, witness) } }),
    });
    await vault.close();
    const identityFile = resolve(ctx.cwd, identityOut ?? join(dir, OWNER_IDENTITY));
    await mkdir(dirname(identityFile), { recursive: true, mode: 0o700 });
    await writeFileAtomic(identityFile, identityPem, { mode: 0o600, exclusive: true });
    const result = {
      vault: dir,
      vaultId: vault.vaultId,
      custodian: name,
      identity: identityFile,
      ca: join(dir, "pki", "ca.pem"),
    };
    if (ctx.json) ctx.printJson(result);
    else ctx.out(`vault ${dir} created; custodian ${name}; identity ${identityFile}; CA ${result.ca}`);
    return 0;
  },
};

function storeOption(ctx: CommandContext): StoreConfig | undefined {
  const kind = ctx.string("store") ?? "fs";
  if (kind === "fs") return undefined;
  if (kind !== "azure") throw new CustodyError("ERR_USAGE", "--store is fs or azure");
  const container = ctx.string("container");
  const accountUrl = ctx.string("account-url");
  const connectionStringEnv = ctx.string("connection-string-env");
  if (container === undefined || (accountUrl === undefined) === (connectionStringEnv === undefined)) {
    throw new CustodyError(
      "ERR_USAGE",
      "--store azure needs --container and one of --account-url or --connection-string-env",
    );
  }
  return {
    kind: "azure",
    container,
    ...(accountUrl === undefined ? {} : { accountUrl }),
    ...(connectionStringEnv === undefined ? {} : { connectionStringEnv }),
  };
}
