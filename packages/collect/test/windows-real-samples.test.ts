import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, test } from "vitest";
import { decodeCodePage } from "../src/windows/codepage.js";
import type { Parsed } from "../src/windows/ledger.js";
import { type KeyValueRow, parseArpA, parseIpconfigAll, parseNetstatAno } from "../src/windows/network.js";
import { parseNetLocalgroupList, parseNetLocalgroupMembers, parseSystemInfo } from "../src/windows/system.js";
import { parseHeaderedCsv, SCHTASKS_TASK_TO_RUN } from "../src/windows/tables.js";

// Outputs captured on real machines by other projects (provenance and licenses: fixtures/windows/real/README.md).
const real = new URL("./fixtures/windows/real/", import.meta.url);
const bytes = (path: string): Buffer => readFileSync(new URL(path, real));
const files = (dir: string): string[] => readdirSync(new URL(dir, real)).map((name) => `${dir}/${name}`);

/** The code page each sample was written in (see the README): wesng keeps the console's own bytes. */
function codePageOf(path: string): number {
  if (/_it_|fr_systeminfo_cmd|_es_|\.cp850\./.test(path)) return 850;
  if (/zh-cn/.test(path)) return 936;
  if (/\.cp866\./.test(path)) return 866;
  return 65001;
}

function read(path: string): string {
  const decoded = decodeCodePage(bytes(path), codePageOf(path));
  expect(decoded.text).not.toContain("\uFFFD");
  return decoded.text;
}

const value = (rows: readonly KeyValueRow[], key: string, section?: string): string | undefined =>
  rows.find((r) => r.key === key && (section === undefined || r.section === section))?.value;

const systeminfos = [...files("wesng"), ...files("jc"), ...files("reencoded")].filter((f) =>
  /systeminfo/.test(f),
);

describe("systeminfo on real machines (XP to 11 24H2, Server 2008 to 2022, seven languages)", () => {
  test.each(systeminfos)("%s: every line parsed, labels with colons kept whole", (path) => {
    const parsed = parseSystemInfo(read(path));
    expect(parsed.unparsed).toEqual([]);
    expect(parsed.rows.length).toBeGreaterThanOrEqual(30);
    expect(parsed.language).not.toBe("unknown");
    // The three virtual memory lines: the label holds a colon, the value is a size only.
    const memory = parsed.rows.filter((r) =>
      /^(Virtual Memory|Virtueller|Mémoire virtuelle|Memoria virtual|Виртуальная|虚拟内存)/.test(r.key),
    );
    // The Server 2008 sample was published without its memory lines.
    expect(memory).toHaveLength(path.includes("srv_2008") ? 0 : 3);
    for (const row of memory) {
      expect(row.key).toMatch(/:/);
      expect(row.value).toMatch(/^\d[\d.,\u00a0 ]* (MB|Mo|МБ)$/);
    }
  });

  test("the languages found", () => {
    const languages = new Set(systeminfos.map((path) => parseSystemInfo(read(path)).language));
    expect([...languages].sort()).toEqual(["de", "en", "es", "fr", "it", "ru", "zh-CN"]);
  });

  test("values by their localized label; continuation lines joined (hotfixes)", () => {
    const fr = parseSystemInfo(read("wesng/7_sp1_x64_enterprise_fr_systeminfo_cmd.txt")).rows;
    expect(value(fr, "Nom de l'hôte")).toBe("WIN-IDKKFN87EL8");
    expect(value(fr, "Mémoire virtuelle\u00a0: taille maximale")).toBe("4\u00a0095 Mo");
    const zh = parseSystemInfo(read("wesng/10_1809_x64_enterprise_zh-cn_systeminfo.txt")).rows;
    expect(value(zh, "主机名")).toBe("DESKTOP-0CQH3P2");
    expect(value(zh, "虚拟内存: 最大值")).toBe("3,199 MB");
    const ru = parseSystemInfo(read("wesng/srv_2012r2_x64_standard_ru_systeminfo.txt")).rows;
    expect(value(ru, "Виртуальная память: Макс. размер")).toBe("5\u00a0504 МБ");
    const w11 = parseSystemInfo(read("wesng/11_24H2_x64_enterprise_systeminfo.txt")).rows;
    expect(value(w11, "Hotfix(s)")).toBe(
      "3 Hotfix(s) Installed.; [01]: KB5037589; [02]: KB5037783; [03]: KB5039449",
    );
    const w10 = parseSystemInfo(read("jc/windows-10-systeminfo-hyperv.out")).rows;
    expect(value(w10, "Virtual Memory: Available")).toBe("22,266 MB");
  });

  test("the same output in UTF-16 (PowerShell redirection) and in its OEM code page parse the same", () => {
    const cmd = parseSystemInfo(read("wesng/7_sp1_x64_enterprise_fr_systeminfo_cmd.txt"));
    const ps = decodeCodePage(bytes("wesng/7_sp1_x64_enterprise_fr_systeminfo_powershell.txt"), 850);
    expect(ps.codePage).toBe("1200");
    expect(parseSystemInfo(ps.text).rows.map((r) => r.key)).toEqual(cmd.rows.map((r) => r.key));
    const de850 = parseSystemInfo(read("reencoded/7_sp1_x64_ultimaten_de_systeminfo.cp850.txt"));
    const de8 = parseSystemInfo(read("wesng/7_sp1_x64_ultimaten_de_systeminfo.txt"));
    expect(de850.rows).toEqual(de8.rows);
    const ru866 = parseSystemInfo(read("reencoded/srv_2012r2_x64_standard_ru_systeminfo.cp866.txt"));
    expect(ru866.rows).toEqual(parseSystemInfo(read("wesng/srv_2012r2_x64_standard_ru_systeminfo.txt")).rows);
  });

  test("read as UTF-8, the OEM bytes would be lost: the reason for decoding by code page", () => {
    const wrong = bytes("wesng/7_sp1_x64_enterprise_fr_systeminfo_cmd.txt").toString("utf8");
    expect(wrong).toContain("\uFFFD");
  });
});

