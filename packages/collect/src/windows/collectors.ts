import { captureToolBytes } from "../command.js";
import { type CsvValue, recordsToCsv } from "../csv.js";
import type { CollectContext, Collector } from "../types.js";
import { consoleCodePage, POWERSHELL_UTF8, parsedCommand, UTF8 } from "./console.js";
import { windowsFileCollectors } from "./files.js";
import type { Parsed } from "./ledger.js";
import { parseArpA, parseDisplayDns, parseIpconfigAll, parseNetstatAno } from "./network.js";
import {
  type InstalledProgramRow,
  installedProgramsFromReg,
  parseRegQuery,
  type RegValueRow,
} from "./registry.js";
import {
  parseNetLocalgroupList,
  parseNetLocalgroupMembers,
  parseScQuery,
  parseSystemInfo,
} from "./system.js";
import { parseHeaderedCsv, SCHTASKS_TASK_TO_RUN } from "./tables.js";

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

const keyFile = (key: string): string => `${key.replace(/[\\ ]/g, "_")}.txt`;

function regValues(text: string): Parsed<RegValueRow> {
  const { values, unparsed, consumed } = parseRegQuery(text);
  return { rows: values, unparsed, consumed };
}

/** A Windows data point run through console tools: they learn the console's code page first. */
function windows(
  name: string,
  volatilityRank: number,
  source: string,
  collect: (ctx: CollectContext, codePage: number | undefined) => Promise<void>,
): Collector {
  return {
    name,
    platform: "win32",
    volatilityRank,
    source,
    collect: async (ctx) => collect(ctx, await consoleCodePage(ctx)),
  };
}

async function powershellCsv(ctx: CollectContext, raw: string, script: string) {
  return parsedCommand(ctx, {
    raw,
    tool: "powershell",
    args: [...POWERSHELL, `${POWERSHELL_UTF8}${script} | ConvertTo-Csv -NoTypeInformation`],
    codePage: UTF8,
    parse: (text) => parseHeaderedCsv(text),
  });
}

