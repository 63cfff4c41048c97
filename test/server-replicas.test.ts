import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { verifyAuditLog } from "@custody/audit";
import { AzureAuditSource, AzureBlobEvidenceStore } from "@custody/azure";
import { createVaultClient, type VaultClient } from "@custody/client";
import { isCustodyError } from "@custody/core";
import { Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AzuriteInstance, startAzurite } from "../packages/azure/test/azurite.js";

// Three `custody serve` processes (the built CLI) in front of one vault whose shared state is one
// Azurite container, each with only its own copy of the vault folder (vault.json and the keys), as
// replicas behind a load balancer. Twenty clients (@custody/client) work through them at once.
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const CONTAINER = "served-replicas";
const CONNECTION_ENV = "CUSTODY_REPLICAS_AZURE";
const CLIENTS = 20;
const ROUNDS = 3;
const ANALYSTS = 4;
const work = mkdtempSync(join(tmpdir(), "custody-served-replicas-"));
const live = new Set<ChildProcess>();
const replicaDir = (n: number) => join(work, `replica-${n}`);
let azurite: AzuriteInstance;
let alicePem = "";
let caPem = "";

interface Replica {
  url: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

// the Azure SDK as @custody/azure resolves it (the repository root does not depend on it)
const azureSdk = createRequire(join(import.meta.dirname, "..", "packages", "azure", "package.json"))(
  "@azure/storage-blob",
) as typeof import("@azure/storage-blob");

const storeOptions = () => ({ connectionString: azurite.connectionString, containerName: CONTAINER });

beforeAll(async () => {
  azurite = await startAzurite();
  const created = await Vault.init(replicaDir(0), {
    custodian: "alice",
    keyBits: 2048,
    store: { kind: "azure", container: CONTAINER, connectionStringEnv: CONNECTION_ENV },
    openStore: await AzureBlobEvidenceStore.open({ ...storeOptions(), createContainer: true }),
  });
  await created.vault.close();
  alicePem = created.identityPem;
  writeFileSync(join(work, "alice.pem"), alicePem, { mode: 0o600 });
  caPem = readFileSync(join(replicaDir(0), "pki", "ca.pem"), "utf8");
  // A replica is a copy of the vault folder (vault.json and pki/): nothing else lives there.
  for (const n of [1, 2, 3]) cpSync(replicaDir(0), replicaDir(n), { recursive: true });
}, 120_000);

afterAll(async () => {
  for (const child of live) child.kill("SIGKILL");
  await azurite?.stop();
  rmSync(work, { recursive: true, force: true });
});

const env = () => ({ ...process.env, [CONNECTION_ENV]: azurite.connectionString, CUSTODY_LOG_LEVEL: "warn" });

/** `custody serve` on its own copy of the vault folder, on a free port; resolves once it listens. */
function serve(n: number): Promise<Replica> {
  const child = spawn(
    process.execPath,
    [BIN, "serve", "--vault", replicaDir(n), "--listen", "127.0.0.1:0", "--name", "127.0.0.1"],
    { cwd: work, env: env(), stdio: ["ignore", "ignore", "pipe"] },
  );
  live.add(child);
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      live.delete(child);
      resolve(code);
    }),
  );
  return new Promise((resolve, reject) => {
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (text: string) => {
      stderr += text;
      const url = /listening on (https:\/\/\S+?),? /.exec(stderr)?.[1];
      if (url !== undefined) resolve({ url, child, exited });
    });
    void exited.then((code) => reject(new Error(`replica ${n} exited ${code}: ${stderr}`)));
  });
}

function custody(args: string[]) {
  const run = spawnSync(process.execPath, [BIN, ...args], { cwd: work, env: env(), encoding: "utf8" });
  return { code: run.status, stdout: run.stdout, stderr: run.stderr };
}

/** What a client does on a conflict (another replica changed the policy first): try again. */
async function again<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (!isCustodyError(error, "ERR_CONFLICT") || attempt >= 20) throw error;
    }
  }
}

