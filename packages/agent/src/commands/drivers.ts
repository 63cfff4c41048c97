import { readFile } from "node:fs/promises";
import { CustodyError, toCustodyError } from "@custody/core";

/** One /proc/modules line: name size instances deps state address [taint]. */
export function parseProcModules(text: string): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6) continue;
    const [name, size, instances, deps, state, address, taint] = f;
    rows.push({
      name,
      size: Number(size),
      instances: Number(instances),
      usedBy: deps === "-" ? "" : (deps ?? "").replace(/,$/, ""),
      state,
      address,
      taint: taint?.replace(/[()]/g, "") ?? "",
    });
  }
  return rows;
}

/** Kernel modules on Linux, from /proc/modules (the loaded list; no tool is run). */
export async function drivers(): Promise<Record<string, unknown>[]> {
  if (process.platform !== "linux")
    throw new CustodyError("ERR_NOT_PRESENT", `drivers is not available on ${process.platform} yet`);
  try {
    return parseProcModules(await readFile("/proc/modules", "utf8"));
  } catch (cause) {
    // Some sandboxes (gVisor, some containers) have no module list at all: absent, not failed.
    if ((cause as { code?: unknown }).code === "ENOENT")
      throw new CustodyError("ERR_NOT_PRESENT", "this kernel shows no module list (/proc/modules)");
    throw toCustodyError(cause, "ERR_IO", "reading /proc/modules failed");
  }
}
