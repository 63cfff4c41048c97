import { readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { csvLine } from "../src/csv.js";
import {
  parseArpA,
  parseDisplayDns,
  parseIpconfigAll,
  parseNetstatAno,
  splitEndpoint,
} from "../src/windows/network.js";
import { installedProgramsFromReg, parseRegQuery } from "../src/windows/registry.js";
import {
  parseNetLocalgroupList,
  parseNetLocalgroupMembers,
  parseScQuery,
  parseSystemInfo,
} from "../src/windows/system.js";
import { parseHeaderedCsv, parsePowerShellTable, SCHTASKS_TASK_TO_RUN } from "../src/windows/tables.js";

const fixture = (name: string): string =>
  readFileSync(new URL(`./fixtures/windows/${name}`, import.meta.url), "utf8");

describe("network commands", () => {
  test("netstat -ano: TCP with state, UDP without, IPv6 in brackets with zone ids", () => {
    const { rows, unparsed } = parseNetstatAno(fixture("netstat-ano.txt"));
    expect(unparsed).toEqual([]);
    expect(rows).toHaveLength(17);
    expect(rows.find((r) => r.remoteAddress === "185.220.101.4")).toEqual({
      protocol: "TCP",
      localAddress: "10.0.0.42",
      localPort: "49733",
      remoteAddress: "185.220.101.4",
      remotePort: "8443",
      state: "ESTABLISHED",
      pid: 6116,
    });
    expect(rows.find((r) => r.state === "SYN_SENT")).toMatchObject({
      localAddress: "fe80::5d1c:e3a2:77b0:9c1e%12",
      remoteAddress: "fe80::1%12",
      remotePort: "445",
      pid: 4,
    });
    expect(
      rows.filter((r) => r.protocol === "UDP").every((r) => r.state === "" && r.remoteAddress === "*"),
    ).toBe(true);
    expect(splitEndpoint("[::]:135")).toEqual({ address: "::", port: "135" });
  });

  test("arp -a: entries carry their interface", () => {
    const { rows, unparsed } = parseArpA(fixture("arp-a.txt"));
    expect(unparsed).toEqual([]);
    expect(rows).toHaveLength(7);
    expect(rows[0]).toEqual({
      interface: "10.0.0.42",
      interfaceIndex: "0xc",
      ipAddress: "10.0.0.1",
      physicalAddress: "00-15-5d-01-6a-02",
      type: "dynamic",
    });
    expect(rows[6]?.interface).toBe("192.168.56.1");
  });

  test("ipconfig /all: sections, dotted keys, continuation values", () => {
    const { rows, unparsed } = parseIpconfigAll(fixture("ipconfig-all.txt"));
    expect(unparsed).toEqual([]);
    const get = (section: string, key: string) =>
      rows.find((r) => r.section === section && r.key === key)?.value;
    expect(get("Windows IP Configuration", "Host Name")).toBe("WKS-042");
    expect(get("Windows IP Configuration", "DNS Suffix Search List")).toBe("corp.contoso.com; contoso.com");
    expect(get("Ethernet adapter Ethernet0", "DNS Servers")).toBe("10.0.0.2; 10.0.0.3");
    expect(get("Ethernet adapter Ethernet0", "IPv4 Address")).toBe("10.0.0.42(Preferred)");
    expect(get("Ethernet adapter Ethernet0", "Lease Obtained")).toBe("Friday, November 20, 2026 8:02:11 AM");
    expect(get("Ethernet adapter VirtualBox Host-Only Network", "Default Gateway")).toBe("");
    expect(get("Tunnel adapter isatap.corp.contoso.com", "Media State")).toBe("Media disconnected");
  });

  test("ipconfig /displaydns: records with type, TTL and data; negative entries kept", () => {
    const { rows, unparsed } = parseDisplayDns(fixture("ipconfig-displaydns.txt"));
    expect(unparsed).toEqual([]);
    expect(rows.map((r) => [r.entry, r.recordName, r.recordType, r.timeToLive, r.data])).toEqual([
      [
        "login.microsoftonline.com",
        "login.microsoftonline.com",
        "5",
        "112",
        "CNAME Record: login.mso.msidentity.com",
      ],
      ["login.microsoftonline.com", "login.mso.msidentity.com", "1", "112", "A (Host) Record: 20.190.151.7"],
      [
        "update-cdn.badexample.net",
        "update-cdn.badexample.net",
        "1",
        "3521",
        "A (Host) Record: 185.220.101.4",
      ],
      ["localhost", "localhost", "28", "604800", "AAAA Record: ::1"],
      ["wpad", "wpad", "", "", "Name does not exist."],
    ]);
  });
});

test("CR CR LF line ends (some Windows tools write them) read as one line end", () => {
  for (const [name, parse] of [
    ["ipconfig-displaydns.txt", parseDisplayDns],
    ["ipconfig-all.txt", parseIpconfigAll],
    ["systeminfo.txt", parseSystemInfo],
  ] as const) {
    const text = fixture(name);
    expect(parse(text.replaceAll("\r\n", "\r\r\n")).rows).toEqual(parse(text).rows);
  }
});

describe("CSV commands", () => {
  test("schtasks /query /fo csv /v: repeated headers dropped, fields by name", () => {
    const { rows, unparsed } = parseHeaderedCsv(fixture("schtasks-query-fo-csv-v.txt"), {
      quoting: "unescaped",
      freeColumn: SCHTASKS_TASK_TO_RUN,
    });
    expect(unparsed).toEqual([]);
    expect(rows.map((r) => r.TaskName)).toEqual([
      "\\MicrosoftEdgeUpdateTaskMachineCore",
      "\\OneDriveUpdater",
      "\\Microsoft\\Windows\\Defrag\\ScheduledDefrag",
    ]);
    expect(rows[1]?.["Task To Run"]).toMatch(/^powershell\.exe -nop -w hidden -enc /);
    expect(rows[1]?.["Schedule Type"]).toBe("At logon time");
  });

  test("tasklist /v /fo csv: quoted numbers with thousands separators; a hostile name is defused on output", () => {
    const { rows } = parseHeaderedCsv(fixture("tasklist-v-fo-csv.txt"), {
      quoting: "unescaped",
      freeColumn: -1,
    });
    expect(rows).toHaveLength(6);
    expect(rows[3]).toMatchObject({
      "Image Name": "explorer.exe",
      PID: "5232",
      "Mem Usage": "148,220 K",
      "User Name": "CONTOSO\\jdoe",
    });
    const hostile = rows[5]?.["Image Name"] ?? "";
    expect(hostile.startsWith("=")).toBe(true);
    expect(csvLine([hostile])).toBe("'=cmd|' /C calc'!A0\r\n");
  });

  test("Get-SmbSession as ConvertTo-Csv and as the default table view", () => {
    const csv = parseHeaderedCsv(fixture("get-smbsession-csv.txt")).rows;
    expect(csv.map((r) => [r.ClientComputerName, r.ClientUserName, r.Dialect])).toEqual([
      ["10.0.0.15", "CONTOSO\\svc-backup", "3.1.1"],
      ["[fe80::1]", "CONTOSO\\jdoe", "3.1.1"],
    ]);
    const table = parsePowerShellTable(fixture("get-smbsession-table.txt")).rows;
    expect(table).toEqual([
      {
        SessionId: "8813272891461",
        ClientComputerName: "10.0.0.15",
        ClientUserName: "CONTOSO\\svc-backup",
        NumOpens: "2",
      },
      {
        SessionId: "8813272891517",
        ClientComputerName: "[fe80::1]",
        ClientUserName: "CONTOSO\\jdoe",
        NumOpens: "0",
      },
    ]);
    expect(parseHeaderedCsv(fixture("get-smbconnection-empty.txt")).rows).toEqual([]);
  });
});

describe("registry, services, groups, systeminfo", () => {
  test("reg query: names with spaces, empty data, DWORDs; a missing key is not an error", () => {
    const run = parseRegQuery(fixture("reg-query-run.txt"));
    expect(run.found).toBe(true);
    expect(run.values.map((v) => [v.name, v.type, v.data])).toEqual([
      ["SecurityHealth", "REG_EXPAND_SZ", "%windir%\\system32\\SecurityHealthSystray.exe"],
      ["VMware User Process", "REG_SZ", '"C:\\Program Files\\VMware\\VMware Tools\\vmtoolsd.exe" -n vmusr'],
      ["Updater", "REG_SZ", "C:\\Users\\Public\\Libraries\\svch0st.exe --silent"],
      ["EmptyValue", "REG_SZ", ""],
      ["Flags", "REG_DWORD", "0x1"],
    ]);
    expect(parseRegQuery(fixture("reg-query-missing.txt"))).toMatchObject({
      found: false,
      values: [],
      keys: [],
      unparsed: [],
    });
  });

  test("reg query /s on Uninstall: one program per subkey with a DisplayName", () => {
    const programs = installedProgramsFromReg(fixture("reg-query-uninstall-s.txt")).rows;
    expect(programs.map((p) => [p.displayName, p.displayVersion, p.publisher, p.installDate])).toEqual([
      ["7-Zip 23.01 (x64)", "23.01", "Igor Pavlov", ""],
      [
        "Office 16 Click-to-Run Extensibility Component",
        "16.0.17928.20156",
        "Microsoft Corporation",
        "20260611",
      ],
      ["AnyDesk", "ad 8.0.9", "AnyDesk Software GmbH", "20261120"],
    ]);
    expect(programs[2]?.installLocation).toBe("C:\\Program Files (x86)\\AnyDesk");
  });

  test("sc queryex: services with state, type, pid and exit code", () => {
    const { rows, unparsed } = parseScQuery(fixture("sc-queryex.txt"));
    expect(unparsed).toEqual([]);
    expect(rows).toEqual([
      {
        name: "AdobeARMservice",
        displayName: "Adobe Acrobat Update Service",
        type: "WIN32_OWN_PROCESS",
        state: "RUNNING",
        pid: "3384",
        win32ExitCode: "0",
      },
      {
        name: "AJRouter",
        displayName: "AllJoyn Router Service",
        type: "WIN32_SHARE_PROCESS",
        state: "STOPPED",
        pid: "0",
        win32ExitCode: "1077",
      },
      {
        name: "WinUpdSvc",
        displayName: "Windows Update Helper",
        type: "WIN32_OWN_PROCESS",
        state: "RUNNING",
        pid: "6904",
        win32ExitCode: "0",
      },
    ]);
  });

  test("net localgroup: the list, and members per group (an empty group has none)", () => {
    expect(parseNetLocalgroupList(fixture("net-localgroup.txt")).rows).toEqual([
      "Access Control Assistance Operators",
      "Administrators",
      "Backup Operators",
      "Remote Desktop Users",
      "Users",
    ]);
    expect(parseNetLocalgroupMembers(fixture("net-localgroup-administrators.txt")).rows[0]).toEqual({
      group: "Administrators",
      comment: "Administrators have complete and unrestricted access to the computer/domain",
      members: ["Administrator", "CONTOSO\\Domain Admins", "CONTOSO\\jdoe", "helpdesk-tmp"],
    });
    expect(
      parseNetLocalgroupMembers(fixture("net-localgroup-backup-operators.txt")).rows[0]?.members,
    ).toEqual([]);
  });

  test("systeminfo: keys with colons, values with colons, continuation lines", () => {
    const { rows, unparsed, language } = parseSystemInfo(fixture("systeminfo.txt"));
    expect(unparsed).toEqual([]);
    expect(language).toBe("en");
    const get = (key: string) => rows.find((r) => r.key === key)?.value;
    expect(get("Host Name")).toBe("WKS-042");
    expect(get("Original Install Date")).toBe("6/2/2025, 9:14:37 AM");
    expect(get("Virtual Memory: Max Size")).toBe("18,520 MB");
    expect(get("Hotfix(s)")).toBe(
      "3 Hotfix(s) Installed.; [01]: KB5042099; [02]: KB5027397; [03]: KB5046633",
    );
    expect(get("Network Card(s)")).toContain("[01]: 10.0.0.42");
    expect(get("Time Zone")).toBe("(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna");
    expect(rows).toHaveLength(32);
  });
});
