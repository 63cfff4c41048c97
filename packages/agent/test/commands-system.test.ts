import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { COMMANDS, encodeFrame } from "@custody/agent/protocol";
import { parseRegQuery } from "@custody/collect";
import { CustodyError } from "@custody/core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { parseProcModules } from "../src/commands/drivers.js";
import { type Row, runCommand } from "../src/commands/index.js";
import { registryRows, regOutputText } from "../src/commands/registry-query.js";
import { runInGroup } from "../src/commands/spawn.js";
import type { AgentPolicy } from "../src/policy-types.js";
import { executeCommand } from "../src/runtime/executor.js";

const linux = process.platform === "linux";
const policy: AgentPolicy = {
  format: "custody.agent.policy/v1",
  tiers: { basic: true, advanced: false },
  paths: { deny: ["/etc/shadow"] },
  maxGetfileBytes: 1,
};

async function rows(
  name: string,
  flags: Record<string, string | true> = {},
  signal = new AbortController().signal,
): Promise<Row[]> {
  const out: Row[] = [];
  for await (const row of runCommand({ name, positional: [], flags }, { cwd: null, signal, policy }))
    out.push(row);
  return out;
}

async function code(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(CustodyError);
  return (error as CustodyError).code;
}

/** Gone or a zombie waiting to be reaped: either way it runs no more. */
async function isGone(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  return stat === undefined || stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
}

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await new Promise((r) => setTimeout(r, 20));
}

describe.runIf(linux)("commands on Linux read the live system", () => {
  const sleeper = spawn("sleep", ["1000"]);
  const server = createServer();
  beforeAll(async () => {
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
  });
  afterAll(() => {
    sleeper.kill("SIGKILL");
    server.close();
  });

  test("processes finds a spawned sleep, and -pid filters to it", async () => {
    const all = await rows("processes");
    const mine = all.find((r) => r.pid === sleeper.pid);
    expect(mine).toMatchObject({ name: "sleep", ppid: process.pid, commandLine: "sleep 1000" });
    expect(await rows("processes", { pid: String(sleeper.pid) })).toEqual([mine]);
  });

  test("connections shows a real TCP listener with its process", async () => {
    const port = (server.address() as { port: number }).port;
    const listening = (await rows("connections")).find((r) => r.localPort === port && r.protocol === "tcp");
    expect(listening).toMatchObject({ localAddress: "127.0.0.1", state: "LISTEN", pid: process.pid });
  });

  test("services, scheduledtasks and persistence rows carry the registry's columns", async () => {
    for (const name of ["services", "scheduledtasks", "persistence"]) {
      for (const row of await rows(name))
        expect(Object.keys(row)).toEqual(expect.arrayContaining([...(COMMANDS[name]?.columns ?? ["?"])]));
    }
  });

  test("drivers lists /proc/modules, or says the kernel shows none", async () => {
    const listed = await rows("drivers").then(
      (out) => out.every((r) => typeof r.name === "string" && typeof r.size === "number"),
      (e: CustodyError) => e.code === "ERR_NOT_PRESENT" && !existsSync("/proc/modules"),
    );
    expect(listed).toBe(true);
  });

  test("findfile from / does not walk /proc or /sys", async () => {
    const found = await rows("findfile", { name: "cmdline", root: "/", max_depth: "3" });
    expect(
      found.filter((r) => String(r.path).startsWith("/proc/") || String(r.path).startsWith("/sys/")),
    ).toEqual([]);
  });

  test("a process row too large for one frame is sent with its long fields cut", async () => {
    const big = spawn("sleep", ["1000", ..."xyz".split("").map((c) => c.repeat(100 * 1024))]);
    try {
      const sent: Row[][] = [];
      const command = {
        cmdId: "c-big",
        sessionId: "s",
        deviceId: "D-0123456789ABCDEFGHJKMNPQRS",
        name: "processes",
        positional: [],
        flags: { pid: String(big.pid) },
        cwd: null,
        timeoutMs: 60_000,
        notAfter: new Date(Date.now() + 60_000).toISOString(),
        issuedBy: "t",
      };
      const result = await executeCommand(command, {
        policy,
        signal: new AbortController().signal,
        upload: async () => {},
        sendRows: async (r) => void sent.push(r),
      });
      expect(result).toMatchObject({ status: "completed", rows: 1 });
      const line = String(sent[0]?.[0]?.commandLine);
      expect(line.length).toBeLessThan(20 * 1024);
      expect(line.endsWith("…[cut]")).toBe(true);
      expect(() =>
        encodeFrame("rows", { cmdId: "c-big", chunk: 0, rows: sent[0] ?? [] }, { seq: 1 }),
      ).not.toThrow();
    } finally {
      big.kill("SIGKILL");
    }
  });

  test("registry is not present off Windows", async () => {
    expect(await code(rows("registry", { key: "HKLM\\Software" }))).toBe("ERR_NOT_PRESENT");
  });

  test("an aborted processes command stops with ERR_ABORTED", async () => {
    const controller = new AbortController();
    controller.abort();
    expect(await code(rows("processes", {}, controller.signal))).toBe("ERR_ABORTED");
  });
});

