import { createHash, X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { AccessPolicyStore } from "@custody/access";
import {
  type Clock,
  CustodyError,
  syncDirectory,
  systemClock,
  toCustodyError,
  uuidv7Generator,
} from "@custody/core";
import type { EvidenceStore } from "@custody/store";
import {
  CONFIG_FILE,
  type StoreConfig,
  storeConfigSchema,
  VAULT_FORMAT,
  type WitnessConfig,
  writeVaultConfig,
} from "./config.js";
import { FACT } from "./facts.js";
import { openVaultParts, vaultSettings } from "./open.js";
import {
  assertIdentityName,
  createVaultPki,
  fingerprintOf,
  issueIdentity,
  loadVaultPki,
  type VaultPki,
} from "./pki.js";
import { SharedRevocationList } from "./revocations.js";
import { SHARED_CA } from "./shared-open.js";
import { sharedStateOf, type VaultSharedState } from "./shared-state.js";

export interface VaultInitOptions {
  /** The first custodian; receives the returned identity. */
  custodian: string;
  defaultRetentionDays?: number;
  clock?: Clock;
  /** RSA size of the vault's keys; 3072 by default (tests use 2048 for speed). */
  keyBits?: number;
  /** Where evidence goes: the fs store under the vault (default) or an Azure container. */
  store?: StoreConfig;
  /** A directory outside the vault that receives a copy of every signed checkpoint. */
  witness?: WitnessConfig;
  openStore?: EvidenceStore;
  /** The state replicas share (default: the one an Azure `openStore` offers; see VaultSharedState). */
  shared?: VaultSharedState;
}

/**
 * Writes a new vault: config, PKI, first identity, access policy, and the log records that state them.
 * Everything is made in a sibling temp directory and renamed into place at the end, so a failed or
 * interrupted init leaves no half vault behind, and an existing vault is never touched.
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
    // The vault's name itself must survive a power cut, not only its files.
    await syncDirectory(dirname(dir));
    return { identityPem };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function writeVaultFiles(dir: string, options: VaultInitOptions, clock: Clock): Promise<string> {
  const vaultId = uuidv7Generator(clock).next();
  await createVaultPki(dir, vaultId, { clock, keyBits: options.keyBits });
  const pki = await loadVaultPki(dir);
  const identity = await issueIdentity(pki, options.custodian, "person", { clock, keyBits: options.keyBits });
  const store = storeConfigOf(options);
  const shared = store.kind === "azure" && store.shared === true ? sharedForInit(options) : undefined;
  if (shared !== undefined) await claimSharedState(shared, pki, clock);
  const policy = await AccessPolicyStore.init(
    shared?.policyVersions ?? join(dir, "policy"),
    options.custodian,
    {
      clock,
    },
  );
  await writeVaultConfig(dir, {
    format: VAULT_FORMAT,
    vaultId,
    createdAt: clock.now().toISOString(),
    store,
    defaultRetentionDays: options.defaultRetentionDays ?? 365,
    checkpointEvery: 1000,
    ...(options.witness === undefined ? {} : { witness: options.witness }),
  });
  const opened = await openVaultParts(
    {
      dir,
      clock,
      ...(options.openStore === undefined ? {} : { store: options.openStore }),
      ...(shared === undefined ? {} : { shared }),
    },
    "init",
  );
  try {
    const { guard } = opened.ctx;
    const who = options.custodian;
    await guard.fact(
      who,
      FACT.vaultInit,
      `vault:${vaultId}`,
      `vault created with ${who} as its first custodian`,
      {
        vaultId,
        ...(options.witness === undefined ? {} : { witness: options.witness }),
        settings: vaultSettings(opened.ctx.config),
        sealKeySha256: createHash("sha256").update(pki.sealKey).digest("hex"),
      },
    );
    const [signerPem] = [...pki.signers.values()].map((s) => s.certificatePem);
    if (signerPem === undefined) throw new CustodyError("ERR_INTERNAL", "the new vault has no signer");
    const signer = new X509Certificate(signerPem);
    await guard.fact(who, FACT.signerInstalled, `vault:${vaultId}`, "first vault signer installed", {
      serialNumber: signer.serialNumber.toUpperCase(),
      fingerprintSha256: fingerprintOf(signer),
    });
    await guard.fact(
      who,
      FACT.identityIssued,
      `principal:${who}`,
      `person identity ${identity.serialNumber} issued to ${who}`,
      {
        name: who,
        serialNumber: identity.serialNumber,
        fingerprintSha256: identity.fingerprintSha256,
        kind: "person",
        active: true,
      },
    );
    await guard.fact(who, FACT.policyChanged, "policy", "access policy version 1 (init)", {
      version: policy.version,
      hash: policy.hash,
    });
    await guard.checkpoint();
  } finally {
    await opened.audit.close();
    // the index holds its file exclusively: left open, every later open in this process went without it
    opened.ctx.index?.close();
    opened.ctx.boundPolicy.close();
  }
  return identity.identityPem;
}

/** An Azure vault keeps its shared state in its container unless vault.json says otherwise (`shared: false`). */
function storeConfigOf(options: VaultInitOptions): StoreConfig {
  const store = options.store ?? { kind: "fs", dir: "store" };
  return store.kind === "azure" ? { ...store, shared: store.shared ?? true } : store;
}

function sharedForInit(options: VaultInitOptions): VaultSharedState {
  const shared = options.shared ?? sharedStateOf(options.openStore);
  if (shared === undefined) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      "an Azure vault keeps its audit log and policy in its container: pass the AzureBlobEvidenceStore as openStore",
    );
  }
  return shared;
}

/** The CA certificate goes first, create-only: a container that already holds a vault is refused. */
async function claimSharedState(shared: VaultSharedState, pki: VaultPki, clock: Clock): Promise<void> {
  if (!(await shared.createDocument(SHARED_CA, pki.caCertificatePem))) {
    throw new CustodyError("ERR_ALREADY_EXISTS", `${shared.description} already holds a vault`);
  }
  await new SharedRevocationList(shared, pki, clock).create();
}
