import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { fixedClock, isCustodyError, SUMMARY_COLUMNS } from "@custody/core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  COLLECTOR_LOG,
  type CollectionSummaryRow,
  type Collector,
  collectDevice,
  directorySink,
  hashingSink,
  parseCsv,
} from "../src/index.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "collect-runner-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function collector(name: string, rank: number, collect: Collector["collect"]): Collector {
  return { name, platform: "linux", volatilityRank: rank, source: `test source ${name}`, collect };
}

const row = (rows: CollectionSummaryRow[], name: string): CollectionSummaryRow => {
  const found = rows.find((r) => r.dataPoint === name);
  if (!found) throw new Error(`no row for ${name}`);
  return found;
};

/** A readable that produces a chunk and then never ends: a hung pipe or FIFO. */
function neverEnding(): Readable {
  let pushed = false;
  return new Readable({
    read() {
      if (!pushed) this.push(Buffer.from("partial bytes"));
      pushed = true;
    },
  });
}

describe("collectDevice runner", () => {
  test("runs by volatility, isolates a failure, cuts a hang, records not-present and the run log", async () => {
    const order: string[] = [];
    const sink = directorySink(join(dir, "a"));
    const result = await collectDevice({
      sink,
      clock: fixedClock("2026-11-21T10:00:00Z", 1),
      limits: { timeoutMs: 300 },
      collectors: [
        collector("Rest", 5, async (ctx) => {
          order.push("Rest");
          await ctx.emit("ok.txt", "fine", { source: "memory" });
        }),
        collector("Broken", 3, async () => {
          order.push("Broken");
          throw new Error("boom");
        }),
        collector("Hangs", 2, async (ctx) => {
          order.push("Hangs");
          await ctx.emit("first.txt", "before the hang", { source: "memory" });
          await new Promise(() => {});
        }),
        collector("HangsInStream", 2, async (ctx) => {
          order.push("HangsInStream");
          await ctx.emit("stream.txt", neverEnding(), { source: "a pipe that never ends" });
        }),
        collector("Absent", 4, async () => {
          order.push("Absent");
          const { CustodyError } = await import("@custody/core");
          throw new CustodyError("ERR_NOT_PRESENT", "no such source here");
        }),
        collector("Network", 0, async (ctx) => {
          order.push("Network");
          await ctx.emit("conn.csv", "a,b\r\n", { source: "/proc/net/tcp" });
        }),
      ],
    });
    expect(order).toEqual(["Network", "Hangs", "HangsInStream", "Broken", "Absent", "Rest"]);
    expect(result.rows.map((r) => r.dataPoint)).toEqual([
      "Network",
      "Hangs",
      "HangsInStream",
      "Broken",
      "Absent",
      "Rest",
      COLLECTOR_LOG,
    ]);
    expect(row(result.rows, "Network")).toMatchObject({ status: "ok", files: 1, bytes: 5 });
    expect(row(result.rows, "Hangs")).toMatchObject({
      status: "partial",
      errorCode: "ERR_TIMEOUT",
      files: 1,
    });
    expect(row(result.rows, "HangsInStream")).toMatchObject({
      status: "partial",
      errorCode: "ERR_TIMEOUT",
      files: 1,
      bytes: 13,
    });
    expect(row(result.rows, "Broken")).toMatchObject({
      status: "failed",
      errorCode: "ERR_COLLECT_FAILED",
      files: 0,
    });
    expect(row(result.rows, "Absent")).toMatchObject({ status: "not-present", files: 0 });
    expect(row(result.rows, "Absent").errorCode).toBeUndefined();
    expect(row(result.rows, "Rest")).toMatchObject({ status: "ok", source: "test source Rest" });
    // The truncated stream is a complete entry in the sink, not a torn one.
    expect(await readFile(join(dir, "a", "HangsInStream", "stream.txt"), "utf8")).toBe("partial bytes");
    const summary = parseCsv(await readFile(join(dir, "a", COLLECTOR_LOG, "CollectionSummary.csv"), "utf8"));
    // The same writer, hence the same columns, as the package's own CollectionSummary.csv.
    expect(summary[0]).toEqual([...SUMMARY_COLUMNS]);
    expect(summary.slice(1).map((r) => r[2])).toEqual([
      "ok",
      "partial",
      "partial",
      "failed",
      "not-present",
      "ok",
    ]);
    const log = (await readFile(join(dir, "a", COLLECTOR_LOG, "CollectorLog.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(log[0]).toMatchObject({ event: "collection-start" });
    expect(
      log.some((e) => e.event === "data-point-end" && e.dataPoint === "Broken" && e.error.includes("boom")),
    ).toBe(true);
    const clock = parseCsv(await readFile(join(dir, "a", COLLECTOR_LOG, "ClockState.csv"), "utf8"));
    expect(clock.map((r) => r[0])).toEqual(["phase", "start", "end"]);
  });

  test("a timed-out collector cannot write into the package afterwards", async () => {
    const sink = hashingSink();
    let late: unknown;
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let lateSettled: () => void = () => {};
    const settled = new Promise<void>((resolve) => {
      lateSettled = resolve;
    });
    await collectDevice({
      sink,
      limits: { timeoutMs: 100 },
      collectors: [
        collector("Slow", 1, async (ctx) => {
          await gate;
          late = await ctx.emit("late.txt", "too late", { source: "memory" }).catch((e: unknown) => e);
          lateSettled();
        }),
      ],
    });
    release();
    await settled;
    expect(isCustodyError(late, "ERR_ABORTED")).toBe(true);
    expect(sink.items.map((i) => i.path)).not.toContain("Slow/late.txt");
  });

  test("per-file and per-data-point caps truncate and mark the data point partial", async () => {
    const sink = hashingSink();
    const result = await collectDevice({
      sink,
      limits: { maxFileBytes: 10, maxDataPointBytes: 15 },
      collectors: [
        collector("Capped", 5, async (ctx) => {
          const a = await ctx.emit("a.bin", Buffer.alloc(100, 1), { source: "memory" });
          const b = await ctx.emit("b.bin", Readable.from([Buffer.alloc(4, 2), Buffer.alloc(4, 3)]), {
            source: "memory",
          });
          const c = await ctx.emit("c.bin", "more", { source: "memory" });
          expect(a).toMatchObject({ kind: "written", bytes: 10, truncated: true });
          expect(b).toMatchObject({ kind: "written", bytes: 5, truncated: true });
          expect(c).toMatchObject({ kind: "unreadable", code: "ERR_SIZE_LIMIT" });
        }),
      ],
    });
    expect(row(result.rows, "Capped")).toMatchObject({
      status: "partial",
      errorCode: "ERR_SIZE_LIMIT",
      files: 2,
      bytes: 15,
    });
    expect(sink.items.find((i) => i.path === "Capped/b.bin")?.size).toBe(5);
  });

  test("emitFile: absent is a fact, a symlink out of scope is refused, a FIFO is never opened", async () => {
    const root = join(dir, "scope");
    await mkdir(join(root, "home"), { recursive: true });
    await writeFile(join(root, "secret"), "outside the home");
    await writeFile(join(root, "home", "inside"), "inside");
    await symlink(join(root, "secret"), join(root, "home", "escape"));
    await symlink(join(root, "home", "inside"), join(root, "home", "alias"));
    const { execFileSync } = await import("node:child_process");
    execFileSync("mkfifo", [join(root, "home", "fifo")]);
    const sink = hashingSink();
    const results: Record<string, unknown> = {};
    const res = await collectDevice({
      sink,
      limits: { timeoutMs: 5_000 },
      collectors: [
        collector("Files", 5, async (ctx) => {
          const within = [join(root, "home")];
          results.absent = await ctx.emitFile("x", join(root, "home", "nope"), {
            source: "x",
            followWithin: within,
          });
          results.escape = await ctx.emitFile("escape", join(root, "home", "escape"), {
            source: "escape",
            followWithin: within,
          });
          results.alias = await ctx.emitFile("alias", join(root, "home", "alias"), {
            source: "alias",
            followWithin: within,
          });
          results.noFollow = await ctx.emitFile("alias2", join(root, "home", "alias"), { source: "alias" });
          results.fifo = await ctx.emitFile("fifo", join(root, "home", "fifo"), {
            source: "fifo",
            followWithin: within,
          });
        }),
      ],
    });
    expect(results.absent).toMatchObject({ kind: "absent" });
    expect(results.escape).toMatchObject({ kind: "unreadable", code: "ERR_UNSAFE_PATH" });
    expect(results.alias).toMatchObject({ kind: "written", bytes: 6 });
    expect(results.noFollow).toMatchObject({ kind: "unreadable", code: "ERR_UNSAFE_PATH" });
    expect(results.fifo).toMatchObject({ kind: "unreadable", code: "ERR_UNSAFE_PATH" });
    expect(sink.items.filter((i) => i.dataPoint === "Files").map((i) => i.path)).toEqual(["Files/alias"]);
    expect(row(res.rows, "Files")).toMatchObject({ status: "partial", errorCode: "ERR_UNSAFE_PATH" });
  });

  test("unsafe relative paths are refused before anything is written", async () => {
    const sink = hashingSink();
    const result = await collectDevice({
      sink,
      collectors: [
        collector("Evil", 5, async (ctx) => void (await ctx.emit("../../etc/x", "x", { source: "memory" }))),
      ],
    });
    expect(row(result.rows, "Evil")).toMatchObject({ status: "failed", errorCode: "ERR_UNSAFE_PATH" });
    expect(sink.items.filter((i) => i.dataPoint === "Evil")).toEqual([]);
  });

  test("--only: unknown names are a usage error; unselected data points are recorded as skipped", async () => {
    const collectors = [collector("A", 1, async () => {}), collector("B", 2, async () => {})];
    await expect(
      collectDevice({ sink: hashingSink(), collectors, only: ["A", "Nope"] }),
    ).rejects.toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
    const result = await collectDevice({ sink: hashingSink(), collectors, only: ["B"] });
    expect(result.rows.map((r) => [r.dataPoint, r.status])).toEqual([
      ["A", "skipped"],
      ["B", "ok"],
      [COLLECTOR_LOG, "ok"],
    ]);
  });

  test("an abort stops the run with ERR_ABORTED and the rows so far", async () => {
    const controller = new AbortController();
    const collectors = [
      collector("First", 1, async (ctx) => {
        controller.abort();
        await ctx.emit("x", "y", { source: "memory" }).catch(() => undefined);
      }),
      collector("Second", 2, async () => {
        throw new Error("must not run");
      }),
    ];
    const error = await collectDevice({
      sink: hashingSink(),
      collectors,
      abortSignal: controller.signal,
    }).catch((e: unknown) => e);
    expect(isCustodyError(error, "ERR_ABORTED")).toBe(true);
    const rows = (error as { details: { rows: CollectionSummaryRow[] } }).details.rows;
    expect(rows.map((r) => r.dataPoint)).toEqual(["First"]);
  });

  test("progress events name the data point, files and bytes", async () => {
    const events: string[] = [];
    await collectDevice({
      sink: hashingSink(),
      collectors: [
        collector("P", 1, async (ctx) => void (await ctx.emit("f", "12345", { source: "memory" }))),
      ],
      onProgress: (e) =>
        events.push(
          e.kind === "file"
            ? `file ${e.dataPoint} ${e.files} ${e.bytes}`
            : e.kind === "end"
              ? `end ${e.row.dataPoint} ${e.row.status}`
              : `start ${e.dataPoint}`,
        ),
    });
    expect(events).toEqual(["start P", "file P 1 5", "end P ok"]);
  });
});