describe("ipconfig /all on real machines (XP, 7, 2008, 2016, 10, 11)", () => {
  const samples = [...files("jc"), ...files("getmac")].filter((f) => /ipconfig/.test(f));
  test.each(samples)("%s: every line parsed", (path) => {
    const parsed: Parsed<KeyValueRow> = parseIpconfigAll(read(path));
    expect(parsed.unparsed).toEqual([]);
    expect(parsed.rows.every((r) => r.key !== "" && !r.key.includes(" . ") && !r.value.includes(" : "))).toBe(
      true,
    );
    expect(value(parsed.rows, "Host Name")).toBeTruthy();
  });

  test("Windows 10's search list without dot leaders is its own key, not glued onto NetBIOS", () => {
    const rows = parseIpconfigAll(read("jc/windows-10-ipconfig.out")).rows;
    const netbios = rows.filter((r) => r.key === "NetBIOS over Tcpip").map((r) => r.value);
    expect(netbios).toEqual(["Enabled", "Enabled"]);
    expect(value(rows, "Connection-specific DNS Suffix Search List")).toBe("tailff123.ts.net");
    expect(value(rows, "DNS Suffix Search List", "Windows IP Configuration")).toBe(
      "tailff123.ts.net; internal.companyname.com",
    );
  });
});

describe("netstat -ano, arp -a and net localgroup on real machines", () => {
  test("arp -a (Windows 10): entries under their interface, the header recognised", () => {
    const all = parseArpA(read("getmac/windows_10-arp_-a.out"));
    expect(all.unparsed).toEqual([]);
    expect(all.rows).toHaveLength(47);
    expect(new Set(all.rows.map((r) => r.interface)).size).toBeGreaterThan(1);
    expect(all.rows[0]).toEqual({
      interface: "10.0.0.185",
      interfaceIndex: "0x5",
      ipAddress: "10.0.0.1",
      physicalAddress: "6a-d7-9a-29-2b-82",
      type: "dynamic",
    });
    const one = parseArpA(read("getmac/windows_10-arp_-a_10.0.0.175.out"));
    expect(one.unparsed).toEqual([]);
    expect(one.rows.map((r) => r.ipAddress)).toEqual(["10.0.0.175"]);
  });

  test("netstat -ano (Windows 10): every connection, nothing unparsed", () => {
    const parsed = parseNetstatAno(read("jc/windows-10-netstat-aon.out"));
    expect(parsed.unparsed).toEqual([]);
    expect(parsed.rows).toHaveLength(208);
    expect(parsed.rows[0]).toEqual({
      protocol: "TCP",
      localAddress: "0.0.0.0",
      localPort: "135",
      remoteAddress: "0.0.0.0",
      remotePort: "0",
      state: "LISTENING",
      pid: 1712,
    });
  });

  test.each(["xp", "7", "2008", "2016", "10", "11"])("net localgroup on Windows %s", (version) => {
    const list = parseNetLocalgroupList(read(`jc/windows-${version}-net_localgroup.out`));
    expect(list.unparsed).toEqual([]);
    expect(list.rows).toContain("Administrators");
    const admins = parseNetLocalgroupMembers(read(`jc/windows-${version}-net_localgroup.administrators.out`));
    expect(admins.unparsed).toEqual([]);
    expect(admins.rows[0]?.group).toBe("Administrators");
    expect(admins.rows[0]?.members.length).toBeGreaterThan(0);
    expect(admins.rows[0]?.members).not.toContain("The command completed successfully.");
  });
});

describe("schtasks /query /fo csv /v as published in Metasploit Framework's test data", () => {
  test("inner quotes of Task To Run kept byte for byte, the columns after it in place", () => {
    const parsed = parseHeaderedCsv(read("metasploit/task_scheduler_spec-schtasks-query-fo-csv-v.txt"), {
      quoting: "unescaped",
      freeColumn: SCHTASKS_TASK_TO_RUN,
    });
    expect(parsed.unparsed).toEqual([]);
    expect(parsed.rows).toHaveLength(1);
    expect(parsed.rows[0]?.["Task To Run"]).toBe(
      'reg query "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Schedule\\TaskCache\\Tree\\DGvtFiFtnZQVmtY" /v "SD"',
    );
    expect(parsed.rows[0]?.["Power Management"]).toBe("Stop On Battery Mode, No Start On Batteries");
    expect(parsed.rows[0]?.["Repeat: Stop If Still Running"]).toBe("Disabled");
    expect(Object.keys(parsed.rows[0] ?? {})).toHaveLength(28);
  });
});
