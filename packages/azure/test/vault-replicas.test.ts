import { type ChildProcess, spawn } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BlobServiceClient, type ContainerClient } from "@azure/storage-blob";
import { verifyAuditLog } from "@custody/audit";
import { AzureAuditSource, AzureBlobEvidenceStore } from "@custody/azure";
import { isCustodyError } from "@custody/core";
import { readRevokedSerials } from "@custody/manifest";
import { Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AzuriteInstance, uniqueContainer, useAzurite } from "./azurite.js";

// Three processes open one vault whose shared state is in one Azurite container; each has only its own
// copy of the vault folder (vault.json and the keys), as replicas behind a load balancer would.
const WORKER = join(import.meta.dirname, "replica", "worker.ts");
const REGISTER = join(import.meta.dirname, "..", "..", "audit", "test", "child", "register.mjs");
const CONTAINER = uniqueContainer("replicated");
const work = mkdtempSync(join(tmpdir(), "custody-replicas-"));
const live = new Set<ChildProcess>();
let azurite: AzuriteInstance;
let container: ContainerClient;
let identityPem = "";

const openStore = () =>
  AzureBlobEvidenceStore.open({
    connectionString: azurite.connectionString,
    containerName: CONTAINER,
    createContainer: true,
    protection: "library",
  });

beforeAll(async () => {
  azurite = await useAzurite();
  container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(CONTAINER);
  const created = await Vault.init(join(work, "replica-0"), {
    custodian: "alice",
    keyBits: 2048,
    store: { kind: "azure", container: CONTAINER, connectionStringEnv: "CUSTODY_TEST_AZURE" },
    openStore: await openStore(),
  });
  await created.vault.close();
  identityPem = created.identityPem;
  writeFileSync(join(work, "alice.pem"), identityPem, { mode: 0o600 });
  // A replica is a copy of the vault folder (vault.json and pki/): nothing else lives there.
  for (const n of [1, 2, 3]) cpSync(join(work, "replica-0"), join(work, `replica-${n}`), { recursive: true });
}, 120_000);

afterAll(async () => {
  for (const child of live) child.kill("SIGKILL");
  await azurite?.stop();
  rmSync(work, { recursive: true, force: true });
});

function runReplica(n: number, workers: number, rounds: number): Promise<string[]> {
  const flags = ["--experimental-transform-types", "--no-warnings", "--import", REGISTER];
  const args = [
    WORKER,
    join(work, `replica-${n}`),
    join(work, "alice.pem"),
    work,
    `r${n}`,
    `${workers}`,
    `${rounds}`,
  ];
  const child = spawn(process.execPath, [...flags, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      CUSTODY_TEST_AZURE: azurite.connectionString,
      CUSTODY_TEST_AZURE_CONTAINER: CONTAINER,
    },
  });
  live.add(child);
  let out = "";
  let err = "";
  child.stdout?.setEncoding("utf8").on("data", (text: string) => {
    out += text;
  });
  child.stderr?.setEncoding("utf8").on("data", (text: string) => {
    err += text;
  });
  return new Promise((resolve, reject) =>
    child.once("exit", (code) => {
      live.delete(child);
      if (code === 0) resolve(out.split("\n").filter((line) => line !== ""));
      else reject(new Error(`replica ${n} exited ${code}: ${err}`));
    }),
  );
}