async function readAll(client: VaultClient, item: { id: string; caseId: string }): Promise<string> {
  const read = await client.read(item);
  const hash = createHash("sha256");
  for await (const chunk of read.stream) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * One client's session on one replica; every line it returns was acknowledged by the server:
 * "ingest CASE ID", "hold CASE ID", "grant NAME SCOPE", "read CASE ID".
 */
async function session(k: number, client: VaultClient, custodian: boolean): Promise<string[]> {
  const acked: string[] = [];
  const caseId = custodian ? `H${k}` : `C${k % ANALYSTS}`;
  for (let i = 0; i < ROUNDS; i += 1) {
    const file = join(work, `client-${k}-${i}.txt`);
    writeFileSync(file, `client ${k} round ${i} ${"x".repeat(100 * i)}\n`);
    const item = await client.ingest(file, { caseId });
    acked.push(`ingest ${caseId} ${item.id}`);
    const selector = { id: item.id, caseId };
    expect((await client.show(selector)).id).toBe(item.id);
    if (custodian) {
      await client.hold(selector);
      acked.push(`hold ${caseId} ${item.id}`);
      const grant = { name: `reader-${k}-${i}`, role: "investigator", scope: `case:${caseId}` } as const;
      await again(() => client.grant(grant));
      acked.push(`grant ${grant.name} ${grant.scope}`);
    }
    expect(await readAll(client, selector)).toBe(item.id);
    acked.push(`read ${caseId} ${item.id}`);
  }
  expect((await client.list({ caseId })).length).toBeGreaterThanOrEqual(ROUNDS);
  return acked;
}

describe("three custody serve replicas on one Azurite container", () => {
  it("20 concurrent clients ingest, grant, hold and read through them: audit verify passes, nothing acknowledged is lost, no fork", async () => {
    const replicas = await Promise.all([1, 2, 3].map((n) => serve(n)));
    const clients: VaultClient[] = [];
    const client = (k: number, identityPem: string) => {
      const made = createVaultClient({ baseUrl: (replicas[k % 3] as Replica).url, identityPem, caPem });
      clients.push(made);
      return made;
    };
    let acked: string[];
    try {
      // identities issued and granted on the first replica, used on all three
      const admin = client(0, alicePem);
      const analysts: string[] = [];
      for (let n = 0; n < ANALYSTS; n += 1) {
        analysts.push((await admin.issueIdentity(`analyst${n}`)).identityPem);
        for (const role of ["responder", "investigator"]) {
          await admin.grant({ name: `analyst${n}`, role, scope: `case:C${n}` });
        }
      }
      const custodians = 4;
      acked = (
        await Promise.all(
          Array.from({ length: CLIENTS }, (_, k) => {
            const custodian = k >= CLIENTS - custodians;
            const identity = custodian ? alicePem : (analysts[k % ANALYSTS] as string);
            return session(k, client(k, identity), custodian);
          }),
        )
      ).flat();
    } finally {
      for (const made of clients) made.close();
      for (const replica of replicas) replica.child.kill("SIGTERM");
    }
    // each replica drains and closes its log with a signed checkpoint
    expect(await Promise.all(replicas.map((replica) => replica.exited))).toEqual([0, 0, 0]);

    const verify = custody([
      "audit",
      "verify",
      "--vault",
      replicaDir(0),
      "--identity",
      join(work, "alice.pem"),
    ]);
    expect(verify.code, verify.stderr).toBe(0);

    const vault = await Vault.open({
      dir: replicaDir(0),
      store: await AzureBlobEvidenceStore.open(storeOptions()),
    });
    try {
      const alice = vault.authenticate(alicePem);
      const items = new Map((await vault.list(alice)).map((i) => [`${i.caseId} ${i.id}`, i]));
      const lines = (kind: string) => acked.filter((line) => line.startsWith(`${kind} `));
      const rest = (line: string) => line.slice(line.indexOf(" ") + 1);
      expect(lines("ingest")).toHaveLength(CLIENTS * ROUNDS);
      for (const line of lines("ingest")) expect(items.has(rest(line)), line).toBe(true);
      for (const line of lines("hold")) expect(items.get(rest(line))?.legalHold, line).toBe(true);
      const grants = (await vault.listAccess(alice)).grants;
      expect(lines("grant")).toHaveLength(4 * ROUNDS);
      for (const line of lines("grant")) {
        const [, name, scope] = line.split(" ");
        expect(
          grants.some((g) => g.principal === name && g.scope === scope),
          line,
        ).toBe(true);
      }
      // the facts and decisions of every acknowledged request are in one gap-free log
      const records = await vault.showAudit(alice);
      expect(records.map((r) => r.seq)).toEqual(records.map((_, seq) => seq));
      const facts = (action: string) =>
        new Set(records.filter((r) => r.action === action).map((r) => r.target.slice("item:".length)));
      const ingested = facts("evidence.ingested");
      for (const line of lines("ingest")) expect(ingested.has(rest(line).replace(" ", "/")), line).toBe(true);
      const held = facts("evidence.hold-set");
      for (const line of lines("hold")) expect(held.has(rest(line).replace(" ", "/")), line).toBe(true);
      const reads = records.filter(
        (r) =>
          r.action === "evidence.read" && r.outcome === "allow" && typeof r.details?.requestId === "string",
      );
      expect(reads.length).toBeGreaterThanOrEqual(lines("read").length);
      expect((await vault.check(alice)).filter((r) => !r.ok)).toEqual([]);
    } finally {
      await vault.close();
    }
    // offline, with only the CA: one chain of records and of checkpoints (a fork is ERR_AUDIT_FORK)
    const container = azureSdk.BlobServiceClient.fromConnectionString(
      azurite.connectionString,
    ).getContainerClient(CONTAINER);
    const source = new AzureAuditSource({ containerClient: container, prefix: "vault/audit/" });
    const offline = await verifyAuditLog(source, { trust: { trustAnchors: [caPem] } });
    expect(offline.problem).toBeUndefined();
    expect(offline.ok).toBe(true);
  }, 110_000);
});
