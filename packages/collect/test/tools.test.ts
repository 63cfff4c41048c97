import { readdir, readFile } from "node:fs/promises";
import fc from "fast-check";
import { describe, expect, test, vi } from "vitest";
import { captureTool, commandLine, runTool } from "../src/command.js";
import {
  type Collector,
  collectDevice,
  hashingSink,
  installedProgramsFromReg,
  parseApkInstalled,
  parseArpA,
  parseCsv,
  parseDisplayDns,
  parseDpkgStatus,
  parseGroup,
  parseHeaderedCsv,
  parseIpconfigAll,
  parseNetLocalgroupList,
  parseNetLocalgroupMembers,
  parseNetstatAno,
  parsePasswd,
  parsePowerShellTable,
  parseProcNetSockets,
  parseRegQuery,
  parseScQuery,
  parseSystemInfo,
  SCHTASKS_TASK_TO_RUN,
} from "../src/index.js";
import { parseProcStat } from "../src/linux/procfs.js";
import { parseUtmp } from "../src/linux/utmp.js";

const linux = process.platform === "linux";

function collector(collect: Collector["collect"]): Collector {
  return { name: "Tools", platform: "linux", volatilityRank: 5, source: "test", collect };
}

async function processesWithArgs(args: string): Promise<number> {
  let count = 0;
  for (const pid of (await readdir("/proc")).filter((n) => /^\d+$/.test(n))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmdline.replaceAll("\0", " ").trim() === args) count++;
  }
  return count;
}

describe.runIf(linux)(
  "tools run without a shell, from the system folders, with their command line recorded",
  () => {
    test("output streamed, absent tool, failing tool", async () => {
      const outcomes: string[] = [];
      const sink = hashingSink();
      const result = await collectDevice({
        sink,
        collectors: [
          collector(async (ctx) => {
            outcomes.push(await runTool(ctx, "uname.txt", "uname", ["-s"]));
            outcomes.push(await runTool(ctx, "none.txt", "custody-no-such-tool", []));
            outcomes.push(await runTool(ctx, "false.txt", "false", []));
            const captured = await captureTool(ctx, "echo.txt", "echo", ["a b", "c"]);
            outcomes.push(captured ?? "absent");
          }),
        ],
      });
      expect(outcomes).toEqual(["ran", "absent", "failed", "a b c\n"]);
      const row = result.rows[0];
      expect(row?.status).toBe("partial");
      expect(row?.errorCode).toBe("ERR_COLLECT_FAILED");
      expect(row?.source).toMatch(/\/uname -s/);
      expect(row?.source).toMatch(/\/echo "a b" c/);
      expect(sink.items.find((i) => i.path === "Tools/uname.txt")?.size).toBe("Linux\n".length);
      expect(sink.items.some((i) => i.path === "Tools/none.txt")).toBe(false);
    });

    test("a hanging tool is killed when its data point times out", async () => {
      const marker = "31.4159";
      const result = await collectDevice({
        sink: hashingSink(),
        limits: { timeoutMs: 300 },
        collectors: [collector(async (ctx) => void (await runTool(ctx, "sleep.txt", "sleep", [marker])))],
      });
      expect(result.rows[0]).toMatchObject({ status: "partial", errorCode: "ERR_TIMEOUT" });
      // The kill is asynchronous: wait for the process to be gone (polling), not for a fixed time.
      await vi.waitFor(async () => expect(await processesWithArgs(`sleep ${marker}`)).toBe(0), {
        timeout: 30_000,
        interval: 25,
      });
    });

    test("command lines quote what a shell would split", () => {
      expect(commandLine("/usr/sbin/nft", ["list", "ruleset"])).toBe("/usr/sbin/nft list ruleset");
      expect(
        commandLine("reg", ["query", "HKLM\\Software\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon"]),
      ).toBe('reg query "HKLM\\Software\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon"');
    });
  },
);

describe("parsers take hostile input without throwing", () => {
  const parsers: [string, (text: string) => unknown][] = [
    ["netstat", parseNetstatAno],
    ["arp", parseArpA],
    ["ipconfig", parseIpconfigAll],
    ["displaydns", parseDisplayDns],
    ["reg", parseRegQuery],
    ["sc", parseScQuery],
    ["localgroup list", parseNetLocalgroupList],
    ["localgroup members", parseNetLocalgroupMembers],
    ["systeminfo", parseSystemInfo],
    ["headered csv", parseHeaderedCsv],
    ["powershell table", parsePowerShellTable],
    ["csv", parseCsv],
    ["proc net", (t) => parseProcNetSockets(t, "tcp6")],
    ["passwd", parsePasswd],
    ["group", parseGroup],
    ["dpkg", parseDpkgStatus],
    ["apk", parseApkInstalled],
    ["proc stat", parseProcStat],
  ];
  const text = fc.oneof(
    fc.string({ maxLength: 400 }),
    fc
      .array(
        fc.constantFrom(
          "  TCP ",
          ":",
          "\r\n",
          "\n",
          " . . : ",
          '"',
          ",",
          "----",
          "HKEY_X",
          "    ",
          "REG_SZ",
          "*",
          "(",
          ")",
          "SERVICE_NAME: ",
          "\uFEFF",
          "ffff",
        ),
        { maxLength: 60 },
      )
      .map((a) => a.join("")),
  );
  for (const [name, parse] of parsers) {
    test(name, () => {
      fc.assert(
        fc.property(text, (input) => void parse(input)),
        { numRuns: 300 },
      );
    });
  }
  // Every Windows parser accounts for every non-blank line: used, recognised as structure, or returned
  // as unparsed with its own text and line number. Nothing is dropped silently, nothing invented.
  const windowsParsers: [
    string,
    (text: string) => { unparsed: { line: number; text: string }[]; consumed: number },
  ][] = [
    ["netstat", parseNetstatAno],
    ["arp", parseArpA],
    ["ipconfig", parseIpconfigAll],
    ["displaydns", parseDisplayDns],
    ["reg", parseRegQuery],
    ["uninstall", installedProgramsFromReg],
    ["sc", parseScQuery],
    ["localgroup list", parseNetLocalgroupList],
    ["localgroup members", parseNetLocalgroupMembers],
    ["systeminfo", parseSystemInfo],
    ["headered csv", (t) => parseHeaderedCsv(t)],
    ["schtasks csv", (t) => parseHeaderedCsv(t, { quoting: "unescaped", freeColumn: SCHTASKS_TASK_TO_RUN })],
    ["tasklist csv", (t) => parseHeaderedCsv(t, { quoting: "unescaped", freeColumn: -1 })],
    ["powershell table", parsePowerShellTable],
  ];
  for (const [name, parse] of windowsParsers) {
    test(`${name}: no line lost`, () => {
      fc.assert(
        fc.property(text, (input) => {
          const all = input.replace(/^\uFEFF/, "").split(/\r*\n|\r/);
          const { unparsed, consumed } = parse(input);
          for (const u of unparsed) expect(all[u.line - 1]).toBe(u.text);
          expect(consumed + unparsed.length).toBe(all.filter((l) => l.trim() !== "").length);
        }),
        { numRuns: 300 },
      );
    });
  }
  test("utmp on random bytes", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => void parseUtmp(Buffer.from(bytes))));
  });
});