async function openedRefusal(): Promise<string> {
  const error = await Vault.open({ dir: join(work, "replica-0"), store: await openStore() }).then(
    async (vault) => {
      await vault.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  return isCustodyError(error) ? error.code : String(error);
}

/** Overwrites a blob as someone with write access to the container but none of the keys would. */
async function tampered(name: string, edit: (text: string) => string): Promise<() => Promise<void>> {
  const blob = container.getBlockBlobClient(name);
  const original = await blob.downloadToBuffer();
  const changed = Buffer.from(edit(original.toString("utf8")), "utf8");
  await blob.upload(changed, changed.length);
  return async () => {
    await blob.upload(original, original.length);
  };
}

describe("three replicas of one vault on one Azure container", () => {
  it("20 concurrent workers ingest, grant, hold and read: nothing acknowledged is lost, the log does not fork", async () => {
    const acked = (await Promise.all([runReplica(1, 7, 6), runReplica(2, 7, 6), runReplica(3, 6, 6)])).flat();
    const vault = await Vault.open({ dir: join(work, "replica-0"), store: await openStore() });
    try {
      const alice = vault.authenticate(identityPem);
      const items = new Map((await vault.list(alice)).map((i) => [`${i.caseId} ${i.id}`, i]));
      const ingests = acked.filter((line) => line.startsWith("ingest "));
      expect(ingests).toHaveLength(20 * 6);
      for (const line of ingests) expect(items.has(line.slice(7)), line).toBe(true);
      for (const line of acked.filter((l) => l.startsWith("hold "))) {
        expect(items.get(line.slice(5))?.legalHold, line).toBe(true);
      }
      const grants = (await vault.listAccess(alice)).grants;
      const granted = acked.filter((line) => line.startsWith("grant "));
      expect(granted).toHaveLength(20 * 2);
      for (const line of granted) {
        const [, name, scope] = line.split(" ");
        expect(
          grants.some((g) => g.principal === name && g.scope === scope),
          line,
        ).toBe(true);
      }
      expect((await vault.check(alice)).filter((r) => !r.ok)).toEqual([]);
      const report = await vault.verifyAudit(alice);
      expect(report.problem).toBeUndefined();
      expect(report.ok).toBe(true);
    } finally {
      await vault.close();
    }
    // Offline, with only the CA: one chain of records and of checkpoints (a fork is ERR_AUDIT_FORK).
    const source = new AzureAuditSource({ containerClient: container, prefix: "vault/audit/" });
    const offline = await verifyAuditLog(source, { trust: { trustAnchors: [await caPem()] } });
    expect(offline.problem).toBeUndefined();
    expect(offline.checkpoints).toBeGreaterThan(1);
  }, 600_000);

  it("refuses at open a policy version, a CRL or a checkpoint edited in the container without the keys", async () => {
    const policy = await tampered("vault/policy/000002.json", (text) => text.replace("analyst-", "mallory"));
    expect(await openedRefusal()).toBe("ERR_POLICY_INVALID");
    await policy();
    const crls: string[] = [];
    for await (const blob of container.listBlobsFlat({ prefix: "vault/pki/crl/" })) crls.push(blob.name);
    const crl = await tampered(crls.sort().at(-1) ?? "", flipBase64);
    expect(await openedRefusal()).toBe("ERR_MALFORMED_CRL");
    await crl();
    const checkpoints: string[] = [];
    for await (const blob of container.listBlobsFlat({ prefix: "vault/audit/checkpoints/" })) {
      if (blob.name.endsWith(".json")) checkpoints.push(blob.name);
    }
    const newest = await tampered(checkpoints.sort().at(-1) ?? "", (text) =>
      text.replace(/"rootHash":"[0-9a-f]{8}/, '"rootHash":"00000000'),
    );
    expect(await openedRefusal()).toMatch(/^ERR_AUDIT_(CHAIN_BROKEN|CHECKPOINT_INVALID)$/);
    await newest();
    const ca = await tampered("vault/pki/ca.pem", flipBase64);
    expect(await openedRefusal()).toBe("ERR_INTEGRITY_MISMATCH");
    await ca();
    expect(await openedRefusal()).toBe("undefined");
  }, 300_000);
});

async function caPem(): Promise<string> {
  return (await container.getBlockBlobClient("vault/pki/ca.pem").downloadToBuffer()).toString("utf8");
}

/** One base64 character in the middle of a PEM body, changed. */
function flipBase64(pem: string): string {
  const lines = pem.split("\n");
  const line = lines[1] ?? "";
  lines[1] = `${line.slice(0, 30)}${line[30] === "A" ? "B" : "A"}${line.slice(31)}`;
  return lines.join("\n");
}

describe("identities across replicas", () => {
  it("an identity issued on one replica logs in on another once it caught up; a revocation reaches both, and the CRL", async () => {
    const a = await Vault.open({ dir: join(work, "replica-1"), store: await openStore() });
    const b = await Vault.open({ dir: join(work, "replica-2"), store: await openStore() });
    try {
      const aliceOnA = a.authenticate(identityPem);
      const bob = await a.issueIdentity(aliceOnA, "bob-replicas");
      await a.grant(aliceOnA, { name: "bob-replicas", role: "auditor", scope: "*" });
      expect(() => b.authenticate(bob.identityPem)).toThrow(
        expect.objectContaining({ code: "ERR_IDENTITY_INVALID" }),
      );
      await b.catchUp();
      const bobOnB = b.authenticate(bob.identityPem);
      expect((await b.whoami(bobOnB)).grants.map((g) => g.role)).toEqual(["auditor"]);
      await a.revokeIdentity(aliceOnA, "bob-replicas");
      // The principal B authenticated before the revocation is refused at B's next decision.
      const error = await b.listAccess(bobOnB).catch((e: unknown) => e);
      expect(isCustodyError(error) ? error.code : error).toBe("ERR_IDENTITY_INVALID");
      expect(readRevokedSerials(await b.crl(), await caPem()).has(bob.serialNumber)).toBe(true);
    } finally {
      await a.close();
      await b.close();
    }
  }, 120_000);
});
