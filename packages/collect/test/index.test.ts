import * as collect from "@custody/collect";
import { describe, expect, test } from "vitest";

describe("@custody/collect public surface", () => {
  test("exports exactly the documented values", () => {
    expect(Object.keys(collect).sort()).toEqual([
      "COLLECTOR_LOG",
      "DEFAULT_LIMITS",
      "SCHTASKS_TASK_TO_RUN",
      "SYSTEMINFO_LANGUAGES",
      "collectDevice",
      "csvCell",
      "csvLine",
      "csvStream",
      "decodeCodePage",
      "deviceIdentity",
      "directorySink",
      "hashingSink",
      "installedProgramsFromReg",
      "isKnownCodePage",
      "linuxCollectors",
      "packageWriterSink",
      "parseApkInstalled",
      "parseArpA",
      "parseChcp",
      "parseCsv",
      "parseDisplayDns",
      "parseDpkgStatus",
      "parseGroup",
      "parseHeaderedCsv",
      "parseIpconfigAll",
      "parseNetLocalgroupList",
      "parseNetLocalgroupMembers",
      "parseNetstatAno",
      "parsePasswd",
      "parsePowerShellTable",
      "parseProcNetSockets",
      "parseRegQuery",
      "parseScQuery",
      "parseSystemInfo",
      "platformCollectors",
      "readClockState",
      "recordsToCsv",
      "toCsv",
      "windowsCollectors",
    ]);
  });

  test("both platforms cover every data point of the investigation package, in volatility order", () => {
    const expected = [
      "Autoruns",
      "InstalledPrograms",
      "NetworkConnections",
      "Prefetch",
      "Processes",
      "ScheduledTasks",
      "SecurityEventLog",
      "Services",
      "SmbSessions",
      "SystemInformation",
      "TempDirectories",
      "UsersAndGroups",
    ];
    for (const list of [collect.linuxCollectors(), collect.windowsCollectors()]) {
      expect(list.map((c) => c.name).sort()).toEqual(expected);
      const network = list.find((c) => c.name === "NetworkConnections");
      const processes = list.find((c) => c.name === "Processes");
      const rest = list.filter((c) => !["NetworkConnections", "Processes", "SmbSessions"].includes(c.name));
      expect(network?.volatilityRank).toBe(0);
      expect(processes?.volatilityRank).toBe(1);
      for (const c of rest) expect(c.volatilityRank).toBeGreaterThan(1);
      for (const c of list) expect(c.source.length).toBeGreaterThan(0);
    }
    expect(collect.linuxCollectors().every((c) => c.platform === "linux")).toBe(true);
    expect(collect.windowsCollectors().every((c) => c.platform === "win32")).toBe(true);
  });

  test("the platform switch refuses an unsupported platform with a coded error", () => {
    expect(() => collect.platformCollectors("aix")).toThrow(
      expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
    );
    expect(collect.platformCollectors("linux").length).toBe(12);
  });
});
