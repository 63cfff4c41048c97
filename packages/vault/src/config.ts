import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError, isoTimestampSchema, toCustodyError, writeFileAtomic } from "@custody/core";
import { z } from "zod";

/** Where the evidence bytes live. The fs store is the embedded default. */
export const storeConfigSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("fs"), dir: z.string().min(1) }),
  z.strictObject({
    kind: z.literal("azure"),
    container: z.string().min(3),
    /** Account URL for a TokenCredential (DefaultAzureCredential), or... */
    accountUrl: z.url().optional(),
    /** ...the name of an environment variable that holds a connection string (never the secret itself). */
    connectionStringEnv: z.string().optional(),
    /**
     * The audit log, checkpoints, policy, CA certificate and CRLs live in the container too, so several
     * replicas serve one vault (the default for a new Azure vault). Absent: they stay in the vault folder.
     */
    shared: z.boolean().optional(),
  }),
]);

/** `vault.json`: what a vault is made of. Paths are relative to the vault directory. */
/** Where every signed checkpoint is also copied, outside the vault folder (catches a log cut back whole). */
export const witnessConfigSchema = z.strictObject({ kind: z.literal("dir"), dir: z.string().min(1) });

export const VAULT_FORMAT = "custody.vault/v2";

export const vaultConfigSchema = z.strictObject({
  format: z.literal(VAULT_FORMAT),
  vaultId: z.string().min(1),
  createdAt: isoTimestampSchema,
  store: storeConfigSchema,
  defaultRetentionDays: z.number().int().nonnegative(),
  checkpointEvery: z.number().int().positive(),
  witness: witnessConfigSchema.optional(),
});

export type VaultConfig = z.infer<typeof vaultConfigSchema>;
export type StoreConfig = z.infer<typeof storeConfigSchema>;
export type WitnessConfig = z.infer<typeof witnessConfigSchema>;

export const CONFIG_FILE = "vault.json";

export { resolveVaultDir } from "./vault-dir.js";

export async function readVaultConfig(dir: string): Promise<VaultConfig> {
  let text: string;
  try {
    text = await readFile(join(dir, CONFIG_FILE), "utf8");
  } catch (cause) {
    const error = toCustodyError(cause, "ERR_IO", `cannot read ${join(dir, CONFIG_FILE)}`);
    if (error.code !== "ERR_NOT_FOUND") throw error;
    throw new CustodyError(
      "ERR_VAULT_NOT_INITIALIZED",
      `no vault at ${dir} (run: custody init --vault ${dir})`,
      {
        cause,
      },
    );
  }
  const json = parseJson(text, dir);
  assertCurrentFormat(json, dir);
  const parsed = vaultConfigSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined ? "" : `${issue.path.join(".") || "(top)"}: ${issue.message}`;
    throw new CustodyError("ERR_INVALID_ARGUMENT", `${join(dir, CONFIG_FILE)} is invalid (${where})`);
  }
  return parsed.data;
}

// A v1 vault kept its item records, holds and policy outside the signed log: nothing it states can be proven.
function assertCurrentFormat(json: unknown, dir: string): void {
  const format = (json as { format?: unknown } | null)?.format;
  if (typeof format === "string" && format !== VAULT_FORMAT) {
    throw new CustodyError(
      "ERR_UNSUPPORTED_VERSION",
      `${join(dir, CONFIG_FILE)} is a ${format} vault; this custody opens ${VAULT_FORMAT} only (its facts are bound to the signed log): make a new vault and ingest the packages again`,
      { details: { format } },
    );
  }
}

function parseJson(text: string, dir: string): unknown {
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `${join(dir, CONFIG_FILE)} is not JSON`, { cause });
  }
}

/** Writes vault.json exclusively: an existing vault is never overwritten. */
export async function writeVaultConfig(dir: string, config: VaultConfig): Promise<void> {
  await writeFileAtomic(join(dir, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`, {
    mode: 0o600,
    exclusive: true,
  });
}
