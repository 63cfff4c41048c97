import { readFile, realpath } from "node:fs/promises";
import { join } from "node:path";

/** What /sys says about a block device: its size, sector size and the names a court can match. */
export interface BlockDeviceInfo {
  size: number;
  sectorSize: number;
  identification: Record<string, string>;
}

const IDENTIFYING_FILES: readonly [string, string][] = [
  ["model", "device/model"],
  ["vendor", "device/vendor"],
  ["serial", "device/serial"],
  ["wwid", "device/wwid"],
  ["wwid", "wwid"],
  ["firmware", "device/firmware_rev"],
  ["deviceMapperName", "dm/name"],
  ["deviceMapperUuid", "dm/uuid"],
  ["loopBackingFile", "loop/backing_file"],
  ["partition", "partition"],
];

/** Reads /sys/dev/block/MAJ:MIN for the device number `rdev` of an open block device. */
export async function blockDeviceInfo(rdev: number): Promise<BlockDeviceInfo> {
  const dir = await realpath(`/sys/dev/block/${major(rdev)}:${minor(rdev)}`);
  const identification: Record<string, string> = { kernelName: dir.slice(dir.lastIndexOf("/") + 1) };
  for (const [name, file] of IDENTIFYING_FILES) {
    const value = await readSysText(join(dir, file));
    if (value !== undefined && value !== "" && identification[name] === undefined)
      identification[name] = value;
  }
  return {
    size: await blockDeviceSize(rdev),
    sectorSize: Number(await readSysText(join(dir, "queue/logical_block_size"))) || 512,
    identification,
  };
}

/** The device's size now, in bytes (/sys counts 512-byte units whatever the sector size). */
export async function blockDeviceSize(rdev: number): Promise<number> {
  const sectors = await readSysText(`/sys/dev/block/${major(rdev)}:${minor(rdev)}/size`);
  return Number(sectors ?? "0") * 512;
}

async function readSysText(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, "utf8")).trim().slice(0, 1024);
  } catch {
    // Most attributes exist only for some kinds of device: an absent one is simply not stated.
    return undefined;
  }
}

// Linux's encoding of dev_t (glibc gnu_dev_major/minor).
function major(dev: number): number {
  return Number(((BigInt(dev) >> 8n) & 0xfffn) | ((BigInt(dev) >> 32n) & ~0xfffn));
}

function minor(dev: number): number {
  return Number((BigInt(dev) & 0xffn) | ((BigInt(dev) >> 12n) & ~0xffn));
}
