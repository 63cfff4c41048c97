import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { FsEvidenceStore } from "@custody/store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { linesOf, runUntilKilled } from "./kill-child.js";

const ROUNDS = Number(process.env.CUSTODY_STORE_CRASH_ROUNDS ?? 30);
const repo = fileURLToPath(new URL("../../../", import.meta.url));
const writer = fileURLToPath(new URL("./fixtures/crash-writer.mjs", import.meta.url));
const racer = fileURLToPath(new URL("./fixtures/race-writer.mjs", import.meta.url));

function expectedDigest(seed: string, size: number): string {
  const hash = createHash("sha256");
  let left = size;
  for (let n = 0; left > 0; n += 1) {
    const length = Math.min(left, 256 * 1024);
    hash.update(Buffer.alloc(length, createHash("sha512").update(`${seed}:${n}`).digest()));
    left -= length;
  }
  return hash.digest("hex");
}

/** Runs the writer until it has been up for `delayMs`, then SIGKILLs it; returns what it acknowledged. */
async function runAndKill(
  dir: string,
  round: number,
  delayMs: number,
): Promise<{ created: string[]; deleting: string[] }> {
  const out = await runUntilKilled(writer, [dir, String(round)], delayMs);
  return { created: linesOf(out, "created"), deleting: linesOf(out, "deleting") };
}

describe("FsEvidenceStore across real processes", () => {
  let dir: string;
  beforeAll(async () => {
    // The writer runs the built package, as an embedding process would.
    await promisify(execFile)(
      process.execPath,
      [join(repo, "node_modules/typescript/bin/tsc"), "-b", "packages/store"],
      {
        cwd: repo,
      },
    );
    dir = await mkdtemp(join(tmpdir(), "custody-crash-"));
  }, 180_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(`shows each object whole or not at all after ${ROUNDS} kills at random points`, async () => {
    let acknowledged = 0;
    for (let round = 0; round < ROUNDS; round += 1) {
      const { created, deleting } = await runAndKill(dir, round, Math.floor(Math.random() * 400));
      const store = await FsEvidenceStore.open(dir);
      expect(await readdir(join(dir, "tmp"))).toEqual([]);
      const present = new Set<string>();
      for await (const object of store.list({ prefix: `r${round}/` })) {
        present.add(object.key);
        const [, , i] = /^r(\d+)\/k(\d+)$/.exec(object.key) ?? [];
        const seed = `${object.key.slice(1, object.key.indexOf("/"))}/${i}`;
        expect(object.sha256).toBe(expectedDigest(seed, object.size));
        for await (const _ of await store.read(object.key)) {
          // reading to the end proves the bytes match the record
        }
      }
      for (const key of created) if (!deleting.includes(key)) expect(present.has(key)).toBe(true);
      acknowledged += created.length;
    }
    expect(acknowledged).toBeGreaterThan(0);
    const store = await FsEvidenceStore.open(dir);
    const verified: string[] = [];
    for await (const result of store.verify()) verified.push(result.kind);
    expect(verified.length).toBeGreaterThan(0);
    expect(verified.filter((kind) => kind !== "ok")).toEqual([]);
  }, 600_000);

  it("lets exactly one of several processes racing for one key win", async () => {
    const raceDir = await mkdtemp(join(tmpdir(), "custody-race-"));
    try {
      const startAt = Date.now() + 1500;
      const outputs = await Promise.all(
        Array.from({ length: 4 }, (_, id) =>
          promisify(execFile)(process.execPath, [racer, raceDir, String(id), String(startAt)]).then((r) =>
            r.stdout.trim(),
          ),
        ),
      );
      const winners = outputs.filter((o) => o.startsWith("won "));
      expect(winners).toHaveLength(1);
      expect(outputs.filter((o) => o === "lost ERR_ALREADY_EXISTS")).toHaveLength(3);
      const store = await FsEvidenceStore.open(raceDir);
      expect(`won ${(await store.head("contested")).sha256}`).toBe(winners[0]);
      const verified: string[] = [];
      for await (const result of store.verify()) verified.push(result.kind);
      expect(verified.length).toBeGreaterThan(0);
      expect(verified.filter((kind) => kind !== "ok")).toEqual([]);
    } finally {
      await rm(raceDir, { recursive: true, force: true });
    }
  }, 60_000);
});
