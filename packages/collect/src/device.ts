import { arch, hostname, platform, release } from "node:os";
import { hostFs } from "./safe-fs.js";

export interface DeviceIdentity {
  /** A stable id: /etc/machine-id on Linux, else the host name. */
  id: string;
  hostname: string;
  os: string;
  osVersion: string;
  architecture: string;
}

/** Who this machine is, for the package manifest's device record. */
export async function deviceIdentity(): Promise<DeviceIdentity> {
  const name = hostname();
  if (platform() !== "linux") {
    return {
      id: name,
      hostname: name,
      os: platform() === "win32" ? "Windows" : platform(),
      osVersion: release(),
      architecture: arch(),
    };
  }
  const machineId = ((await hostFs.readText("/etc/machine-id", { maxBytes: 256 })) ?? "").trim();
  const osRelease =
    (await hostFs.readText("/etc/os-release", { maxBytes: 64 * 1024, followWithin: ["/etc", "/usr/lib"] })) ??
    "";
  const field = (key: string) => new RegExp(`^${key}="?([^"\\n]*)"?$`, "m").exec(osRelease)?.[1] ?? "";
  return {
    id: /^[0-9a-f]{32}$/.test(machineId) ? machineId : name,
    hostname: name,
    os: field("PRETTY_NAME") || field("NAME") || "Linux",
    osVersion: `${field("VERSION_ID")} (kernel ${release()})`.trim(),
    architecture: arch(),
  };
}
