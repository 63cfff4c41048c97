// Kernel state (/proc, /sys) is read directly, not through ctx.fs: the kernel makes these paths and no
// user can replace a component of them (see the README's limits).
import { readFile } from "node:fs/promises";
import { cpus, endianness, hostname, totalmem } from "node:os";
import { systemClock } from "@custody/core";
import { readClockState } from "../clock-state.js";
import type { Collector } from "../types.js";
import { copyOne } from "./files.js";
import { parseBootTime } from "./procfs.js";

const RAW = [
  ["os-release", "/etc/os-release"],
  ["proc-version", "/proc/version"],
  ["proc-cmdline", "/proc/cmdline"],
  ["cpuinfo", "/proc/cpuinfo"],
  ["meminfo", "/proc/meminfo"],
  ["uptime", "/proc/uptime"],
  ["modules", "/proc/modules"],
  ["mountinfo", "/proc/self/mountinfo"],
  ["timezone", "/etc/timezone"],
  ["machine-id", "/etc/machine-id"],
  ["hostname", "/etc/hostname"],
] as const;

export const linuxSystemInformation: Collector = {
  name: "SystemInformation",
  platform: "linux",
  volatilityRank: 2,
  source:
    "/etc/os-release, /proc/{version,cmdline,cpuinfo,meminfo,uptime,stat,modules,self/mountinfo}, /etc/{timezone,localtime,machine-id,hostname}, /run/systemd/timesync",
  async collect(ctx) {
    const osRelease = parseOsRelease(
      (await ctx.fs.readText("/etc/os-release", {
        maxBytes: 64 * 1024,
        followWithin: ["/etc", "/usr/lib"],
      })) ?? "",
    );
    const bootTime = parseBootTime(await readFile("/proc/stat", "utf8").catch(() => ""));
    const uptime = Number((await readFile("/proc/uptime", "utf8").catch(() => "")).split(" ")[0]);
    const clock = await readClockState(systemClock);
    const info: [string, string][] = [
      ["Host Name", hostname()],
      ["OS Name", osRelease.get("PRETTY_NAME") ?? osRelease.get("NAME") ?? ""],
      ["OS Version", osRelease.get("VERSION_ID") ?? ""],
      ["Kernel", (await readFile("/proc/version", "utf8").catch(() => "")).trim()],
      ["Architecture", `${process.arch} (${endianness()})`],
      ["Processors", `${cpus().length} x ${cpus()[0]?.model ?? "unknown"}`],
      ["Total Physical Memory", `${Math.round(totalmem() / 1024 / 1024)} MB`],
      ["System Boot Time", bootTime === undefined ? "" : new Date(bootTime * 1000).toISOString()],
      ["Uptime Seconds", Number.isFinite(uptime) ? String(uptime) : ""],
      ["System Time", clock.systemTime],
      [
        "Time Zone",
        `${clock.timeZone} (UTC${clock.utcOffsetMinutes >= 0 ? "+" : "-"}${Math.abs(clock.utcOffsetMinutes)} min)`,
      ],
      ["Local Time Link", (await ctx.fs.readlink("/etc/localtime")) ?? ""],
      ["Clock Synchronized", `${clock.synchronized} (${clock.syncSource})`],
      ["Machine ID", ((await ctx.fs.readText("/etc/machine-id")) ?? "").trim()],
    ];
    await ctx.emit(
      "SystemInformation.txt",
      `${info.map(([k, v]) => `${`${k}:`.padEnd(26)}${v}`).join("\n")}\n`,
      { source: this.source },
    );
    for (const [name, path] of RAW)
      await copyOne(ctx, `raw/${name}`, path, { followWithin: ["/etc", "/usr/lib", "/proc"] });
  },
};

/** KEY=value lines, values optionally quoted. */
export function parseOsRelease(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match?.[1] !== undefined) out.set(match[1], (match[2] ?? "").replace(/^(["'])(.*)\1$/, "$2"));
  }
  return out;
}