describe("parsers on recorded output", () => {
  test("/proc/modules", () => {
    const text =
      "nf_tables 376832 1 nft_compat, Live 0xffffffffc0a00000\nveth 40960 0 - Live 0x0000000000000000 (OE)\nbad line\n";
    expect(parseProcModules(text)).toEqual([
      {
        name: "nf_tables",
        size: 376832,
        instances: 1,
        usedBy: "nft_compat",
        state: "Live",
        address: "0xffffffffc0a00000",
        taint: "",
      },
      {
        name: "veth",
        size: 40960,
        instances: 0,
        usedBy: "",
        state: "Live",
        address: "0x0000000000000000",
        taint: "OE",
      },
    ]);
  });

  test("reg query, recorded on Windows", async () => {
    const fixture = fileURLToPath(
      new URL("../../collect/test/fixtures/windows/reg-query-run.txt", import.meta.url),
    );
    const out = registryRows(await readFile(fixture, "utf8"), parseRegQuery);
    expect(out.length).toBeGreaterThan(0);
    for (const row of out) expect(Object.keys(row).sort()).toEqual(["data", "key", "name", "type"]);
    expect(out[0]?.key).toMatch(/^HKEY_/);
    const missing = fileURLToPath(
      new URL("../../collect/test/fixtures/windows/reg-query-missing.txt", import.meta.url),
    );
    expect(() => registryRows(readFileSync(missing, "utf8"), parseRegQuery)).toThrow(
      expect.objectContaining({ code: "ERR_NOT_FOUND" }),
    );
  });

  test("reg.exe's output is decoded in the console code page chcp names, not as UTF-8", async () => {
    const collect = await import("@custody/collect");
    // "Müller" in code page 850, where ü is the byte 0x81 (invalid as UTF-8)
    const line = Buffer.concat([
      Buffer.from("HKEY_CURRENT_USER\\Software\\M", "latin1"),
      Buffer.from([0x81]),
      Buffer.from("ller\r\n", "latin1"),
    ]);
    expect(regOutputText(line, Buffer.from("Active code page: 850\r\n"), collect)).toContain("Müller");
    expect(regOutputText(line, undefined, collect)).not.toContain("Müller");
  });
});

describe.runIf(linux)("child processes", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "agent-group-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  test("an abort kills the tool and its grandchild (its own process group)", async () => {
    const pidFile = join(dir, "grandchild");
    const controller = new AbortController();
    const run = runInGroup("/bin/sh", ["-c", `sleep 1000 & echo $! > ${pidFile}; wait`], {
      signal: controller.signal,
    });
    await waitFor(async () => (await readFile(pidFile, "utf8").catch(() => "")).endsWith("\n"));
    const grandchild = Number((await readFile(pidFile, "utf8")).trim());
    expect(await isGone(grandchild)).toBe(false);
    controller.abort();
    expect(await code(run.done)).toBe("ERR_ABORTED");
    await waitFor(() => isGone(grandchild));
    expect(await isGone(run.pid)).toBe(true);
  });

  test("a tool that finishes returns its output", async () => {
    const { stdout, code: exit } = await runInGroup("/bin/echo", ["hi"], {
      signal: new AbortController().signal,
    }).done;
    expect([stdout.toString(), exit]).toEqual(["hi\n", 0]);
  });
});
