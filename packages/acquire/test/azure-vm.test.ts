import { createHash } from "node:crypto";
import {
  BlobSASPermissions,
  BlobServiceClient,
  type ContainerClient,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from "@azure/storage-blob";
import {
  type AcquireOptions,
  acquireAzureVm,
  type DiskSnapshot,
  type VmDisk,
  type VmSnapshotService,
} from "@custody/acquire";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AzuriteInstance, uniqueContainer, useAzurite } from "../../azure/test/azurite.js";
import { makeVault, type TestVault } from "./helpers.js";

// The runbook's orchestration over a stand-in of the compute API whose snapshots are real page blobs
// in Azurite, read through real SAS URLs. The ARM calls themselves (@custody/azure's ComputeVmSnapshots)
// cannot run here; docs/acquisition.md says so.
const MIB = 1024 * 1024;
let azurite: AzuriteInstance;
let t: TestVault;
let container: ContainerClient;
const VM_ID = "/subscriptions/0000/resourceGroups/soc/providers/Microsoft.Compute/virtualMachines/web-1";
const disks: VmDisk[] = [
  {
    id: "/subscriptions/0000/resourceGroups/soc/providers/Microsoft.Compute/disks/web-1-os",
    name: "web-1-os",
    role: "os",
  },
  {
    id: "/subscriptions/0000/resourceGroups/soc/providers/Microsoft.Compute/disks/web-1-data",
    name: "web-1-data",
    role: "data",
    lun: 0,
  },
];
const contents = new Map<string, Buffer>();

class AzuriteSnapshots implements VmSnapshotService {
  readonly revoked: string[] = [];
  constructor(private readonly breakGrantOf?: string) {}

  async vm() {
    return { id: VM_ID, name: "web-1", disks };
  }

  async createSnapshot(disk: VmDisk, snapshotName: string): Promise<DiskSnapshot> {
    const data = contents.get(disk.id) ?? Buffer.alloc(0);
    const blob = container.getPageBlobClient(snapshotName);
    await blob.create(data.length);
    await blob.uploadPages(data, 0, data.length);
    return { id: `${VM_ID.split("/virtualMachines/")[0]}/snapshots/${snapshotName}`, name: snapshotName };
  }

  async grantRead(snapshot: DiskSnapshot): Promise<string> {
    if (snapshot.name.endsWith(this.breakGrantOf ?? "\0")) return `${container.url}/no-such-blob?sv=x&sig=y`;
    const key = /AccountKey=([^;]+)/.exec(azurite.connectionString)?.[1] ?? "";
    const sas = generateBlobSASQueryParameters(
      {
        containerName: container.containerName,
        blobName: snapshot.name,
        permissions: BlobSASPermissions.parse("r"),
        expiresOn: new Date(Date.now() + 3_600_000),
      },
      new StorageSharedKeyCredential("devstoreaccount1", key),
    );
    return `${container.getBlobClient(snapshot.name).url}?${sas.toString()}`;
  }

  async revokeRead(snapshot: DiskSnapshot): Promise<void> {
    this.revoked.push(snapshot.name);
  }

  async deleteSnapshot(snapshot: DiskSnapshot): Promise<void> {
    await container.getBlobClient(snapshot.name).delete();
  }
}

beforeAll(async () => {
  azurite = await useAzurite();
  t = await makeVault("custody-acquire-vm-");
  container = BlobServiceClient.fromConnectionString(azurite.connectionString).getContainerClient(
    uniqueContainer("vm-snapshots"),
  );
  await container.create();
  contents.set(disks[0]?.id ?? "", Buffer.alloc(3 * MIB, 0x11));
  contents.set(disks[1]?.id ?? "", Buffer.alloc(2 * MIB, 0x22));
});

afterAll(async () => {
  await t?.cleanup();
  await azurite?.stop();
});

const fast: Pick<AcquireOptions, "blob"> = { blob: { retries: 0, retryDelayMs: 0 } };
const blobNames = async () => {
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat()) names.push(blob.name);
  return names;
};

describe("acquireAzureVm", () => {
  it("snapshots every disk, acquires each through its SAS, revokes access and deletes the snapshots", async () => {
    const service = new AzuriteSnapshots();
    const run = await acquireAzureVm(t.vault, t.alice, service, {
      caseId: "IR-18-vm",
      snapshotPrefix: "case18",
      ...fast,
    });
    expect(run.items.map((item) => item.id)).toEqual(
      disks.map((disk) =>
        createHash("sha256")
          .update(contents.get(disk.id) ?? "")
          .digest("hex"),
      ),
    );
    expect(run.items[1]?.labels).toMatchObject({
      azureVm: VM_ID,
      azureDisk: disks[1]?.id,
      azureDiskRole: "data lun 0",
    });
    expect(run.items[0]?.image?.source.kind).toBe("azure-snapshot");
    expect(run.steps.map((step) => `${step.disk}:${step.step}:${step.outcome}`)).toEqual(
      disks.flatMap((disk) =>
        ["snapshot", "grant-read", "acquire", "revoke-read", "delete-snapshot"].map(
          (step) => `${disk.name}:${step}:ok`,
        ),
      ),
    );
    expect(service.revoked).toEqual(["case18-web-1-os", "case18-web-1-data"]);
    expect(await blobNames()).toEqual([]);
  });

  it("stops at a disk that fails: access revoked, its snapshot kept for a retry, the steps in the error", async () => {
    const service = new AzuriteSnapshots("web-1-data");
    const error = await acquireAzureVm(t.vault, t.alice, service, {
      caseId: "IR-18-vm2",
      snapshotPrefix: "retry",
      ...fast,
    }).catch(
      (e: unknown) =>
        e as { code: string; details: { steps: { step: string; outcome: string }[]; acquired: string[] } },
    );
    expect(error.code).toBe("ERR_ACCESS_DENIED");
    expect(error.details.acquired).toHaveLength(1);
    expect(error.details.steps.slice(-2)).toMatchObject([
      { step: "acquire", outcome: "failed" },
      { step: "revoke-read", outcome: "ok" },
    ]);
    expect(await blobNames()).toEqual(["retry-web-1-data"]);
  });
});
