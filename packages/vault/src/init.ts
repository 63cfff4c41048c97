import { existsSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { AccessPolicyStore } from "@custody/access";
import { type Clock, CustodyError, systemClock, toCustodyError, uuidv7Generator } from "@custody/core";
import { CONFIG_FILE, type StoreConfig, storeConfigSchema, writeVaultConfig } from "./config.js";
import { registerIdentity } from "./identities.js";
import { assertIdentityName, createVaultPki, issueIdentity, loadVaultPki } from "./pki.js";

export interface VaultInitOptions {
  /** The first custodian; receives the returned identity. */
  custodian: string;
  defaultRetentionDays?: number;
  clock?: Clock;
  /** RSA size of the vault's keys; 3072 by default (tests use 2048 for speed). */
  keyBits?: number;
  /** Where evidence goes: the fs store under the vault (default) or an Azure container. */
  store?: StoreConfig;
}

/**
 * Writes a new vault's files: config, PKI, first identity, access policy. Everything is made in a
 * sibling temp directory and renamed into place at the end, so a failed or interrupted init leaves no
 * half vault behind, and an existing vault is never touched.
 */
export async function initVaultFiles(
  dir: string,
  options: VaultInitOptions,
): Promise<{ identityPem: string }> {
  assertIdentityName(options.custodian);
  if (options.store !== undefined && !storeConfigSchema.safeParse(options.store).success) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", "the store configuration is not valid");
  }
  if (existsSync(join(dir, CONFIG_FILE))) {
    throw new CustodyError("ERR_ALREADY_EXISTS", `a vault already exists at ${dir}`, { details: { dir } });
  }
  const clock = options.clock ?? systemClock;
  const staging = join(dirname(dir), `.${basename(dir)}.init-${process.pid}`);
  try {
    await mkdir(staging, { recursive: true, mode: 0o700 });
    const identityPem = await writeVaultFiles(staging, options, clock);
    await rename(staging, dir).catch((cause: unknown) => {
      throw toCustodyError(
        cause,
        "ERR_ALREADY_EXISTS",
        `cannot create the vault at ${dir} (is it a non-empty directory?)`,
      );
    });
    return { identityPem };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function writeVaultFiles(dir: string, options: VaultInitOptions, clock: Clock): Promise<string> {
  const vaultId = uuidv7Generator(clock).next();
  await createVaultPki(dir, vaultId, { clock, keyBits: options.keyBits });
  const pki = await loadVaultPki(dir);
  const identityPem = await issueIdentity(pki, options.custodian, { clock, keyBits: options.keyBits });
  await registerIdentity(dir, identityPem, clock);
  await AccessPolicyStore.init(join(dir, "policy"), options.custodian, { clock });
  // Written last: a directory without vault.json is not a vault.
  await writeVaultConfig(dir, {
    format: "custody.vault/v1",
    vaultId,
    createdAt: clock.now().toISOString(),
    store: options.store ?? { kind: "fs", dir: "store" },
    defaultRetentionDays: options.defaultRetentionDays ?? 365,
    checkpointEvery: 1000,
  });
  return identityPem;
}
