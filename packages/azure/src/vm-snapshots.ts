import { ComputeManagementClient } from "@azure/arm-compute";
import { CustodyError, toCustodyError } from "@custody/core";
import type { TokenCredential } from "./options.js";

export interface ComputeVmSnapshotsOptions {
  subscriptionId: string;
  resourceGroup: string;
  vmName: string;
  credential: TokenCredential;
}

/** A managed disk of the VM, as `@custody/acquire`'s `VmSnapshotService` names it. */
interface VmDisk {
  id: string;
  name: string;
  role: "os" | "data";
  lun?: number;
}

interface DiskSnapshot {
  id: string;
  name: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._()-]{0,89}$/;

/**
 * The Azure compute calls of the disk-acquisition runbook for one VM, with `@azure/arm-compute`:
 * read the VM's disks, make a full snapshot of each in the VM's region and resource group, grant and
 * revoke read access (a SAS URL), delete the snapshot. Structurally a `VmSnapshotService` of
 * `@custody/acquire`. Not exercised by this repository's tests (no Azure subscription in CI).
 */
export class ComputeVmSnapshots {
  readonly #client: ComputeManagementClient;
  readonly #group: string;
  readonly #vmName: string;
  #location: string | undefined;

  constructor(options: ComputeVmSnapshotsOptions) {
    for (const [field, value] of Object.entries({
      subscriptionId: options.subscriptionId,
      resourceGroup: options.resourceGroup,
      vmName: options.vmName,
    })) {
      if (typeof value !== "string" || !NAME.test(value)) {
        throw new CustodyError("ERR_INVALID_ARGUMENT", `${field} is not a valid Azure name`);
      }
    }
    if (typeof options.credential?.getToken !== "function") {
      throw new CustodyError("ERR_INVALID_ARGUMENT", "a TokenCredential is required");
    }
    this.#client = new ComputeManagementClient(options.credential, options.subscriptionId);
    this.#group = options.resourceGroup;
    this.#vmName = options.vmName;
  }

  async vm(): Promise<{ id: string; name: string; disks: VmDisk[] }> {
    const vm = await this.#call("read the VM", () =>
      this.#client.virtualMachines.get(this.#group, this.#vmName),
    );
    this.#location = vm.location;
    const os = vm.storageProfile?.osDisk;
    const disks: VmDisk[] = [];
    if (os !== undefined)
      disks.push({ id: managedId(os.managedDisk?.id, os.name), name: os.name ?? "os", role: "os" });
    for (const data of vm.storageProfile?.dataDisks ?? []) {
      disks.push({
        id: managedId(data.managedDisk?.id, data.name),
        name: data.name ?? `lun${data.lun}`,
        role: "data",
        lun: data.lun,
      });
    }
    return { id: vm.id ?? this.#vmName, name: vm.name ?? this.#vmName, disks };
  }

  async createSnapshot(disk: VmDisk, snapshotName: string): Promise<DiskSnapshot> {
    if (this.#location === undefined) await this.vm();
    const location = this.#location;
    if (location === undefined)
      throw new CustodyError("ERR_BACKEND_UNAVAILABLE", "the VM's location is unknown");
    const snapshot = await this.#call(`snapshot ${disk.name}`, () =>
      this.#client.snapshots.createOrUpdate(this.#group, snapshotName, {
        location,
        incremental: false,
        creationData: { createOption: "Copy", sourceResourceId: disk.id },
        tags: { custody: "disk acquisition" },
      }),
    );
    return { id: snapshot.id ?? snapshotName, name: snapshotName };
  }

  async grantRead(snapshot: DiskSnapshot, durationSeconds: number): Promise<string> {
    const access = await this.#call(`grant read access to ${snapshot.name}`, () =>
      this.#client.snapshots.grantAccess(this.#group, snapshot.name, {
        access: "Read",
        durationInSeconds: durationSeconds,
      }),
    );
    if (access.accessSAS === undefined) {
      throw new CustodyError(
        "ERR_BACKEND_UNAVAILABLE",
        `granting access to ${snapshot.name} returned no SAS`,
      );
    }
    return access.accessSAS;
  }

  async revokeRead(snapshot: DiskSnapshot): Promise<void> {
    await this.#call(`revoke access to ${snapshot.name}`, () =>
      this.#client.snapshots.revokeAccess(this.#group, snapshot.name),
    );
  }

  async deleteSnapshot(snapshot: DiskSnapshot): Promise<void> {
    await this.#call(`delete ${snapshot.name}`, () =>
      this.#client.snapshots.delete(this.#group, snapshot.name),
    );
  }

  async #call<T>(what: string, work: () => PromiseLike<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      const status = (error as { statusCode?: number }).statusCode;
      if (status === 401 || status === 403) {
        throw new CustodyError(
          "ERR_ACCESS_DENIED",
          `Azure refused to ${what} (${status}): see docs/acquisition.md for the permissions`,
          { cause: error },
        );
      }
      if (status === 404)
        throw new CustodyError("ERR_NOT_FOUND", `could not ${what}: not found`, { cause: error });
      throw toCustodyError(error, "ERR_BACKEND_UNAVAILABLE", `could not ${what}`);
    }
  }
}

function managedId(id: string | undefined, name: string | undefined): string {
  if (id === undefined) {
    throw new CustodyError(
      "ERR_SOURCE_UNSUPPORTED",
      `disk ${name ?? "?"} is not a managed disk (an unmanaged VHD is a blob: acquire its SAS URL)`,
    );
  }
  return id;
}
