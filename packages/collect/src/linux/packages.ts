import { csvStream, toCsv } from "../csv.js";
import type { Collector } from "../types.js";
import { copyOne, nothingPresent } from "./files.js";

export interface PackageRow {
  manager: string;
  name: string;
  version: string;
  architecture: string;
  status: string;
  installedSizeKb: string;
  source: string;
  description: string;
}

/** /var/lib/dpkg/status: RFC 822-style stanzas separated by blank lines, continuation lines indented. */
export function parseDpkgStatus(text: string): PackageRow[] {
  return stanzas(text, /^([A-Za-z0-9-]+):\s?(.*)$/)
    .map((f) => ({
      manager: "dpkg",
      name: f.get("Package") ?? "",
      version: f.get("Version") ?? "",
      architecture: f.get("Architecture") ?? "",
      status: f.get("Status") ?? "",
      installedSizeKb: f.get("Installed-Size") ?? "",
      source: f.get("Source") ?? "",
      description: f.get("Description") ?? "",
    }))
    .filter((p) => p.name !== "");
}

/** Alpine's /lib/apk/db/installed: one-letter keys (P name, V version, A arch, I size in bytes, T description). */
export function parseApkInstalled(text: string): PackageRow[] {
  return stanzas(text, /^([A-Za-z]):(.*)$/)
    .map((f) => ({
      manager: "apk",
      name: f.get("P") ?? "",
      version: f.get("V") ?? "",
      architecture: f.get("A") ?? "",
      status: "installed",
      installedSizeKb: f.has("I") ? String(Math.ceil(Number(f.get("I")) / 1024)) : "",
      source: f.get("o") ?? "",
      description: f.get("T") ?? "",
    }))
    .filter((p) => p.name !== "");
}

function stanzas(text: string, field: RegExp): Map<string, string>[] {
  const out: Map<string, string>[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of block.split("\n")) {
      const match = field.exec(line);
      // Keep only the first line of multi-line values (descriptions, conffiles).
      if (match?.[1] !== undefined && !fields.has(match[1])) fields.set(match[1], match[2] ?? "");
    }
    if (fields.size > 0) out.push(fields);
  }
  return out;
}

const COLUMNS = [
  "manager",
  "name",
  "version",
  "architecture",
  "status",
  "installedSizeKb",
  "source",
  "description",
] as const;
const RPM_DBS = [
  { path: "/var/lib/rpm/rpmdb.sqlite", format: "sqlite (rpm >= 4.16)" },
  { path: "/var/lib/rpm/Packages", format: "Berkeley DB hash (rpm < 4.16)" },
  { path: "/usr/lib/sysimage/rpm/rpmdb.sqlite", format: "sqlite (rpm >= 4.16, sysimage)" },
];

export const linuxInstalledPrograms: Collector = {
  name: "InstalledPrograms",
  platform: "linux",
  volatilityRank: 5,
  source: "/var/lib/dpkg/status; rpm database (raw copy, format noted); /lib/apk/db/installed",
  async collect(ctx) {
    const rows: PackageRow[] = [];
    const dpkg = await ctx.fs.readText("/var/lib/dpkg/status", { maxBytes: 64 * 1024 * 1024 });
    if (dpkg !== undefined) rows.push(...parseDpkgStatus(dpkg));
    const apk = await ctx.fs.readText("/lib/apk/db/installed", { maxBytes: 64 * 1024 * 1024 });
    if (apk !== undefined) rows.push(...parseApkInstalled(apk));
    const rpm = [];
    for (const db of RPM_DBS) {
      const present = (await ctx.fs.lstat(db.path)).kind === "stat";
      if (!present) continue;
      // Parsing rpm's databases needs rpm itself; the raw copy keeps them for offline tools.
      rpm.push({
        ...db,
        copy: (await copyOne(ctx, `raw/rpm/${db.path.split("/").pop() ?? "db"}`, db.path)).status,
      });
    }
    if (dpkg === undefined && apk === undefined && rpm.length === 0)
      nothingPresent(ctx, "dpkg, rpm and apk databases");
    await ctx.emit("InstalledPrograms.csv", csvStream(COLUMNS, rows), {
      source: "dpkg status, apk installed",
    });
    if (dpkg !== undefined) await copyOne(ctx, "raw/dpkg-status", "/var/lib/dpkg/status");
    if (apk !== undefined) await copyOne(ctx, "raw/apk-installed", "/lib/apk/db/installed");
    if (rpm.length > 0)
      await ctx.emit("RpmDatabases.csv", toCsv(["path", "format", "copy"], rpm), {
        source: "rpm database files",
      });
  },
};