export function windowsCollectors(): Collector[] {
  return [
    windows(
      "NetworkConnections",
      0,
      "netstat -ano; arp -a; ipconfig /all; ipconfig /displaydns; netsh advfirewall; pfirewall.log",
      async (ctx, codePage) => {
        const run = { codePage };
        await parsedCommand(ctx, {
          ...run,
          raw: "ActiveNetConnections.txt",
          tool: "netstat",
          args: ["-ano"],
          parse: parseNetstatAno,
          csv: "ActiveNetConnections.csv",
        });
        await parsedCommand(ctx, {
          ...run,
          raw: "Arp.txt",
          tool: "arp",
          args: ["-a"],
          parse: parseArpA,
          csv: "Arp.csv",
        });
        await parsedCommand(ctx, {
          ...run,
          raw: "DnsCache.txt",
          tool: "ipconfig",
          args: ["/displaydns"],
          parse: parseDisplayDns,
          csv: "DnsCache.csv",
        });
        await parsedCommand(ctx, {
          ...run,
          raw: "IpConfig.txt",
          tool: "ipconfig",
          args: ["/all"],
          parse: parseIpconfigAll,
          csv: "IpConfig.csv",
        });
        await captureToolBytes(ctx, "FirewallExecutionLog.txt", "netsh", [
          "advfirewall",
          "firewall",
          "show",
          "rule",
          "name=all",
          "verbose",
        ]);
      },
    ),
    {
      name: "SmbSessions",
      platform: "win32",
      volatilityRank: 0,
      source: "Get-SmbSession; Get-SmbConnection",
      // PowerShell only, told to write UTF-8: no console code page to learn.
      collect: async (ctx) => {
        for (const [file, cmdlet] of [
          ["SMBInboundSessions.csv", "Get-SmbSession"],
          ["SMBOutboundSessions.csv", "Get-SmbConnection"],
        ] as const) {
          const parsed = await powershellCsv(ctx, file, cmdlet);
          if (parsed !== undefined && parsed.rows.length === 0)
            await ctx.emit(`${file.replace(".csv", "")}-none.txt`, "No SMB sessions found.\r\n", {
              source: cmdlet,
            });
        }
      },
    },
    windows("Processes", 1, "tasklist /v /fo csv; Win32_Process", async (ctx, codePage) => {
      await parsedCommand(ctx, {
        raw: "Processes.txt",
        tool: "tasklist",
        args: ["/v", "/fo", "csv"],
        codePage,
        // The window title is the last column and free text.
        parse: (text) => parseHeaderedCsv(text, { quoting: "unescaped", freeColumn: -1 }),
        csv: "Processes.csv",
      });
      await powershellCsv(
        ctx,
        "ProcessDetails.csv",
        "Get-CimInstance Win32_Process | Select-Object ProcessId,ParentProcessId,Name,ExecutablePath,CommandLine,CreationDate",
      );
    }),
    windows("SystemInformation", 2, "systeminfo", async (ctx, codePage) => {
      await parsedCommand(ctx, {
        raw: "SystemInformation.txt",
        tool: "systeminfo",
        args: [],
        codePage,
        parse: parseSystemInfo,
        csv: "SystemInformation.csv",
      });
    }),
    windows("Services", 3, "sc queryex type= service state= all", async (ctx, codePage) => {
      const args = ["queryex", "type=", "service", "state=", "all"];
      await parsedCommand(ctx, {
        raw: "Services.txt",
        tool: "sc",
        args,
        codePage,
        parse: parseScQuery,
        csv: "Services.csv",
      });
    }),
    windows("ScheduledTasks", 4, "schtasks /query /fo csv /v", async (ctx, codePage) => {
      await parsedCommand(ctx, {
        raw: "ScheduledTasks.txt",
        tool: "schtasks",
        args: ["/query", "/fo", "csv", "/v"],
        codePage,
        parse: (text) => parseHeaderedCsv(text, { quoting: "unescaped", freeColumn: SCHTASKS_TASK_TO_RUN }),
        csv: "ScheduledTasks.csv",
      });
    }),
    windows("Autoruns", 5, "reg query on each autorun key", async (ctx, codePage) => {
      const rows: RegValueRow[] = [];
      for (const key of AUTORUN_KEYS) {
        const parsed = await parsedCommand(ctx, {
          raw: keyFile(key),
          tool: "reg",
          args: ["query", key],
          codePage,
          parse: regValues,
        });
        rows.push(...(parsed?.rows ?? []));
      }
      await csvOf(ctx, "Autoruns.csv", rows);
    }),
    windows("InstalledPrograms", 5, "reg query ...\\Uninstall /s", async (ctx, codePage) => {
      const rows: InstalledProgramRow[] = [];
      for (const key of [
        "HKLM\\Software\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
        "HKLM\\Software\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
      ]) {
        const parsed = await parsedCommand(ctx, {
          raw: keyFile(key),
          tool: "reg",
          args: ["query", key, "/s"],
          codePage,
          parse: installedProgramsFromReg,
        });
        rows.push(...(parsed?.rows ?? []));
      }
      await csvOf(ctx, "InstalledPrograms.csv", rows);
    }),
    windows("UsersAndGroups", 5, "net localgroup; net localgroup NAME; net user", async (ctx, codePage) => {
      const list = await parsedCommand(ctx, {
        raw: "LocalGroups.txt",
        tool: "net",
        args: ["localgroup"],
        codePage,
        parse: parseNetLocalgroupList,
      });
      const rows = [];
      for (const [i, group] of (list?.rows ?? []).entries()) {
        const raw = `Groups/${String(i).padStart(3, "0")}.txt`;
        const parsed = await parsedCommand(ctx, {
          raw,
          tool: "net",
          args: ["localgroup", group],
          codePage,
          parse: parseNetLocalgroupMembers,
        });
        const found = parsed?.rows[0];
        rows.push({ group, comment: found?.comment ?? "", members: (found?.members ?? []).join("; ") });
      }
      await csvOf(ctx, "Groups.csv", rows);
      await captureToolBytes(ctx, "Users.txt", "net", ["user"]);
    }),
    ...windowsFileCollectors(),
  ];
}

async function csvOf(ctx: CollectContext, name: string, rows: readonly object[]): Promise<void> {
  await ctx.emit(name, recordsToCsv(rows as Record<string, CsvValue>[]), {
    source: "parsed from the raw outputs beside it",
  });
}
