import type { ContainerClient } from "@azure/storage-blob";
import type { PolicyVersionStorage } from "@custody/access";
import type { AuditSink } from "@custody/audit";
import { CustodyError } from "@custody/core";
import { AzureAuditSink } from "./audit-sink.js";
import { auditAzureError } from "./audit-source.js";

/** Where a replicated vault's shared state lives in its evidence container (items are under `items/`). */
export const VAULT_STATE_PREFIX = "vault/";
/** Policy versions and documents are small; anything bigger was not written by a vault. */
const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;
const VERSION_BLOB = /^(\d{6,})\.json$/;

async function readSmall(container: ContainerClient, name: string): Promise<Buffer | undefined> {
  const blob = container.getBlockBlobClient(name);
  try {
    const size = (await blob.getProperties()).contentLength ?? 0;
    if (size > MAX_DOCUMENT_BYTES) {
      throw new CustodyError("ERR_POLICY_INVALID", `${name} is ${size} bytes, too large for vault state`);
    }
    return await blob.downloadToBuffer(0, size);
  } catch (error) {
    const mapped = auditAzureError(error, `cannot read ${name}`);
    if (mapped.code === "ERR_NOT_FOUND") return undefined;
    throw mapped;
  }
}

/** Stores a blob create-only; false when it exists. */
async function createOnly(container: ContainerClient, name: string, bytes: Uint8Array): Promise<boolean> {
  try {
    await container
      .getBlockBlobClient(name)
      .upload(bytes, bytes.byteLength, { conditions: { ifNoneMatch: "*" } });
    return true;
  } catch (error) {
    const mapped = auditAzureError(error, `cannot store ${name}`);
    if (mapped.code === "ERR_ALREADY_EXISTS") return false;
    throw mapped;
  }
}

async function listNames(container: ContainerClient, prefix: string): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const blob of container.listBlobsFlat({ prefix })) names.push(blob.name);
  } catch (error) {
    throw auditAzureError(error, `cannot list ${prefix}`);
  }
  return names.sort();
}

/** Policy versions as create-only blobs `vault/policy/000001.json`, ...: a concurrent change is ERR_CONFLICT. */
export class AzurePolicyStorage implements PolicyVersionStorage {
  readonly description: string;
  readonly #container: ContainerClient;
  readonly #prefix: string;

  constructor(container: ContainerClient, prefix: string) {
    this.#container = container;
    this.#prefix = prefix;
    this.description = `azure:${container.containerName}/${prefix}`;
  }

  async list(): Promise<number[]> {
    const names = await listNames(this.#container, this.#prefix);
    const versions: number[] = [];
    for (const name of names) {
      const match = VERSION_BLOB.exec(name.slice(this.#prefix.length));
      if (match?.[1] !== undefined) versions.push(Number(match[1]));
    }
    return versions.sort((a, b) => a - b);
  }

  async read(version: number): Promise<Buffer> {
    const bytes = await readSmall(this.#container, this.#name(version));
    if (bytes === undefined) throw new CustodyError("ERR_NOT_FOUND", `policy version ${version} is missing`);
    return bytes;
  }

  async create(version: number, bytes: Uint8Array): Promise<void> {
    if (!(await createOnly(this.#container, this.#name(version), bytes))) {
      throw new CustodyError("ERR_CONFLICT", `policy version ${version} was written by someone else first`, {
        details: { version },
      });
    }
  }

  async prepare(): Promise<void> {}

  #name(version: number): string {
    return `${this.#prefix}${String(version).padStart(6, "0")}.json`;
  }
}

/**
 * A vault's shared state in its evidence container (see VaultSharedState in @custody/vault): the audit
 * log (append-blob segments shared by every replica), its checkpoints, the policy versions, the CA
 * certificate and the numbered CRLs, under `vault/`.
 */
export class AzureVaultState {
  readonly description: string;
  readonly policyVersions: AzurePolicyStorage;
  readonly #container: ContainerClient;
  readonly #prefix: string;

  constructor(container: ContainerClient, prefix = VAULT_STATE_PREFIX) {
    this.#container = container;
    this.#prefix = prefix;
    this.description = `azure:${container.containerName}/${prefix}`;
    this.policyVersions = new AzurePolicyStorage(container, `${prefix}policy/`);
  }

  openAuditSink(): Promise<AuditSink> {
    return AzureAuditSink.open({
      containerClient: this.#container,
      prefix: `${this.#prefix}audit/`,
      shared: true,
    });
  }

  async readDocument(name: string): Promise<string | undefined> {
    return (await readSmall(this.#container, this.#prefix + name))?.toString("utf8");
  }

  createDocument(name: string, text: string): Promise<boolean> {
    return createOnly(this.#container, this.#prefix + name, Buffer.from(text, "utf8"));
  }

  async listDocuments(prefix: string): Promise<string[]> {
    const names = await listNames(this.#container, this.#prefix + prefix);
    return names.map((name) => name.slice(this.#prefix.length));
  }
}
