import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatCollectionSummary, SUMMARY_COLUMNS, syncDirectory, writeFileAtomic } from "@custody/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "custody-atomic-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("writeFileAtomic", () => {
  it("replaces a file whole, with the mode asked for, and leaves no temp file", async () => {
    const file = join(dir, "vault.json");
    await writeFile(file, "old");
    await writeFileAtomic(file, "new", { mode: 0o600 });
    expect(await readFile(file, "utf8")).toBe("new");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await readdir(dir)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    await syncDirectory(dir);
  });

  it("exclusive: never replaces an existing file (ERR_ALREADY_EXISTS), and leaves no temp file", async () => {
    const file = join(dir, "identity.pem");
    await writeFile(file, "planted by someone else");
    await expect(writeFileAtomic(file, "mine", { exclusive: true })).rejects.toMatchObject({
      code: "ERR_ALREADY_EXISTS",
    });
    expect(await readFile(file, "utf8")).toBe("planted by someone else");
    expect((await readdir(dir)).filter((n) => n.endsWith(".tmp"))).toEqual([]);
    const fresh = join(dir, "fresh.pem");
    await writeFileAtomic(fresh, "mine", { exclusive: true, mode: 0o600 });
    expect(await readFile(fresh, "utf8")).toBe("mine");
    expect((await stat(fresh)).mode & 0o777).toBe(0o600);
  });

  it("a missing directory is a coded error", async () => {
    await expect(writeFileAtomic(join(dir, "absent", "x"), "x")).rejects.toMatchObject({
      code: "ERR_NOT_FOUND",
    });
  });
});

describe("formatCollectionSummary", () => {
  it("is RFC 4180 with CRLF, and keeps a formula a cell, not a command", () => {
    const csv = formatCollectionSummary([
      {
        dataPoint: "Processes",
        source: '=cmd|"/c calc"',
        status: "failed",
        errorCode: "ERR_COLLECT_FAILED",
        startedAt: "2026-01-02T03:04:05.000Z",
        durationMs: 5,
        files: 0,
        bytes: 0,
      },
    ]);
    expect(csv).toBe(
      `${SUMMARY_COLUMNS.join(",")}\r\nProcesses,"'=cmd|""/c calc""",failed,ERR_COLLECT_FAILED,2026-01-02T03:04:05.000Z,5,0,0,,,\r\n`,
    );
  });
});
