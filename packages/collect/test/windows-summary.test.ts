import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatCollectionSummary, SUMMARY_COLUMNS } from "@custody/core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type Collector, collectDevice, directorySink, parseCsv } from "../src/index.js";
import { parsedCommand } from "../src/windows/console.js";
import { parseNetstatAno } from "../src/windows/network.js";
import { parseSystemInfo } from "../src/windows/system.js";

// A real child process (`cat`, standing in for the Windows tool) writes a real French systeminfo in its
// OEM code page; the summary must say the command, the code page, the label table and what was unparsed.
const frenchSysteminfo = fileURLToPath(
  new URL("./fixtures/windows/real/wesng/7_sp1_x64_enterprise_fr_systeminfo_cmd.txt", import.meta.url),
);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "collect-windows-summary-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.runIf(process.platform === "linux")("CollectionSummary.csv for parsed command output", () => {
  test("code page, parser language and unparsed lines per data point; unparsed lines kept", async () => {
    const netstat = join(dir, "netstat.txt");
    await writeFile(
      netstat,
      "\r\nActive Connections\r\n\r\n  Proto  Local Address  Foreign Address  State  PID\r\n" +
        "  TCP    0.0.0.0:135    0.0.0.0:0    LISTENING    1712\r\n  garbage line\r\n",
    );
    const collectors: Collector[] = [
      {
        name: "SystemInformation",
        platform: "linux",
        volatilityRank: 0,
        source: "systeminfo",
        collect: async (ctx) => {
          await parsedCommand(ctx, {
            raw: "SystemInformation.txt",
            tool: "cat",
            args: [frenchSysteminfo],
            codePage: 850,
            parse: parseSystemInfo,
            csv: "SystemInformation.csv",
          });
        },
      },
      {
        name: "NetworkConnections",
        platform: "linux",
        volatilityRank: 1,
        source: "netstat -ano",
        collect: async (ctx) => {
          await parsedCommand(ctx, {
            raw: "ActiveNetConnections.txt",
            tool: "cat",
            args: [netstat],
            codePage: 437,
            parse: parseNetstatAno,
            csv: "ActiveNetConnections.csv",
          });
        },
      },
    ];
    const out = join(dir, "out");
    const result = await collectDevice({ sink: directorySink(out), collectors });
    const info = result.rows.find((r) => r.dataPoint === "SystemInformation");
    expect(info).toMatchObject({
      status: "ok",
      codePage: "850: cat",
      parserLanguage: "cat: fr",
      unparsedLines: 0,
    });
    expect(info?.source).toMatch(/^systeminfo; \S*cat \S+7_sp1_x64_enterprise_fr_systeminfo_cmd\.txt$/);
    const net = result.rows.find((r) => r.dataPoint === "NetworkConnections");
    expect(net).toMatchObject({ codePage: "437: cat", unparsedLines: 1 });
    expect(net?.parserLanguage).toBeUndefined();
    expect(await readFile(join(out, "NetworkConnections", "ActiveNetConnections.unparsed.txt"), "utf8")).toBe(
      "line 6:   garbage line\r\n",
    );
    // The raw output keeps the tool's bytes; the parsed CSV is UTF-8 with the accents intact.
    expect(await readFile(join(out, "SystemInformation", "SystemInformation.txt"))).toEqual(
      await readFile(frenchSysteminfo),
    );
    const csv = parseCsv(await readFile(join(out, "SystemInformation", "SystemInformation.csv"), "utf8"));
    expect(csv.find((r) => r[1] === "Nom de l'hôte")?.[2]).toBe("WIN-IDKKFN87EL8");

    const summary = parseCsv(formatCollectionSummary(result.rows));
    expect(summary[0]?.slice(-3)).toEqual(["Code page", "Parser language", "Unparsed lines"]);
    expect(summary[0]).toEqual([...SUMMARY_COLUMNS]);
    expect(summary.find((r) => r[0] === "SystemInformation")?.slice(-3)).toEqual([
      "850: cat",
      "cat: fr",
      "0",
    ]);
    expect(summary.find((r) => r[0] === "NetworkConnections")?.slice(-3)).toEqual(["437: cat", "", "1"]);
    expect(summary.find((r) => r[0] === "CollectorLog")?.slice(-3)).toEqual(["", "", ""]);
  });
});
