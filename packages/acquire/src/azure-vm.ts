import { CustodyError, isCustodyError } from "@custody/core";
import type { AuthenticatedPrincipal, EvidenceItem, Vault } from "@custody/vault";
import { type AcquireOptions, acquire } from "./acquire.js";

/** One managed disk of a VM. */
export interface VmDisk {
  id: string;
  name: string;
  /** `os`, or `data` with its LUN. */
  role: "os" | "data";
  lun?: number;
}

export interface DiskSnapshot {
  id: string;
  name: string;
}

/**
 * The cloud side of the reference runbook for one VM: its disks, and snapshots of them that can be read
 * through a SAS for a while. `@custody/azure`'s `ComputeVmSnapshots` implements it with
 * `@azure/arm-compute` and any `TokenCredential`.
 */
export interface VmSnapshotService {
  /** The VM's resource id and its OS and data disks. */
  vm(): Promise<{ id: string; name: string; disks: VmDisk[] }>;
  createSnapshot(disk: VmDisk, snapshotName: string): Promise<DiskSnapshot>;
  /** A read SAS URL of the snapshot (Azure's "grant access"), valid for `durationSeconds`. */
  grantRead(snapshot: DiskSnapshot, durationSeconds: number): Promise<string>;
  revokeRead(snapshot: DiskSnapshot): Promise<void>;
  deleteSnapshot(snapshot: DiskSnapshot): Promise<void>;
}

/** One step of the runbook as it happened. */
export interface VmAcquisitionStep {
  step: "snapshot" | "grant-read" | "acquire" | "revoke-read" | "delete-snapshot";
  disk: string;
  target: string;
  at: string;
  outcome: "ok" | "failed";
  error?: string;
}

export interface AzureVmOptions extends Omit<AcquireOptions, "name" | "labels"> {
  /** How long the read SAS of each snapshot lives (default 4 hours). */
  accessSeconds?: number;
  /** Snapshot names are `<prefix>-<disk name>` (default `custody-<case>-<time>`). */
  snapshotPrefix?: string;
  /** Called after each step (for a progress display or a log). */
  onStep?: (step: VmAcquisitionStep) => void;
}

export interface AzureVmAcquisition {
  items: EvidenceItem[];
  steps: VmAcquisitionStep[];
}

/**
 * The reference runbook in one pass, for every disk of a VM: snapshot it, grant read access, acquire the
 * snapshot's SAS URL into the vault (the item's labels name the VM, disk and snapshot, bound by the
 * ingest fact), revoke access, delete the snapshot. A disk that fails stops the run: its access is
 * revoked and its snapshot kept, so the acquisition can be run again; the error lists the steps so far.
 */
export async function acquireAzureVm(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  service: VmSnapshotService,
  options: AzureVmOptions,
): Promise<AzureVmAcquisition> {
  const vm = await service.vm();
  const prefix = options.snapshotPrefix ?? `custody-${options.caseId}-${Date.now().toString(36)}`;
  const run: AzureVmAcquisition = { items: [], steps: [] };
  for (const disk of vm.disks) {
    try {
      run.items.push(
        await acquireDisk(vault, principal, service, vm, disk, `${prefix}-${disk.name}`, options, run),
      );
    } catch (error) {
      throw new CustodyError(
        isCustodyError(error) ? error.code : "ERR_INTERNAL",
        `acquiring disk ${disk.name} of ${vm.name} failed: ${(error as Error).message}`,
        { cause: error, details: { steps: run.steps, acquired: run.items.map((item) => item.id) } },
      );
    }
  }
  return run;
}

async function acquireDisk(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  service: VmSnapshotService,
  vm: { id: string; name: string },
  disk: VmDisk,
  snapshotName: string,
  options: AzureVmOptions,
  run: AzureVmAcquisition,
): Promise<EvidenceItem> {
  const record = recorder(disk, options, run);
  const snapshot = await record("snapshot", snapshotName, () => service.createSnapshot(disk, snapshotName));
  let acquired = false;
  try {
    const url = await record("grant-read", snapshot.id, () =>
      service.grantRead(snapshot, options.accessSeconds ?? 4 * 3600),
    );
    const item = await record("acquire", snapshot.id, () =>
      acquire(vault, principal, url, {
        ...options,
        name: `${vm.name}-${disk.name}`,
        labels: {
          azureVm: vm.id,
          azureDisk: disk.id,
          azureDiskRole: disk.role === "os" ? "os" : `data lun ${disk.lun ?? "?"}`,
          azureSnapshot: snapshot.id,
        },
      }),
    );
    acquired = true;
    return item;
  } finally {
    await record("revoke-read", snapshot.id, () => service.revokeRead(snapshot));
    // Only the vault's immutable copy is kept; a snapshot whose acquisition failed stays for a retry.
    if (acquired) await record("delete-snapshot", snapshot.id, () => service.deleteSnapshot(snapshot));
  }
}

function recorder(disk: VmDisk, options: AzureVmOptions, run: AzureVmAcquisition) {
  return async <T>(step: VmAcquisitionStep["step"], target: string, work: () => Promise<T>): Promise<T> => {
    const at = new Date().toISOString();
    try {
      const result = await work();
      report({ step, disk: disk.name, target, at, outcome: "ok" });
      return result;
    } catch (error) {
      report({
        step,
        disk: disk.name,
        target,
        at,
        outcome: "failed",
        error: (error as Error).message.slice(0, 500),
      });
      throw error;
    }
  };

  function report(step: VmAcquisitionStep): void {
    run.steps.push(step);
    options.onStep?.(step);
  }
}
