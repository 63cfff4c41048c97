import { describe, expect, test } from "vitest";
import { decodeCodePage, encodeCodePage, isKnownCodePage, parseChcp } from "../src/windows/codepage.js";
import { oemCodePage } from "../src/windows/console.js";
import { parseArpA, parseIpconfigAll, parseNetstatAno } from "../src/windows/network.js";
import { parseScQuery } from "../src/windows/system.js";
import { parseHeaderedCsv, SCHTASKS_TASK_TO_RUN } from "../src/windows/tables.js";

// No real `schtasks /query /fo csv /v` or localized `tasklist /v /fo csv` output with these shapes has been
// published (fixtures/windows/real/README.md): these lines are constructed, in the shape the tools write
// (every field quoted, inner quotes not escaped; tasklist's localized header names padded with spaces).
const SCHTASKS_HEADER =
  '"HostName","TaskName","Next Run Time","Status","Logon Mode","Last Run Time","Last Result","Author","Task To Run","Start In","Comment","Scheduled Task State"';
const schtasksLine = (taskToRun: string, comment = "N/A"): string =>
  `"WKS-042","\\Updater","N/A","Ready","Interactive/Background","N/A","267011","WKS-042\\Administrator","${taskToRun}","N/A","${comment}","Enabled"`;
const SCHTASKS = { quoting: "unescaped", freeColumn: SCHTASKS_TASK_TO_RUN } as const;

describe("schtasks /fo csv: the command line comes out byte for byte", () => {
  test.each([
    'reg query "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Schedule\\TaskCache\\Tree\\X" /v "SD"',
    'cmd /c "echo a,b > C:\\Users\\Public\\x.txt"',
    'powershell -c "Write-Output "a","b""',
    '"C:\\Program Files\\App\\app.exe" --flag ""',
    'rundll32 "a","b","c"',
  ])("%s", (command) => {
    const text = `${SCHTASKS_HEADER}\r\n${schtasksLine(command)}\r\n${SCHTASKS_HEADER}\r\n${schtasksLine("defrag.exe")}\r\n`;
    const parsed = parseHeaderedCsv(text, SCHTASKS);
    expect(parsed.unparsed).toEqual([]);
    expect(parsed.rows.map((r) => r["Task To Run"])).toEqual([command, "defrag.exe"]);
    expect(parsed.rows[0]?.Comment).toBe("N/A");
    expect(parsed.rows[0]?.["Scheduled Task State"]).toBe("Enabled");
  });

  test("read as RFC 4180 (the old way), the same line loses its quotes: the reason for the unescaped mode", () => {
    const command = 'reg query "HKLM\\X" /v "SD"';
    const rfc = parseHeaderedCsv(`${SCHTASKS_HEADER}\r\n${schtasksLine(command)}\r\n`);
    expect(rfc.rows[0]?.["Task To Run"]).not.toBe(command);
  });

  test("a line with fewer fields than the header is unparsed, not guessed", () => {
    const text = `${SCHTASKS_HEADER}\r\n"WKS-042","\\Broken","N/A"\r\nINFO: There are no scheduled tasks presently available at your access level.\r\n`;
    const parsed = parseHeaderedCsv(text, SCHTASKS);
    expect(parsed.rows).toEqual([]);
    expect(parsed.unparsed.map((u) => u.line)).toEqual([2, 3]);
  });

  test("surplus separators without a free column are unparsed", () => {
    const parsed = parseHeaderedCsv(`${SCHTASKS_HEADER}\r\n${schtasksLine('a","b')}\r\n`, {
      quoting: "unescaped",
    });
    expect(parsed.rows).toEqual([]);
    expect(parsed.unparsed).toHaveLength(1);
  });
});

describe("tasklist /v /fo csv in other languages", () => {
  test("padded header names are trimmed, so columns are found by name; values untouched", () => {
    const text = [
      '"Nom de l\'image          ","PID ","Nom de la session","Numéro de session","Utilisation de la mémoire","Statut ","Nom d\'utilisateur","Temps processeur","Titre de la fenêtre"',
      '"explorer.exe","5232","Console","1","148 220 Ko","En cours d\'exécution","CONTOSO\\jdoe","0:01:02","Titre "cité", avec virgule"',
    ].join("\r\n");
    const parsed = parseHeaderedCsv(text, { quoting: "unescaped", freeColumn: -1 });
    expect(parsed.unparsed).toEqual([]);
    expect(parsed.rows[0]?.["Nom de l'image"]).toBe("explorer.exe");
    expect(parsed.rows[0]?.PID).toBe("5232");
    expect(parsed.rows[0]?.Statut).toBe("En cours d'exécution");
    expect(parsed.rows[0]?.["Titre de la fenêtre"]).toBe('Titre "cité", avec virgule');
  });
});

