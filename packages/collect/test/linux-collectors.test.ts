import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFile, mkdtemp, readFile, readlink, realpath, rm, unlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test, vi } from "vitest";
import {
  type CollectionResult,
  collectDevice,
  directorySink,
  linuxCollectors,
  parseCsv,
  type SinkItem,
} from "../src/index.js";

const linux = process.platform === "linux";
const root = process.getuid?.() === 0;
let out: string;
let work: string;
let result: CollectionResult;
let items: readonly SinkItem[];
let server: Server;
let port: number;
let deleted: ChildProcess;
let deletedSha: string;
const marker = `custody-collect-marker-${process.pid}`;

const sha256 = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
const table = async (path: string) => {
  const [header = [], ...rows] = parseCsv(await readFile(join(out, path), "utf8"));
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ""])));
};

beforeAll(async () => {
  if (!linux) return;
  out = await mkdtemp(join(tmpdir(), "collect-out-"));
  work = await mkdtemp(join(tmpdir(), "collect-work-"));
  await writeFile(join("/tmp", marker), "x".repeat(1234));
  server = createServer().listen(0, "127.0.0.1");
  await new Promise((r) => server.once("listening", r));
  port = (server.address() as { port: number }).port;
  // A running program whose file is gone: its hash must still be taken through /proc/<pid>/exe.
  const copy = join(work, "sleeper");
  await copyFile("/bin/sleep", copy);
  await import("node:fs/promises").then((fs) => fs.chmod(copy, 0o755));
  deletedSha = await sha256(copy);
  deleted = spawn(copy, ["60"], { stdio: "ignore", env: { LD_PRELOAD: "/nonexistent/custody-preload.so" } });
  // Unlink only once the program runs from the file (its /proc exe link names it), whatever the load.
  const running = deleted;
  await vi.waitFor(async () => expect(await readlink(`/proc/${running.pid}/exe`)).toBe(copy), {
    timeout: 30_000,
    interval: 10,
  });
  await unlink(copy);
  const sink = directorySink(out);
  result = await collectDevice({ sink });
  items = sink.items;
});

afterAll(async () => {
  if (!linux) return;
  deleted?.kill();
  server?.close();
  await rm(join("/tmp", marker), { force: true });
  await rm(out, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
});

describe.runIf(linux)("Linux collectors on this machine", () => {
  test("every data point has a row, none failed, and each item's digest matches its bytes", async () => {
    const names = linuxCollectors().map((c) => c.name);
    expect(result.rows.map((r) => r.dataPoint).sort()).toEqual([...names, "CollectorLog"].sort());
    for (const row of result.rows) expect(["ok", "partial", "not-present"]).toContain(row.status);
    for (const item of items) expect(await sha256(join(out, item.path))).toBe(item.sha256);
  });

  test("NetworkConnections: our listening socket, joined to our pid", async () => {
    const rows = await table("NetworkConnections/ActiveNetConnections.csv");
    const mine = rows.find(
      (r) => r.protocol === "tcp" && r.localPort === String(port) && r.state === "LISTEN",
    );
    expect(mine).toMatchObject({ localAddress: "127.0.0.1" });
    if (root) expect(mine?.pid).toBe(String(process.pid));
    expect((await table("NetworkConnections/Routes.csv"))[0]).toHaveProperty("gateway");
    expect((await table("NetworkConnections/IpConfig.csv")).some((r) => r.address === "127.0.0.1")).toBe(
      true,
    );
    expect(await readFile(join(out, "NetworkConnections/raw/proc-net-tcp.txt"), "utf8")).toMatch(
      /local_address/,
    );
  });

  test("Processes: our own process with its executable's sha256, and a deleted binary hashed too, LD_PRELOAD kept", async () => {
    const rows = await table("Processes/Processes.csv");
    const self = rows.find((r) => r.pid === String(process.pid));
    expect(self?.exe).toBe(await realpath(process.execPath));
    expect(self?.exeSha256).toBe(await sha256(process.execPath));
    expect(Date.parse(self?.startTime ?? "")).toBeLessThanOrEqual(Date.now());
    expect(Math.abs(Date.parse(self?.startTime ?? "") - (Date.now() - process.uptime() * 1000))).toBeLessThan(
      5_000,
    );
    const gone = rows.find((r) => r.pid === String(deleted.pid));
    expect(gone).toMatchObject({ exeDeleted: "true", exeSha256: deletedSha });
    if (root) expect(gone?.ldPreload).toBe("/nonexistent/custody-preload.so");
  });

  test("UsersAndGroups: accounts without any shadow hash", async () => {
    const users = await table("UsersAndGroups/Users.csv");
    expect(users.find((u) => u.uid === "0")?.user).toBe("root");
    expect((await table("UsersAndGroups/Shadow.csv")).map((r) => r.path)).toEqual([
      "/etc/shadow",
      "/etc/gshadow",
    ]);
    expect(items.some((i) => /shadow$/.test(i.path) && !i.path.endsWith("Shadow.csv"))).toBe(false);
    for (const item of items.filter((i) => i.dataPoint === "UsersAndGroups")) {
      expect(await readFile(join(out, item.path), "utf8")).not.toMatch(/\$(1|5|6|y|2b)\$[^:]+\$/);
    }
  });

  test("TempDirectories: a listing with size and owner, never the contents", async () => {
    const rows = await table("TempDirectories/tmp.csv");
    expect(rows.find((r) => r.path === join("/tmp", marker))).toMatchObject({ type: "file", size: "1234" });
    expect(items.some((i) => i.path.includes(marker))).toBe(false);
  });

  test("SystemInformation, InstalledPrograms, Services, ScheduledTasks, Autoruns have their tables", async () => {
    expect(await readFile(join(out, "SystemInformation/SystemInformation.txt"), "utf8")).toContain(
      hostname(),
    );
    const programs = await table("InstalledPrograms/InstalledPrograms.csv");
    if (items.some((i) => i.path === "InstalledPrograms/raw/dpkg-status"))
      expect(programs.some((p) => p.name === "bash")).toBe(true);
    expect(Object.keys((await table("Services/Services.csv"))[0] ?? {})).toContain("enabled");
    expect(items.some((i) => i.path === "ScheduledTasks/ScheduledTasks.csv")).toBe(true);
    expect(items.some((i) => i.path === "Autoruns/Autoruns.csv")).toBe(true);
    expect(items.some((i) => i.path === "Prefetch/PrefetchFilesList.csv")).toBe(true);
  });
});
