import { captureTool } from "../command.js";
import { type CsvValue, recordsToCsv } from "../csv.js";
import type { CollectContext, Collector } from "../types.js";
import { windowsFileCollectors } from "./files.js";
import { parseArpA, parseDisplayDns, parseIpconfigAll, parseNetstatAno } from "./network.js";
import { installedProgramsFromReg, parseRegQuery } from "./registry.js";
import {
  parseNetLocalgroupList,
  parseNetLocalgroupMembers,
  parseScQuery,
  parseSystemInfo,
} from "./system.js";
import { parseHeaderedCsv } from "./tables.js";

export const AUTORUN_KEYS = [
  "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Run",
  "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\RunOnce",
  "HKLM\\Software\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Run",
  "HKLM\\Software\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\RunOnce",
  "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run",
  "HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\RunOnce",
  "HKLM\\Software\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon",
  "HKLM\\Software\\Microsoft\\Windows NT\\CurrentVersion\\Image File Execution Options",
  "HKLM\\System\\CurrentControlSet\\Control\\Session Manager",
  "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Policies\\Explorer\\Run",
  "HKLM\\Software\\Microsoft\\Active Setup\\Installed Components",
  "HKLM\\Software\\Microsoft\\Windows NT\\CurrentVersion\\Windows",
];

const POWERSHELL = ["-NoProfile", "-NonInteractive", "-Command"];

async function csvOf(ctx: CollectContext, name: string, rows: readonly object[]): Promise<void> {
  await ctx.emit(name, recordsToCsv(rows as Record<string, CsvValue>[]), {
    source: "parsed from the raw output beside it",
  });
}

function windows(
  name: string,
  volatilityRank: number,
  source: string,
  collect: (ctx: CollectContext) => Promise<void>,
): Collector {
  return { name, platform: "win32", volatilityRank, source, collect };
}

export function windowsCollectors(): Collector[] {
  return [
    windows(
      "NetworkConnections",
      0,
      "netstat -ano; arp -a; ipconfig /all; ipconfig /displaydns; netsh advfirewall; pfirewall.log",
      async (ctx) => {
        const netstat = await captureTool(ctx, "ActiveNetConnections.txt", "netstat", ["-ano"]);
        const arp = await captureTool(ctx, "Arp.txt", "arp", ["-a"]);
        if (netstat !== undefined) await csvOf(ctx, "ActiveNetConnections.csv", parseNetstatAno(netstat));
        if (arp !== undefined) await csvOf(ctx, "Arp.csv", parseArpA(arp));
        const dns = await captureTool(ctx, "DnsCache.txt", "ipconfig", ["/displaydns"]);
        if (dns !== undefined) await csvOf(ctx, "DnsCache.csv", parseDisplayDns(dns));
        const ip = await captureTool(ctx, "IpConfig.txt", "ipconfig", ["/all"]);
        if (ip !== undefined) await csvOf(ctx, "IpConfig.csv", parseIpconfigAll(ip));
        await captureTool(ctx, "FirewallExecutionLog.txt", "netsh", [
          "advfirewall",
          "firewall",
          "show",
          "rule",
          "name=all",
          "verbose",
        ]);
      },
    ),
    windows("SmbSessions", 0, "Get-SmbSession; Get-SmbConnection", async (ctx) => {
      for (const [file, cmdlet] of [
        ["SMBInboundSessions.csv", "Get-SmbSession"],
        ["SMBOutboundSessions.csv", "Get-SmbConnection"],
      ] as const) {
        const text = await captureTool(ctx, file, "powershell", [
          ...POWERSHELL,
          `${cmdlet} | ConvertTo-Csv -NoTypeInformation`,
        ]);
        if (text !== undefined && parseHeaderedCsv(text).length === 0)
          await ctx.emit(`${file.replace(".csv", "")}-none.txt`, "No SMB sessions found.\r\n", {
            source: cmdlet,
          });
      }
    }),
    windows("Processes", 1, "tasklist /v /fo csv; Win32_Process", async (ctx) => {
      await captureTool(ctx, "Processes.csv", "tasklist", ["/v", "/fo", "csv"]);
      await captureTool(ctx, "ProcessDetails.csv", "powershell", [
        ...POWERSHELL,
        "Get-CimInstance Win32_Process | Select-Object ProcessId,ParentProcessId,Name,ExecutablePath,CommandLine,CreationDate | ConvertTo-Csv -NoTypeInformation",
      ]);
    }),
    windows("SystemInformation", 2, "systeminfo", async (ctx) => {
      const text = await captureTool(ctx, "SystemInformation.txt", "systeminfo", []);
      if (text !== undefined) await csvOf(ctx, "SystemInformation.csv", parseSystemInfo(text));
    }),
    windows("Services", 3, "sc queryex type= service state= all", async (ctx) => {
      const text = await captureTool(ctx, "Services.txt", "sc", [
        "queryex",
        "type=",
        "service",
        "state=",
        "all",
      ]);
      if (text !== undefined) await csvOf(ctx, "Services.csv", parseScQuery(text));
    }),
    windows("ScheduledTasks", 4, "schtasks /query /fo csv /v", async (ctx) => {
      await captureTool(ctx, "ScheduledTasks.csv", "schtasks", ["/query", "/fo", "csv", "/v"]);
    }),
    windows("Autoruns", 5, "reg query on each autorun key", async (ctx) => {
      const rows = [];
      for (const key of AUTORUN_KEYS) {
        const text = await captureTool(ctx, `${key.replace(/[\\ ]/g, "_")}.txt`, "reg", ["query", key]);
        if (text !== undefined) rows.push(...parseRegQuery(text).values);
      }
      await csvOf(ctx, "Autoruns.csv", rows);
    }),
    windows("InstalledPrograms", 5, "reg query ...\\Uninstall /s", async (ctx) => {
      const rows = [];
      for (const key of [
        "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
        "HKLM\\Software\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
      ]) {
        const text = await captureTool(ctx, `${key.replace(/[\\ ]/g, "_")}.txt`, "reg", ["query", key, "/s"]);
        if (text !== undefined) rows.push(...installedProgramsFromReg(text));
      }
      await csvOf(ctx, "InstalledPrograms.csv", rows);
    }),
    windows("UsersAndGroups", 5, "net localgroup; net localgroup NAME; net user", async (ctx) => {
      const list = await captureTool(ctx, "LocalGroups.txt", "net", ["localgroup"]);
      const rows = [];
      for (const [i, group] of parseNetLocalgroupList(list ?? "").entries()) {
        const text = await captureTool(ctx, `Groups/${String(i).padStart(3, "0")}.txt`, "net", [
          "localgroup",
          group,
        ]);
        const parsed = parseNetLocalgroupMembers(text ?? "");
        rows.push({ group, comment: parsed.comment, members: parsed.members.join("; ") });
      }
      await csvOf(ctx, "Groups.csv", rows);
      await captureTool(ctx, "Users.txt", "net", ["user"]);
    }),
    ...windowsFileCollectors(),
  ];
}