describe("localized listings by structure (constructed lines in the shape of French and German output)", () => {
  test("arp -a and netstat -ano: translated titles, headers and states", () => {
    const arp = parseArpA(
      "\r\nInterface\u00a0: 192.168.137.1 --- 0x4\r\n  Adresse Internet      Adresse physique      Type\r\n  192.168.137.2         d8-bb-c1-aa-c0-e7     dynamique\r\n",
    );
    expect(arp.unparsed).toEqual([]);
    expect(arp.rows).toEqual([
      {
        interface: "192.168.137.1",
        interfaceIndex: "0x4",
        ipAddress: "192.168.137.2",
        physicalAddress: "d8-bb-c1-aa-c0-e7",
        type: "dynamique",
      },
    ]);
    const netstat = parseNetstatAno(
      "\r\nAktive Verbindungen\r\n\r\n  Proto  Lokale Adresse         Remoteadresse          Status           PID\r\n  TCP    0.0.0.0:135            0.0.0.0:0              ABHÖREN          1128\r\n  UDP    [::]:500               *:*                                    3464\r\n",
    );
    expect(netstat.unparsed).toEqual([]);
    expect(netstat.rows.map((r) => [r.protocol, r.state, r.pid])).toEqual([
      ["TCP", "ABHÖREN", 1128],
      ["UDP", "", 3464],
    ]);
  });

  test("sc queryex read by position: translated labels change nothing", () => {
    const text = [
      "",
      "SERVICE_NAME: Dhcp",
      "ANZEIGENAME: DHCP-Client",
      "        TYP                : 20  WIN32_SHARE_PROCESS",
      "        STATUS             : 4  RUNNING",
      "                                (STOPPABLE, NOT_PAUSABLE, ACCEPTS_SHUTDOWN)",
      "        WIN32_EXITCODE     : 0  (0x0)",
      "        DIENST_EXITCODE    : 0  (0x0)",
      "        CHECKPOINT         : 0x0",
      "        WAIT_HINT          : 0x0",
      "        PID                : 1520",
      "        FLAGS              :",
      "",
    ].join("\r\n");
    const parsed = parseScQuery(text);
    expect(parsed.unparsed).toEqual([]);
    expect(parsed.rows).toEqual([
      {
        name: "Dhcp",
        displayName: "DHCP-Client",
        type: "WIN32_SHARE_PROCESS",
        state: "RUNNING",
        pid: "1520",
        win32ExitCode: "0",
      },
    ]);
  });

  test("ipconfig /all in French: colon right after the dot leaders, values at one column", () => {
    const text = [
      "",
      "Configuration IP de Windows",
      "",
      "Carte Ethernet Ethernet :",
      "",
      "   Suffixe DNS propre à la connexion. . . : home",
      "   Adresse IPv6 de liaison locale. . . . .: fe80::e1d3:81bf:d626:3084%4",
      "   Adresse IPv4. . . . . . . . . . . . . .: 192.168.137.1",
      "   Passerelle par défaut. . . . . . . . . :",
      "   Serveurs DNS. . .  . . . . . . . . . . : 192.168.1.1",
      `${" ".repeat(44)}fd00::1`,
      "",
    ].join("\r\n");
    const parsed = parseIpconfigAll(text);
    expect(parsed.unparsed).toEqual([]);
    expect(parsed.rows.map((r) => [r.section, r.key, r.value])).toEqual([
      ["Carte Ethernet Ethernet", "Suffixe DNS propre à la connexion", "home"],
      ["Carte Ethernet Ethernet", "Adresse IPv6 de liaison locale", "fe80::e1d3:81bf:d626:3084%4"],
      ["Carte Ethernet Ethernet", "Adresse IPv4", "192.168.137.1"],
      ["Carte Ethernet Ethernet", "Passerelle par défaut", ""],
      ["Carte Ethernet Ethernet", "Serveurs DNS", "192.168.1.1; fd00::1"],
    ]);
  });
});

describe("console code pages", () => {
  test("OEM pages 437 and 850 by table, 866 and 936 through TextDecoder, UTF-16 by its BOM", () => {
    const french = "Nom de l'hôte: Mémoire virtuelle\u00a0: taille maximale Répertoire Windows";
    expect(decodeCodePage(encodeCodePage(french, 850), 850)).toEqual({ text: french, codePage: "850" });
    const english = "Ç ü é £ ¥ ƒ ñ ░ │ ╗ α ß µ";
    expect(decodeCodePage(encodeCodePage(english, 437), 437).text).toBe(english);
    expect(decodeCodePage(Uint8Array.from([0x88, 0xac, 0xef]), 866).text).toBe("Имя");
    expect(decodeCodePage(Uint8Array.from([0xd6, 0xf7, 0xbb, 0xfa]), 936).text).toBe("主机");
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("Hôte", "utf16le")]);
    expect(decodeCodePage(utf16, 850)).toEqual({ text: "Hôte", codePage: "1200" });
  });

  test("every byte of 437 and 850 decodes (no replacement character); an unknown page is said so", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    for (const page of [437, 850, 866, 1252]) {
      expect(isKnownCodePage(page)).toBe(true);
      expect(decodeCodePage(all, page).text).not.toContain("\uFFFD");
    }
    expect(decodeCodePage(Buffer.from("abc"), 1361)).toEqual({
      text: "abc",
      codePage: "1361 unknown (read as UTF-8)",
    });
    expect(decodeCodePage(Buffer.from("abc"), undefined).codePage).toBe("unknown (read as UTF-8)");
  });

  test("the OEM default from the registry when chcp gives no answer", () => {
    const reg =
      "\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Nls\\CodePage\r\n    OEMCP    REG_SZ    850\r\n\r\n";
    expect(oemCodePage(reg)).toBe(850);
    expect(oemCodePage("")).toBeUndefined();
  });

  test("chcp's answer in any language", () => {
    expect(parseChcp("Active code page: 437\r\n")).toBe(437);
    expect(parseChcp("Page de codes active\u00a0: 850\r\n")).toBe(850);
    expect(parseChcp("Aktive Codepage: 850.\r\n")).toBe(850);
    expect(parseChcp("Текущая кодовая страница: 866\r\n")).toBe(866);
    expect(parseChcp("活动代码页: 936\r\n")).toBe(936);
    expect(parseChcp("")).toBeUndefined();
  });
});
