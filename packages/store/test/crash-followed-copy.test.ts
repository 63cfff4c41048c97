import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { FsEvidenceStore } from "@custody/store";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { linesOf, runUntilKilled } from "./kill-child.js";

// A process storing large files, each hashed while the kernel still copies it (an early copy taken
// mid-copy every other time), is SIGKILLed at random points: what it acknowledged is there, whole, and
// nothing is ever stored under a name its bytes do not hash to.

const ROUNDS = Number(process.env.CUSTODY_STORE_CRASH_ROUNDS ?? 12);
const repo = fileURLToPath(new URL("../../../", import.meta.url));
const writer = fileURLToPath(new URL("./fixtures/crash-file-writer.mjs", import.meta.url));

describe("FsEvidenceStore storing whole files, killed while the kernel copies them", () => {
  let dir: string;
  let sources: string[];
  const digests = new Set<string>();
  beforeAll(async () => {
    await promisify(execFile)(
      process.execPath,
      [join(repo, "node_modules/typescript/bin/tsc"), "-b", "packages/store"],
      { cwd: repo },
    );
    dir = await mkdtemp(join(tmpdir(), "custody-crash-copy-"));
    sources = [];
    for (let n = 0; n < 2; n += 1) {
      const file = join(dir, `source-${n}.bin`);
      const bytes = randomBytes(40 * 1024 * 1024 + n);
      await writeFile(file, bytes);
      digests.add(createHash("sha256").update(bytes).digest("hex"));
      sources.push(file);
    }
  }, 180_000);
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(`keeps every acknowledged object whole and names nothing wrongly after ${ROUNDS} kills`, async () => {
    const root = join(dir, "store");
    await FsEvidenceStore.open(root);
    let acknowledged = 0;
    for (let round = 0; round < ROUNDS; round += 1) {
      const out = await runUntilKilled(
        writer,
        [root, String(round), ...sources],
        Math.floor(Math.random() * 600),
      );
      const created = linesOf(out, "created");
      const store = await FsEvidenceStore.open(root);
      expect(await readdir(join(root, "tmp"))).toEqual([]);
      const present = new Set<string>();
      for await (const object of store.list({ prefix: `r${round}/` })) {
        present.add(object.key);
        // the name states the digest the store computed; both are the source's, and the bytes agree
        const named = object.key.slice(object.key.indexOf("-") + 1);
        expect(object.sha256).toBe(named);
        expect(digests.has(named)).toBe(true);
        const data = await readFile(
          join(root, "objects", `r${round}`, `=${object.key.slice(object.key.indexOf("/") + 1)}`, "data"),
        );
        expect(createHash("sha256").update(data).digest("hex")).toBe(named);
      }
      for (const key of created) expect(present.has(key)).toBe(true);
      acknowledged += created.length;
    }
    expect(acknowledged).toBeGreaterThan(0);
  }, 600_000);
});
